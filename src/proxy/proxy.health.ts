import { Injectable } from '@nestjs/common';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';

@Injectable()
export class ProxyHealth implements HealthIndicator {
  constructor(health: HealthService) {
    health.register('proxy', this);
  }

  async check(): Promise<HealthResult> {
    return { status: 'up' };
  }
}

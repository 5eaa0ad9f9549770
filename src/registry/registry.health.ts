import { Injectable } from '@nestjs/common';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';

@Injectable()
export class RegistryHealth implements HealthIndicator {
  constructor(health: HealthService) {
    health.register('registry', this);
  }

  async check(): Promise<HealthResult> {
    return { status: 'up' };
  }
}

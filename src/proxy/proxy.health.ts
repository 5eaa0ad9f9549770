import { Injectable } from '@nestjs/common';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';
import { ProxyService } from './proxy.service.js';

/** Down while the public listener is not served (port taken, every worker dead). */
@Injectable()
export class ProxyHealth implements HealthIndicator {
  constructor(
    health: HealthService,
    private readonly proxy: ProxyService,
  ) {
    health.register('proxy', this);
  }

  async check(): Promise<HealthResult> {
    const problem = this.proxy.problem;
    return problem ? { status: 'down', reason: problem } : { status: 'up' };
  }
}

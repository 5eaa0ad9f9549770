import { Inject, Injectable } from '@nestjs/common';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';
import { InjectConfig } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { CATALOG, type Catalog } from './catalog.js';

/** Up when the catalog answers a read (for consul: the agent is reachable with our token). */
@Injectable()
export class RegistryHealth implements HealthIndicator {
  constructor(
    health: HealthService,
    @Inject(CATALOG) private readonly catalog: Catalog,
    @InjectConfig() private readonly config: DozenConfig,
  ) {
    health.register('registry', this);
  }

  async check(): Promise<HealthResult> {
    try {
      await this.catalog.check();
      return { status: 'up', details: { catalog: this.config.registry.catalog } };
    } catch (error) {
      return { status: 'down', reason: `catalog (${this.config.registry.catalog}) not reachable: ${(error as Error).message}` };
    }
  }
}

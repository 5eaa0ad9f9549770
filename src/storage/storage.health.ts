import { Inject, Injectable } from '@nestjs/common';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';
import { OBJECT_STORE, type ObjectStore } from './object-store.js';
import { TailerService } from './tailer/tailer.service.js';

/** Storage is up when the configured store answers a cheap request. */
@Injectable()
export class StorageHealth implements HealthIndicator {
  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly tailer: TailerService,
    health: HealthService,
  ) {
    health.register('storage', this);
  }

  async check(): Promise<HealthResult> {
    const driver = this.config.storage.driver;
    try {
      await this.store.check();
      const tail = this.tailer.status();
      return { status: 'up', details: { driver, tail: { files: tail.files.length, lagBytes: tail.lagBytes, lagSeconds: tail.lagSeconds, storeUp: tail.storeUp } } };
    } catch (error) {
      return { status: 'down', reason: `the ${driver} object store does not answer: ${(error as Error).message}` };
    }
  }
}

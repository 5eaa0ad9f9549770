import { access, constants, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Injectable } from '@nestjs/common';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';

@Injectable()
export class StorageHealth implements HealthIndicator {
  constructor(@InjectConfig() private readonly config: DozenConfig, health: HealthService) {
    health.register('storage', this);
  }

  async check(): Promise<HealthResult> {
    const dir = join(resolve(this.config.dataDir), 'objects');
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
      return { status: 'up', details: { driver: this.config.storage.driver, dir } };
    } catch (error) {
      return { status: 'down', reason: `object folder ${dir} is not writable (${(error as NodeJS.ErrnoException).code})` };
    }
  }
}

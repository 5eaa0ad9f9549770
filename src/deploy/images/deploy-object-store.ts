import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Logger } from 'pino';
import { InjectLogger } from '../../common/core.module.js';
import { InjectConfig } from '../../config/config.module.js';
import type { DozenConfig } from '../../config/config.schema.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { objectStore } from '../../storage/object-store.factory.js';
import { StorageService } from '../../storage/storage.service.js';

/**
 * The object store the deploy module keeps release images in. With the
 * storage module in this process it is that module's store (the same
 * metrics); without it, the store `storage.*` configures, made through the
 * same factory (as `dozen tail` does). Hosts share images only when their
 * `storage` config names one shared store (an OSS bucket): the `local`
 * driver is a folder of this host.
 */
@Injectable()
export class DeployObjectStore {
  private store: ObjectStore | undefined;

  constructor(
    private readonly modules: ModuleRef,
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() private readonly logger: Logger,
  ) {}

  get(): ObjectStore {
    if (!this.store) this.store = this.storageModuleStore() ?? objectStore(this.config, this.logger);
    return this.store;
  }

  private storageModuleStore(): ObjectStore | null {
    if (!this.config.modules.includes('storage')) return null;
    return this.modules.get(StorageService, { strict: false }).store;
  }
}

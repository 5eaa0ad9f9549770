import { join, resolve } from 'node:path';
import { Module } from '@nestjs/common';
import type { DozenConfig } from '../config/config.schema.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import { moduleHealthController } from '../common/module-health.controller.js';
import { LocalObjectStore } from './local.object-store.js';
import { OBJECT_STORE, type ObjectStore } from './object-store.js';
import { StorageController } from './storage.controller.js';
import { StorageHealth } from './storage.health.js';
import { StorageService } from './storage.service.js';

function objectStore(config: DozenConfig): ObjectStore {
  return new LocalObjectStore(join(resolve(config.dataDir), 'objects'));
}

@Module({
  controllers: [moduleHealthController('storage'), StorageController],
  providers: [StorageHealth, StorageService, { provide: OBJECT_STORE, inject: [DOZEN_CONFIG], useFactory: objectStore }],
  exports: [StorageService],
})
export class StorageModule {}

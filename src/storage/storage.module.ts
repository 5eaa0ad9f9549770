import { join, resolve } from 'node:path';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DozenConfig } from '../config/config.schema.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import { moduleHealthController } from '../common/module-health.controller.js';
import { LocalObjectStore } from './local.object-store.js';
import { OBJECT_STORE, type ObjectStore } from './object-store.js';
import { StorageController } from './storage.controller.js';
import { TailOffset } from './storage.entity.js';
import { StorageHealth } from './storage.health.js';
import { StorageService } from './storage.service.js';
import { TailerController } from './tailer/tailer.controller.js';
import { TailerService } from './tailer/tailer.service.js';

/** The configured object store: a folder under the data dir, or an OSS bucket. */
export function objectStore(config: DozenConfig): ObjectStore {
  return new LocalObjectStore(join(resolve(config.dataDir), 'objects'));
}

@Module({
  imports: [TypeOrmModule.forFeature([TailOffset])],
  controllers: [moduleHealthController('storage'), StorageController, TailerController],
  providers: [StorageHealth, StorageService, TailerService, { provide: OBJECT_STORE, inject: [DOZEN_CONFIG], useFactory: objectStore }],
  exports: [StorageService],
})
export class StorageModule {}

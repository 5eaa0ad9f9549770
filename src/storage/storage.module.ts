import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DOZEN_CONFIG } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { LOGGER } from '../common/core.module.js';
import { moduleHealthController } from '../common/module-health.controller.js';
import { MeteredObjectStore } from './metered.object-store.js';
import { OBJECT_STORE } from './object-store.js';
import { objectStore } from './object-store.factory.js';
import { StorageMetrics } from './storage-metrics.js';
import { StorageController } from './storage.controller.js';
import { TailOffset } from './storage.entity.js';
import { StorageHealth } from './storage.health.js';
import { StorageResolver } from './storage.resolver.js';
import { StorageService } from './storage.service.js';
import { StorageTokenRoutes } from './storage.token-routes.js';
import { TailerController } from './tailer/tailer.controller.js';
import { TailerService } from './tailer/tailer.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([TailOffset])],
  controllers: [moduleHealthController('storage'), StorageController, TailerController],
  providers: [StorageHealth, StorageService, StorageResolver, StorageTokenRoutes, TailerService, StorageMetrics, { provide: OBJECT_STORE, inject: [DOZEN_CONFIG, LOGGER, StorageMetrics], useFactory: meteredStore }],
  exports: [StorageService],
})
export class StorageModule {}

/** The configured store, timed and counted. */
function meteredStore(config: DozenConfig, logger: Logger, metrics: StorageMetrics): MeteredObjectStore {
  const driver = config.storage.driver;
  return new MeteredObjectStore(objectStore(config, logger, (request) => metrics.retried(driver, request)), driver, metrics);
}

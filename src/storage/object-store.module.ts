import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/core.module.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { LogAppenders } from './log-appenders.js';
import { MeteredObjectStore } from './metered.object-store.js';
import { OBJECT_STORE } from './object-store.js';
import { objectStore } from './object-store.factory.js';
import { StorageMetrics } from './storage-metrics.js';

/**
 * The configured object store (timed and counted) and its log appenders,
 * without any route: the storage module serves them, and the deploy module
 * ships container logs through them even on a host where storage is off.
 */
@Module({
  providers: [StorageMetrics, { provide: OBJECT_STORE, inject: [DOZEN_CONFIG, LOGGER, StorageMetrics], useFactory: meteredStore }, LogAppenders],
  exports: [StorageMetrics, OBJECT_STORE, LogAppenders],
})
export class ObjectStoreModule {}

/** The configured store, timed and counted. */
function meteredStore(config: DozenConfig, logger: Logger, metrics: StorageMetrics): MeteredObjectStore {
  const driver = config.storage.driver;
  return new MeteredObjectStore(objectStore(config, logger, (request) => metrics.retried(driver, request)), driver, metrics);
}

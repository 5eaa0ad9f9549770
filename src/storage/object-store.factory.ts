import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { DozenConfig } from '../config/config.schema.js';
import { LocalObjectStore } from './local.object-store.js';
import type { ObjectStore } from './object-store.js';
import { OssObjectStore } from './oss.object-store.js';

/** The store `storage.driver` names: a folder under the data dir, or an OSS bucket. `onRetry` hears of each OSS request sent again. */
export function objectStore(config: DozenConfig, logger: Logger, onRetry?: (request: string) => void): ObjectStore {
  if (config.storage.driver === 'oss') {
    const { oss, multipartThreshold, partSize } = config.storage;
    return new OssObjectStore({ oss, multipartThreshold, partSize }, logger.child({ module: 'storage', component: 'oss' }), onRetry);
  }
  return new LocalObjectStore(join(resolve(config.dataDir), 'objects'));
}

import { join, resolve } from 'node:path';
import type { DozenConfig } from '../config/config.schema.js';
import { LocalObjectStore } from './local.object-store.js';
import type { ObjectStore } from './object-store.js';

/** The store `storage.driver` names: a folder under the data dir, or an OSS bucket. */
export function objectStore(config: DozenConfig): ObjectStore {
  return new LocalObjectStore(join(resolve(config.dataDir), 'objects'));
}

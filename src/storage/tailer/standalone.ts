import { DataSource } from 'typeorm';
import { createLogger } from '../../common/logger.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { dataSourceOptions } from '../../database/data-source.js';
import { LogAppenders } from '../log-appenders.js';
import { objectStore } from '../object-store.factory.js';
import type { TailSource } from '../storage.config.js';
import { TailOffset } from '../storage.entity.js';
import { TailOffsets } from './tail-offsets.js';
import { Tailer } from './tailer.js';

/**
 * `dozen tail`: the tailer on its own, with the same database and store as
 * the server. Do not also list the same files in a running server's
 * `storage.tail`: two tailers would ship the same lines.
 */
export async function runTailer(config: DozenConfig, sources: TailSource[]): Promise<void> {
  const logger = createLogger(config.log);
  const log = logger.child({ module: 'storage', component: 'tailer' });
  const dataSource = new DataSource({ ...dataSourceOptions(config), entities: [TailOffset] });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  const store = objectStore(config, logger);
  const tailer = new Tailer(sources, config.storage.tailer, config.host.name, store, new TailOffsets(dataSource.getRepository(TailOffset)), new LogAppenders(store, logger), log);
  await tailer.start();
  log.info({ sources: sources.map((source) => source.glob) }, 'tailing');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await tailer.stop();
  await dataSource.destroy();
  log.info('stopped');
}

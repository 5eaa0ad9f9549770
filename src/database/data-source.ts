import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { DozenConfig } from '../config/config.schema.js';
import { MIGRATIONS } from './migrations.js';

/**
 * dozen's own database: SQLite under the data dir on one host, MySQL/MariaDB
 * for several. Schema changes are migrations (run at start and by
 * `dozen migrate`); `synchronize` is never on.
 */
export function dataSourceOptions(config: DozenConfig): DataSourceOptions {
  const common = { migrations: MIGRATIONS, migrationsRun: false, synchronize: false, logging: false } as const;
  if (config.database.url) {
    return { ...common, type: 'mysql', url: config.database.url, password: config.database.password, charset: 'utf8mb4', timezone: 'Z' };
  }
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  return { ...common, type: 'better-sqlite3', database: join(dataDir, 'dozen.sqlite'), enableWAL: true, nativeBinding: config.database.sqliteBinding };
}

/** Opens a connection and applies pending migrations; returns their names. */
export async function migrate(config: DozenConfig): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(config));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await dataSource.destroy();
  }
}

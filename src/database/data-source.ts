import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { makeDataDir } from '../common/data-dir.js';
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
    return { ...common, type: 'mysql', ...mysqlAccount(config.database.url, config.database.password), charset: 'utf8mb4', timezone: 'Z' };
  }
  const dataDir = makeDataDir(config.dataDir);
  return { ...common, type: 'better-sqlite3', database: join(dataDir, 'dozen.sqlite'), enableWAL: true, nativeBinding: config.database.sqliteBinding };
}

/**
 * `database.url`'s parts as separate options, with `database.password` when it is given (the config
 * refuses it beside a URL that holds a password too). Not TypeORM's `url`: TypeORM lays what it parses
 * from a URL over the options beside it, a URL without a password as '', so database.password was lost.
 */
export function mysqlAccount(url: string, password: string | undefined) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : undefined,
    username: decodeURIComponent(parsed.username),
    password: password ?? decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)) || undefined,
  };
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

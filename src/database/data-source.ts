import { join } from 'node:path';
import Database from 'better-sqlite3';
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

/**
 * Throws one line saying how to get a better-sqlite3 addon for this Node when the one configured does
 * not load (built for another Node line, or no file there). Checked before TypeORM, which would retry
 * the same load for 30 s with a stack trace each time, and from the second try on says only "Module did
 * not self-register".
 */
export function assertSqliteLoads(config: DozenConfig): void {
  if (config.database.url) return;
  const binding = config.database.sqliteBinding;
  try {
    new Database(':memory:', binding ? { nativeBinding: binding } : {}).close();
  } catch (error) {
    const message = (error as Error).message;
    const versions = /NODE_MODULE_VERSION (\d+)\. This version of Node\.js requires\s+NODE_MODULE_VERSION (\d+)/.exec(message);
    const why = versions ? `it was built for another Node line (NODE_MODULE_VERSION ${versions[1]}; this one needs ${versions[2]})` : (message.split('\n')[0] ?? message);
    const from = binding ? `database.sqliteBinding (${binding})` : 'the installed better-sqlite3';
    throw new Error(
      `database: ${from} does not load on Node ${process.version}: ${why}. Rebuild it with this Node: npm rebuild better-sqlite3 ` +
        `(offline: npm_config_nodedir=<the folder holding this Node's bin/ and include/> npm rebuild better-sqlite3), or set database.sqliteBinding to a build for it`,
    );
  }
}

/** Opens a connection and applies pending migrations; returns their names. */
export async function migrate(config: DozenConfig): Promise<string[]> {
  assertSqliteLoads(config);
  const dataSource = new DataSource(dataSourceOptions(config));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await dataSource.destroy();
  }
}

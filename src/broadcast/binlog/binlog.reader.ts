import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';

/** Where a binlog stream starts: a saved resume point, or the server's current end. */
export type StartAt = { file: string; pos: number } | 'end';

export interface StreamOptions {
  url: string;
  password?: string;
  serverId: number;
  startAt: StartAt;
  /** zongji's schema filter: schema -> true (all tables) or a list of tables. */
  includeSchema?: Record<string, string[] | true>;
  excludeSchema?: Record<string, string[] | true>;
}

/** The subset of a zongji binlog event dozen reads; see @vlasky/zongji's index.d.ts. */
export interface RawBinlogEvent {
  getEventName(): string;
  timestamp: number;
  nextPosition: number;
  gtid?: string;
  binlogName?: string;
  position?: number;
  schema?: string;
  query?: string;
  tableId?: number;
  rows?: unknown[];
  /** Which columns the rows' images hold, one bit per column (an update's after image: `columns_present_bitmap2`). */
  columns_present_bitmap?: Buffer;
  columns_present_bitmap2?: Buffer;
  tableMap?: Record<number, { parentSchema: string; tableName: string; columns?: { name: string }[] }>;
}

/**
 * One open binlog stream. `event` handlers run synchronously per event, in
 * binlog order; `resumePoint()` read inside one is a safe place to restart
 * (zongji keeps it on a transaction boundary).
 */
export interface BinlogStream extends EventEmitter {
  on(event: 'event', listener: (event: RawBinlogEvent) => void): this;
  on(event: 'error', listener: (error: Error & { code?: string; errno?: number }) => void): this;
  on(event: 'ready', listener: () => void): this;
  resumePoint(): { file: string; pos: number } | null;
  pause(): void;
  resume(): void;
  stop(): void;
}

export interface ServerFacts {
  logBin: string;
  binlogFormat: string;
  binlogRowImage: string;
  grants: string[];
  /** FULL puts column names in the binlog, so rows decode right even when ALTER TABLE raced the read; null when the server has no such setting. */
  binlogRowMetadata: string | null;
  /** The account the server matched, quoted for a GRANT: `'cdc'@'127.0.0.1'`. */
  account: string;
}

/**
 * The only seam to the MySQL/MariaDB replication protocol: opens a zongji
 * stream (zongji is ESM-only, so it is loaded with import()) and reads the
 * server settings a CDC reader depends on. zongji and mysql2 load with the first
 * binlog source, not on every host that runs broadcast.
 */
@Injectable()
export class BinlogReader {
  async facts(url: string, password?: string): Promise<ServerFacts> {
    const { default: mysql } = await import('mysql2/promise');
    const connection = await mysql.createConnection({ ...connectionOptions(url, password), connectTimeout: 5000 });
    try {
      const [variables] = await connection.query('SELECT @@global.log_bin AS logBin, @@global.binlog_format AS binlogFormat, @@global.binlog_row_image AS binlogRowImage');
      const [grantRows] = await connection.query('SHOW GRANTS');
      // The account as the server matched it (user@host), which is what a GRANT must name.
      const [userRows] = await connection.query('SELECT CURRENT_USER() AS user');
      const row = (variables as Record<string, unknown>[])[0];
      const metadata = await connection.query('SELECT @@global.binlog_row_metadata AS value').then(
        ([rows]) => String((rows as { value: unknown }[])[0].value),
        () => null,
      );
      return {
        logBin: String(row.logBin) === '1' ? 'ON' : String(row.logBin),
        binlogFormat: String(row.binlogFormat),
        binlogRowImage: String(row.binlogRowImage),
        grants: (grantRows as Record<string, string>[]).map((grant) => Object.values(grant)[0]),
        binlogRowMetadata: metadata,
        account: quoteAccount(String((userRows as { user: unknown }[])[0].user)),
      };
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  async open(options: StreamOptions): Promise<BinlogStream> {
    const { default: ZongJi } = await import('@vlasky/zongji');
    // TIMESTAMP is stored as UTC seconds: rendered in dozen's own zone without an offset, an hour that zone repeats
    // (summer time ending) gave two instants one string; 'Z' renders it in UTC, whatever TZ dozen runs with.
    const zongji = new ZongJi({ ...connectionOptions(options.url, options.password), dateStrings: true, timezone: 'Z' });
    const stream = new EventEmitter() as BinlogStream;
    let stopped = false;
    zongji.on('binlog', (event: unknown) => stream.emit('event', event));
    zongji.on('error', (error: Error) => {
      if (!stopped) stream.emit('error', error);
    });
    zongji.on('ready', () => stream.emit('ready'));
    stream.resumePoint = () => (zongji.options.filename ? { file: zongji.options.filename, pos: Number(zongji.options.position) } : null);
    stream.pause = () => zongji.connection?.pause();
    stream.resume = () => zongji.connection?.resume();
    stream.stop = () => {
      stopped = true;
      zongji.stop();
    };
    zongji.start({
      serverId: options.serverId,
      ...(options.startAt === 'end' ? { startAtEnd: true } : { filename: options.startAt.file, position: options.startAt.pos }),
      includeEvents: ['rotate', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'query', 'xid'],
      ...(options.includeSchema ? { includeSchema: options.includeSchema } : {}),
      ...(options.excludeSchema ? { excludeSchema: options.excludeSchema } : {}),
    });
    return stream;
  }
}

/** `cdc@127.0.0.1` (CURRENT_USER()) -> `'cdc'@'127.0.0.1'`; the host part follows the last @. */
export function quoteAccount(user: string): string {
  const at = user.lastIndexOf('@');
  const quote = (part: string) => `'${part.replace(/'/g, "''")}'`;
  return at < 0 ? quote(user) : `${quote(user.slice(0, at))}@${quote(user.slice(at + 1))}`;
}

function connectionOptions(url: string, password?: string) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 3306),
    user: decodeURIComponent(parsed.username || 'root'),
    password: password ?? decodeURIComponent(parsed.password),
  };
}

/** What the storage tests of the tailer and the OSS adapter share: the saved rows, a store on the stand-in, numbered lines. */
import type { Logger } from 'pino';
import { OssObjectStore } from '../../src/storage/oss.object-store.js';
import { TailOffset } from '../../src/storage/storage.entity.js';
import type { OssStandIn } from '../support/oss-standin.js';

/** The tailer's saved rows as a database keeps them: a copy per save, so what a killed process held in memory is not kept. */
export class SavedRows {
  readonly rows = new Map<string, TailOffset>();
  all = async () => [...this.rows.values()].map((row) => Object.assign(new TailOffset(), row));
  get = async (id: string) => (this.rows.has(id) ? Object.assign(new TailOffset(), this.rows.get(id)) : null);
  save = async (row: TailOffset) => void this.rows.set(row.id, Object.assign(new TailOffset(), row));
  remove = async (id: string) => void this.rows.delete(id);
}

/** dozen's OSS adapter on the stand-in (path style, signature V1). */
export function standInStore(standIn: OssStandIn, log: Logger, settings: { retries?: number; timeoutMs?: number; multipartThreshold?: number; partSize?: number } = {}): OssObjectStore {
  return new OssObjectStore(
    {
      oss: {
        endpoint: standIn.endpoint, region: `oss-${standIn.region}`, bucket: standIn.bucket, accessKeyId: standIn.accessKeyId,
        accessKeySecret: standIn.accessKeySecret, authorizationVersion: 'v1', pathStyle: true, retries: settings.retries ?? 3, timeoutMs: settings.timeoutMs ?? 5_000,
      },
      multipartThreshold: settings.multipartThreshold ?? 200 * 1024,
      partSize: settings.partSize ?? 100 * 1024,
    },
    log,
  );
}

/** Lines `from` to `to`, each numbered and of a different length (`fill` repeated). */
export function numberedLines(from: number, to: number, fill = 'v', spread = 40): string {
  let text = '';
  for (let line = from; line <= to; line++) text += `line ${String(line).padStart(8, '0')} ${fill.repeat(line % spread)}\n`;
  return text;
}

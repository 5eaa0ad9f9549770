import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedLock } from './keyed-lock.js';
import { rethrowNoSpace, UploadNotFound, type PartInfo } from './object-store.js';

/** A resumable upload as the REST API shows it; `storeUploadId` is the store's own multipart id. */
export interface UploadRecord {
  uploadId: string;
  key: string;
  storeUploadId: string;
  contentType?: string;
  /** Free-form strings the client chose (the CLI keeps its source file's size and mtime here to resume safely). */
  metadata: Record<string, string>;
  created: string;
  /**
   * Who started it (`uploadOwner`): only they, or a caller who may replace objects anyway, send its parts,
   * complete or abandon it. Absent on uploads started before dozen recorded it: those are the latter's only.
   */
  owner?: string;
}

/**
 * The resumable uploads in progress on this host, one small JSON file each
 * under `<dataDir>/uploads/`, so they and their parts (kept by the store)
 * survive a restart of dozen.
 */
export class UploadRecords {
  private readonly partLocks = new KeyedLock();

  constructor(private readonly folder: string) {}

  /**
   * Keeps a stored part's size, ETag and the CRC64 dozen computed of it (`<id>.parts.json`): a store
   * that reports no CRC64 (some OSS-compatible servers) lists parts without one, and the whole
   * object's CRC64 is then joined from these.
   */
  async savePart(uploadId: string, part: PartInfo): Promise<void> {
    await this.partLocks.run(uploadId, async () => {
      const parts = await this.parts(uploadId);
      parts[part.partNumber] = part;
      const temp = join(this.folder, `${uploadId}.parts.tmp`);
      await writeFile(temp, JSON.stringify(parts)).catch((error: unknown) => rethrowNoSpace(error, this.folder));
      await rename(temp, join(this.folder, `${uploadId}.parts.json`));
    });
  }

  /** The parts `savePart` kept, by part number. */
  async parts(uploadId: string): Promise<Record<number, PartInfo>> {
    const text = await readFile(join(this.folder, `${uploadId}.parts.json`), 'utf8').catch(() => null);
    return text ? (JSON.parse(text) as Record<number, PartInfo>) : {};
  }

  async create(fields: Omit<UploadRecord, 'uploadId' | 'created'>): Promise<UploadRecord> {
    const record: UploadRecord = { uploadId: randomUUID().replaceAll('-', ''), created: new Date().toISOString(), ...fields };
    await mkdir(this.folder, { recursive: true }).catch((error: unknown) => rethrowNoSpace(error, this.folder));
    const temp = join(this.folder, `${record.uploadId}.tmp`);
    await writeFile(temp, JSON.stringify(record)).catch((error: unknown) => rethrowNoSpace(error, this.folder));
    await rename(temp, join(this.folder, `${record.uploadId}.json`));
    return record;
  }

  async get(uploadId: string): Promise<UploadRecord> {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new UploadNotFound(uploadId);
    const text = await readFile(join(this.folder, `${uploadId}.json`), 'utf8').catch(() => null);
    if (!text) throw new UploadNotFound(uploadId);
    return JSON.parse(text) as UploadRecord;
  }

  async list(key?: string): Promise<UploadRecord[]> {
    const names = await readdir(this.folder).catch(() => [] as string[]);
    const records = await Promise.all(
      names.filter((name) => name.endsWith('.json') && !name.endsWith('.parts.json')).map(async (name) => JSON.parse(await readFile(join(this.folder, name), 'utf8')) as UploadRecord),
    );
    return records.filter((record) => key === undefined || record.key === key).sort((left, right) => left.created.localeCompare(right.created));
  }

  /** When the upload last changed: its latest stored part (the parts file is rewritten with each), else its start. */
  async lastActivity(record: UploadRecord): Promise<number> {
    const parts = await stat(join(this.folder, `${record.uploadId}.parts.json`)).catch(() => null);
    return Math.max(Date.parse(record.created), parts?.mtimeMs ?? 0);
  }

  async remove(uploadId: string): Promise<void> {
    await rm(join(this.folder, `${uploadId}.json`), { force: true });
    await rm(join(this.folder, `${uploadId}.parts.json`), { force: true });
  }
}

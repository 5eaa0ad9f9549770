import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError } from '../common/errors.js';
import { combineCrc64, Crc64 } from './crc64.js';
import { contentTypeFor } from './content-type.js';
import {
  assertPartNumber, assertSafeKey, BadKey, ChecksumMismatch, MIN_PART_SIZE, ObjectExists, ObjectNotFound, PartTooSmall, PositionMismatch, UploadNotFound,
  type AppendResult, type ListPage, type ObjectInfo, type ObjectStore, type PartInfo, type PutOptions,
} from './object-store.js';

/** What the sidecar file beside each object remembers; trusted only while size and mtime still match the data file. */
interface Sidecar {
  size: number;
  mtimeMs: number;
  crc64: string;
  contentType: string;
}

const LIST_LIMIT = 1000;

/**
 * Objects as files under `<root>/data/<key>`, metadata in `<root>/meta/<key>`.
 * Every write goes to `<root>/tmp` first and is renamed into place, so a crash
 * never leaves half a file under a key. Multipart parts live in
 * `<root>/multipart/<uploadId>/` and so survive a restart.
 */
export class LocalObjectStore implements ObjectStore {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly root: string) {}

  private dataPath(key: string) {
    // A file name holds at most 255 bytes; OSS has no such limit, so only this adapter refuses.
    if (key.split('/').some((segment) => Buffer.byteLength(segment) > 255)) throw new BadKey(key, 'has a segment longer than 255 bytes (the local store keeps keys as file names)');
    return join(this.root, 'data', key);
  }
  private metaPath(key: string) {
    return join(this.root, 'meta', key);
  }
  private async tempPath(): Promise<string> {
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    return join(this.root, 'tmp', randomUUID());
  }

  async check(): Promise<void> {
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    const probe = await this.tempPath();
    await writeFile(probe, '');
    await unlink(probe);
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    assertSafeKey(key);
    const temp = await this.tempPath();
    try {
      const md5 = options.md5 ? createHash('md5') : null;
      const written = await writeCounting(body, temp, md5);
      if (md5 && options.md5) {
        const actual = md5.digest('base64');
        if (actual !== options.md5) throw new ChecksumMismatch('Content-MD5', options.md5, actual);
      }
      await this.place(key, temp, options.ifNoneMatch ?? false);
      return await this.writeSidecar(key, written.crc64, options.contentType);
    } finally {
      await rm(temp, { force: true });
    }
  }

  async append(key: string, position: number, data: Buffer, options: { contentType?: string } = {}): Promise<AppendResult> {
    assertSafeKey(key);
    return this.locked(key, async () => {
      const path = this.dataPath(key);
      const current = await this.head(key);
      const length = current?.size ?? 0;
      if (position !== length) throw new PositionMismatch(key, position, length);
      await this.ensureParent(path);
      const handle = await open(path, 'a');
      try {
        await handle.write(data);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      const crc64 = (current ? Crc64.continuing(current.crc64) : new Crc64()).update(data).value;
      const info = await this.writeSidecar(key, crc64, current?.contentType ?? options.contentType);
      return { nextPosition: info.size, crc64 };
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertSafeKey(key);
    const path = this.dataPath(key);
    const stats = await stat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw error;
    });
    if (!stats || !stats.isFile()) return null;
    const sidecar = await readFile(this.metaPath(key), 'utf8').then((text) => JSON.parse(text) as Sidecar, () => null);
    if (sidecar && sidecar.size === stats.size && sidecar.mtimeMs === stats.mtimeMs) return toInfo(key, sidecar);
    // The data changed after the sidecar was written (a crash between the two): recompute it from the data.
    const crc = new Crc64();
    for await (const chunk of createReadStream(path)) crc.update(chunk as Buffer);
    return this.writeSidecar(key, crc.value, sidecar?.contentType);
  }

  async get(key: string): Promise<{ info: ObjectInfo; body: Readable }> {
    const info = await this.head(key);
    if (!info) throw new ObjectNotFound(key);
    // `end` pins the size read to the size reported (a concurrent append must not stretch the body past content-length).
    const body = info.size ? createReadStream(this.dataPath(key), { end: info.size - 1, highWaterMark: 256 * 1024 }) : Readable.from([]);
    return { info, body };
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    const limit = Math.min(Math.max(options.limit ?? LIST_LIMIT, 1), LIST_LIMIT);
    // Start the walk at the deepest folder the prefix names; a folder walk is not key order, so sort after.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys = (await walk(join(this.root, 'data'), folder))
      .filter((key) => key.startsWith(prefix) && (!options.cursor || key > options.cursor))
      .sort();
    const page = keys.slice(0, limit);
    const objects = (await Promise.all(page.map((key) => this.head(key))))
      .filter((info): info is ObjectInfo => info !== null)
      .map(({ key, size, etag, modified }) => ({ key, size, etag, modified }));
    return { objects, ...(keys.length > limit ? { nextCursor: page[page.length - 1] } : {}) };
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await this.locked(key, async () => {
      await rm(this.dataPath(key), { force: true });
      await rm(this.metaPath(key), { force: true });
    });
  }

  async createMultipart(key: string, options: { contentType?: string } = {}): Promise<string> {
    assertSafeKey(key);
    const uploadId = randomUUID().replaceAll('-', '');
    const folder = join(this.root, 'multipart', uploadId);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'upload.json'), JSON.stringify({ key, contentType: options.contentType ?? null }));
    return uploadId;
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<PartInfo> {
    assertPartNumber(partNumber);
    const folder = await this.uploadFolder(key, uploadId);
    const temp = join(folder, `${randomUUID()}.tmp`);
    try {
      const written = await writeCounting(body, temp, null);
      if (size !== undefined && written.size !== size) throw new ChecksumMismatch(`part ${partNumber} length`, String(size), String(written.size));
      const part: PartInfo = { partNumber, size: written.size, crc64: written.crc64, etag: `"${BigInt(written.crc64).toString(16)}-${written.size}"` };
      await rename(temp, join(folder, `${partNumber}.part`));
      await writeFile(join(folder, `${partNumber}.json`), JSON.stringify(part));
      return part;
    } finally {
      await rm(temp, { force: true });
    }
  }

  async listParts(key: string, uploadId: string): Promise<PartInfo[]> {
    const folder = await this.uploadFolder(key, uploadId);
    const names = (await readdir(folder)).filter((name) => /^\d+\.json$/.test(name));
    const parts = await Promise.all(names.map(async (name) => JSON.parse(await readFile(join(folder, name), 'utf8')) as PartInfo));
    return parts.sort((left, right) => left.partNumber - right.partNumber);
  }

  async completeMultipart(key: string, uploadId: string, options: { ifNoneMatch?: boolean } = {}): Promise<ObjectInfo> {
    const folder = await this.uploadFolder(key, uploadId);
    const upload = JSON.parse(await readFile(join(folder, 'upload.json'), 'utf8')) as { contentType: string | null };
    const parts = await this.listParts(key, uploadId);
    if (!parts.length) throw new DomainError(400, 'bad_request', `upload ${uploadId} has no parts`);
    const small = parts.slice(0, -1).find((part) => part.size < MIN_PART_SIZE);
    if (small) throw new PartTooSmall(small.partNumber);
    const temp = await this.tempPath();
    try {
      // Each part's CRC64 was taken as it arrived; the whole one is combined from them, not read again.
      let crc64 = '0';
      const output = createWriteStream(temp, { flush: true });
      for (const part of parts) {
        await pipeline(createReadStream(join(folder, `${part.partNumber}.part`), { highWaterMark: 1024 * 1024 }), output, { end: false });
        crc64 = combineCrc64(crc64, part.crc64, part.size);
      }
      await new Promise<void>((resolve, reject) => output.end((error?: Error | null) => (error ? reject(error) : resolve())));
      await this.place(key, temp, options.ifNoneMatch ?? false);
      const info = await this.writeSidecar(key, crc64, upload.contentType ?? undefined);
      await rm(folder, { recursive: true, force: true });
      return info;
    } finally {
      await rm(temp, { force: true });
    }
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    const folder = await this.uploadFolder(key, uploadId);
    await rm(folder, { recursive: true, force: true });
  }

  private async uploadFolder(key: string, uploadId: string): Promise<string> {
    assertSafeKey(key);
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new UploadNotFound(uploadId);
    const folder = join(this.root, 'multipart', uploadId);
    const upload = await readFile(join(folder, 'upload.json'), 'utf8').then((text) => JSON.parse(text) as { key: string }, () => null);
    if (!upload || upload.key !== key) throw new UploadNotFound(uploadId);
    return folder;
  }

  /** Moves a finished temp file under its key: rename replaces; link refuses when the key exists (If-None-Match). */
  private async place(key: string, temp: string, refuseOverwrite: boolean): Promise<void> {
    const path = this.dataPath(key);
    await this.ensureParent(path);
    if (!refuseOverwrite) return rename(temp, path);
    try {
      await link(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExists(key);
      throw error;
    }
  }

  private async ensureParent(path: string): Promise<void> {
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST') throw new DomainError(409, 'conflict', 'a key that is a prefix folder of this key already exists as an object');
      throw error;
    }
    await access(dirname(path));
  }

  private async writeSidecar(key: string, crc64: string, contentType?: string): Promise<ObjectInfo> {
    const stats = await stat(this.dataPath(key));
    const sidecar: Sidecar = { size: stats.size, mtimeMs: stats.mtimeMs, crc64, contentType: contentType ?? contentTypeFor(key) };
    const path = this.metaPath(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = await this.tempPath();
    await writeFile(temp, JSON.stringify(sidecar));
    await rename(temp, path);
    return toInfo(key, sidecar);
  }

  /** Runs writes to one key one at a time (appends must see the length the previous one left). */
  private async locked<T>(key: string, action: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.then(action, action);
    const settled = next.catch(() => undefined);
    this.locks.set(key, settled);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }
}

function toInfo(key: string, sidecar: Sidecar): ObjectInfo {
  return {
    key,
    size: sidecar.size,
    crc64: sidecar.crc64,
    contentType: sidecar.contentType,
    etag: `"${BigInt(sidecar.crc64).toString(16)}-${sidecar.size}"`,
    modified: new Date(sidecar.mtimeMs),
  };
}

/** Streams `body` to a new file at `path` (fsynced), returning its size and CRC64; feeds `md5` when given. */
async function writeCounting(body: Readable, path: string, md5: ReturnType<typeof createHash> | null): Promise<{ size: number; crc64: string }> {
  const crc = new Crc64();
  let size = 0;
  await pipeline(
    body,
    async function* (source) {
      for await (const chunk of source) {
        const buffer = chunk as Buffer;
        crc.update(buffer);
        md5?.update(buffer);
        size += buffer.length;
        yield buffer;
      }
    },
    createWriteStream(path, { flush: true }),
  );
  return { size, crc64: crc.value };
}

/** Every key under `folder` (relative to `root`), recursively. */
async function walk(root: string, folder: string): Promise<string[]> {
  const entries = await readdir(join(root, folder), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
    throw error;
  });
  const keys: string[] = [];
  for (const entry of entries) {
    const key = folder ? `${folder}/${entry.name}` : entry.name;
    if (entry.isDirectory()) keys.push(...(await walk(root, key)));
    else if (entry.isFile()) keys.push(key);
  }
  return keys;
}

import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, link, mkdir, open, readFile, realpath, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { DomainError } from '../common/errors.js';
import { Crc64 } from './crc64.js';
import { contentTypeFor } from './content-type.js';
import { KeyedLock } from './keyed-lock.js';
import { receiveFile, syncFolder } from './local.file-writer.js';
import { keysAfter, missingAsNull, SortedFolders } from './local.listing.js';
import { LocalMultipart, type Assembled } from './local.multipart.js';
import {
  assertContentType, assertSafeKey, assertSafePrefix, BadKey, ChecksumMismatch, ObjectExists, ObjectNotFound, PositionMismatch, rethrowNoSpace,
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
 * Every write goes to `<root>/tmp` first, is synced, and is renamed into place
 * (the folder synced too), so a crash never leaves half a file under a key and
 * a stored object survives one. Multipart uploads live in
 * `<root>/multipart/<uploadId>/` (see local.multipart.ts) and so survive a restart.
 */
export class LocalObjectStore implements ObjectStore {
  private readonly locks = new KeyedLock();
  private readonly folders = new SortedFolders();
  private readonly multipart: LocalMultipart;

  constructor(private readonly root: string) {
    this.multipart = new LocalMultipart(root, () => this.tempPath());
  }

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

  /** A write on a full disk is a 507 naming the store's folder (`<dataDir>/objects`). */
  private readonly noSpace = (error: unknown): never => rethrowNoSpace(error, this.root);

  put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    return this.putFile(key, body, options).catch(this.noSpace);
  }

  private async putFile(key: string, body: Readable, options: PutOptions): Promise<ObjectInfo> {
    assertSafeKey(key);
    assertContentType(options.contentType);
    const temp = await this.tempPath();
    try {
      const md5 = options.md5 ? createHash('md5') : undefined;
      const written = await receiveFile(body, temp, { md5 });
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
    assertContentType(options.contentType);
    return this.locks.run(key, async () => {
      const path = this.dataPath(key);
      const current = await this.head(key);
      const length = current?.size ?? 0;
      if (position !== length) throw new PositionMismatch(key, position, length, current ? current.crc64 || undefined : '0');
      await this.ensureParent(path);
      const handle = await open(path, 'a');
      try {
        // A full disk takes what fits and answers the write short: write on until every byte is in, or it fails.
        for (let done = 0; done < data.length; ) done += (await handle.write(data, done)).bytesWritten;
        await handle.datasync();
        const crc64 = (current ? Crc64.continuing(current.crc64) : new Crc64()).update(data).value;
        const info = await this.writeSidecar(key, crc64, current?.contentType ?? options.contentType);
        return { nextPosition: info.size, crc64 };
      } catch (error) {
        // Cut off what landed, so a refused append wrote nothing, as the port promises.
        await handle.truncate(length).catch(() => undefined);
        throw error;
      } finally {
        await handle.close();
      }
    }).catch(this.noSpace);
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
    assertSafePrefix(prefix);
    const limit = Math.min(Math.max(options.limit ?? LIST_LIMIT, 1), LIST_LIMIT);
    // Start at the deepest folder the prefix names, and read only up to one key past the page (to know there is more).
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const path = await this.dataFolderOf(folder);
    const keys: string[] = [];
    if (path) {
      for await (const key of keysAfter(this.folders, path, folder, prefix, options.cursor ?? '')) {
        keys.push(key);
        if (keys.length > limit) break;
      }
    }
    const page = keys.slice(0, limit);
    const objects = (await Promise.all(page.map((key) => this.head(key))))
      .filter((info): info is ObjectInfo => info !== null)
      .map(({ key, size, etag, modified }) => ({ key, size, etag, modified }));
    return { objects, ...(keys.length > limit ? { nextCursor: page[page.length - 1] } : {}) };
  }

  /**
   * Where the keys under `folder` (`''` or `a/b/`, segments that passed the key rules) are, or null
   * when there is no such folder inside `<root>/data`. Checked on the real paths all the same, so a
   * symbolic link on the way cannot take a listing elsewhere: a listing never reads names from outside.
   */
  private async dataFolderOf(folder: string): Promise<string | null> {
    const data = await realpath(join(this.root, 'data')).catch(missingAsNull);
    const path = data && (await realpath(join(data, folder)).catch(missingAsNull));
    if (!data || !path) return null;
    return path === data || path.startsWith(data + sep) ? path : null;
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await this.locks.run(key, async () => {
      // No such object, as OSS's DeleteObject of a missing key: a key under an object's name (`a.txt/b`) reaches a file on its way (ENOTDIR).
      await rm(this.dataPath(key), { force: true }).catch(notDirectory);
      await rm(this.metaPath(key), { force: true }).catch(notDirectory);
    });
  }

  createMultipart(key: string, options: { contentType?: string; partSize?: number } = {}): Promise<string> {
    return this.multipart.create(key, options).catch(this.noSpace);
  }

  putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<PartInfo> {
    return this.multipart.putPart(key, uploadId, partNumber, body, size).catch(this.noSpace);
  }

  listParts(key: string, uploadId: string): Promise<PartInfo[]> {
    return this.multipart.listParts(key, uploadId);
  }

  completeMultipart(key: string, uploadId: string, options: { ifNoneMatch?: boolean } = {}): Promise<ObjectInfo> {
    return this.complete(key, uploadId, options).catch(this.noSpace);
  }

  private async complete(key: string, uploadId: string, options: { ifNoneMatch?: boolean }): Promise<ObjectInfo> {
    const assembled: Assembled = await this.multipart.assemble(key, uploadId);
    try {
      await this.place(key, assembled.file, options.ifNoneMatch ?? false);
    } catch (error) {
      if (error instanceof ObjectExists) await this.multipart.restore(uploadId, assembled);
      throw error;
    } finally {
      await rm(assembled.file, { force: true });
    }
    const info = await this.writeSidecar(key, assembled.crc64, assembled.contentType);
    await this.multipart.forget(key, uploadId);
    return info;
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.multipart.forget(key, uploadId);
  }

  /** Moves a finished temp file under its key: rename replaces; link refuses when the key exists (If-None-Match). */
  private async place(key: string, temp: string, refuseOverwrite: boolean): Promise<void> {
    const path = this.dataPath(key);
    await this.ensureParent(path);
    if (!refuseOverwrite) await rename(temp, path);
    else {
      try {
        await link(temp, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExists(key);
        throw error;
      }
    }
    await syncFolder(dirname(path));
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
    try {
      await writeFile(temp, JSON.stringify(sidecar));
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return toInfo(key, sidecar);
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

function notDirectory(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOTDIR') throw error;
}

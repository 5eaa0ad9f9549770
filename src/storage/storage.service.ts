import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { combineCrc64 } from './crc64.js';
import { assertPartNumber, assertSafeKey, OBJECT_STORE, ObjectTooLarge, TooManyUploads, UploadNotFound, type ObjectInfo, type ObjectStore, type PartInfo, type PutOptions } from './object-store.js';
import { KeyedLock, KeyedSharedLock } from './keyed-lock.js';
import { limitBytes } from './size-limit.js';
import { UploadRecords, type UploadRecord } from './uploads.js';

/**
 * What other modules (and the REST controller) use of storage: objects in
 * the configured store, and resumable uploads. Nobody else touches adapters.
 */
@Injectable()
export class StorageService {
  private readonly uploads: UploadRecords;
  private readonly maxObjectBytes: number;
  private readonly maxOpenUploads: number;
  /** One start at a time per owner, so two sent side by side cannot both take the last open upload. */
  private readonly ownerLocks = new KeyedLock();
  /**
   * Per upload: parts are stored side by side (shared), a completion runs alone (exclusive), so the parts it
   * checks against storage.maxObjectBytes are the parts it joins. An upload's record is on one host, so is its lock.
   */
  private readonly uploadLocks = new KeyedSharedLock();

  constructor(
    @Inject(OBJECT_STORE) readonly store: ObjectStore,
    @InjectConfig() config: DozenConfig,
  ) {
    this.uploads = new UploadRecords(join(resolve(config.dataDir), 'uploads'));
    this.maxObjectBytes = config.storage.maxObjectBytes;
    this.maxOpenUploads = config.storage.maxOpenUploads;
  }

  /** Stores a body of `size` bytes (from Content-Length; undefined when sent chunked), refusing one over storage.maxObjectBytes. */
  put(key: string, body: Readable, size: number | undefined, options: PutOptions = {}): Promise<ObjectInfo> {
    const what = size === undefined ? 'the body' : `a body of ${size} bytes`;
    return this.withinLimit(what, size, this.maxObjectBytes, body, (limited) => this.store.put(key, limited, options));
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.store.head(key);
  }

  get(key: string) {
    return this.store.get(key);
  }

  list(prefix: string, cursor?: string, limit?: number) {
    return this.store.list(prefix, { cursor, limit });
  }

  delete(key: string): Promise<void> {
    return this.store.delete(key);
  }

  append(key: string, position: number, data: Buffer) {
    return this.store.append(key, position, data);
  }

  async startUpload(key: string, contentType: string | undefined, metadata: Record<string, string>, partSize?: number, owner?: string): Promise<UploadRecord> {
    assertSafeKey(key);
    return this.ownerLocks.run(owner ?? '', async () => {
      if (owner !== undefined) {
        const open = (await this.uploads.list()).filter((upload) => upload.owner === owner).length;
        if (open >= this.maxOpenUploads) throw new TooManyUploads(this.maxOpenUploads);
      }
      const storeUploadId = await this.store.createMultipart(key, { contentType, partSize });
      return this.uploads.create({ key, storeUploadId, contentType, metadata, owner });
    });
  }

  /** An upload's record; throws UploadNotFound. */
  upload(uploadId: string): Promise<UploadRecord> {
    return this.uploads.get(uploadId);
  }

  async listUploads(key?: string): Promise<UploadRecord[]> {
    return this.uploads.list(key);
  }

  /** The key an upload writes to; throws UploadNotFound. */
  async uploadKey(uploadId: string): Promise<string> {
    return (await this.uploads.get(uploadId)).key;
  }

  async describeUpload(uploadId: string): Promise<UploadRecord & { parts: PartInfo[] }> {
    const record = await this.uploads.get(uploadId);
    const parts = await this.store.listParts(record.key, record.storeUploadId).catch(async (error: unknown) => {
      // The store finished or lost it (a crash while completing): drop the record so a client starts afresh.
      if (error instanceof UploadNotFound) await this.uploads.remove(uploadId);
      throw error;
    });
    // A store without CRC64s lists none: give the ones dozen computed, for parts that are still the same.
    const kept = await this.uploads.parts(uploadId);
    return { ...record, parts: parts.map((part) => (part.crc64 || kept[part.partNumber]?.size !== part.size || kept[part.partNumber]?.etag !== part.etag ? part : { ...part, crc64: kept[part.partNumber].crc64 })) };
  }

  /**
   * Stores a part, refusing one that would take the upload's parts (this one replacing its earlier send)
   * over storage.maxObjectBytes. Parts sent side by side are each checked against the others stored so
   * far; completing waits for the parts under way and checks the whole again.
   */
  async putPart(uploadId: string, partNumber: number, body: Readable, size?: number, assertCaller?: (upload: UploadRecord) => void): Promise<PartInfo> {
    assertPartNumber(partNumber);
    return this.uploadLocks.shared(uploadId, () => this.storePart(uploadId, partNumber, body, size, assertCaller));
  }

  /** `assertCaller` throws when the caller may not send this upload's parts (it is another's). */
  private async storePart(uploadId: string, partNumber: number, body: Readable, size?: number, assertCaller?: (upload: UploadRecord) => void): Promise<PartInfo> {
    const record = await this.uploads.get(uploadId);
    assertCaller?.(record);
    const others = Object.values(await this.uploads.parts(uploadId)).filter((part) => part.partNumber !== partNumber).reduce((sum, part) => sum + part.size, 0);
    const room = Math.max(this.maxObjectBytes - others, 0);
    const part = await this.withinLimit(`part ${partNumber}, with the ${others} bytes of the other parts,`, size, room, body, (limited) =>
      this.store.putPart(record.key, record.storeUploadId, partNumber, limited, size),
    );
    await this.uploads.savePart(uploadId, part);
    return part;
  }

  /** Joins the parts; no part is stored meanwhile (a part sent now waits, then finds the upload gone). */
  completeUpload(uploadId: string, ifNoneMatch: boolean): Promise<ObjectInfo> {
    return this.uploadLocks.exclusive(uploadId, () => this.joinParts(uploadId, ifNoneMatch));
  }

  private async joinParts(uploadId: string, ifNoneMatch: boolean): Promise<ObjectInfo> {
    const record = await this.uploads.get(uploadId);
    const total = (await this.store.listParts(record.key, record.storeUploadId)).reduce((sum, part) => sum + part.size, 0);
    if (total > this.maxObjectBytes) throw new ObjectTooLarge(`joining the parts' ${total} bytes`, this.maxObjectBytes);
    const kept = Object.values(await this.uploads.parts(uploadId)).sort((left, right) => left.partNumber - right.partNumber);
    const info = await this.store.completeMultipart(record.key, record.storeUploadId, { ifNoneMatch, contentType: record.contentType });
    await this.uploads.remove(uploadId);
    if (info.crc64 || !kept.every((part) => part.crc64) || kept.reduce((sum, part) => sum + part.size, 0) !== info.size) return info;
    // The store reports no CRC64: the object's is the one of the parts dozen received, joined, unconfirmed by the store.
    return { ...info, crc64: kept.reduce((crc, part) => combineCrc64(crc, part.crc64, part.size), '0'), crc64Confirmed: false };
  }

  /**
   * Runs a write of `body` that may hold at most `limit` bytes: refused before the store is touched when
   * the declared `size` is over it, stopped (and stored nowhere) once the bytes go over it.
   */
  private async withinLimit<T>(what: string, size: number | undefined, limit: number, body: Readable, write: (limited: Readable) => Promise<T>): Promise<T> {
    const tooLarge = () => new ObjectTooLarge(what, this.maxObjectBytes);
    if (size !== undefined && size > limit) throw tooLarge();
    let exceeded = false;
    const limited = limitBytes(body, limit, () => ((exceeded = true), tooLarge()));
    try {
      return await write(limited);
    } catch (error) {
      // A store may wrap the failed body in an error of its own (the OSS client does): the cause is the limit.
      throw exceeded ? tooLarge() : error;
    }
  }

  /** Resumable uploads that got no part since `cutoff`, with when they last did. */
  async idleUploads(cutoff: number): Promise<{ record: UploadRecord; lastActivity: number }[]> {
    const uploads = await Promise.all((await this.uploads.list()).map(async (record) => ({ record, lastActivity: await this.uploads.lastActivity(record) })));
    return uploads.filter((upload) => upload.lastActivity < cutoff);
  }

  /** Drops an abandoned upload: its parts in the store (already gone there is fine: completed meanwhile, or a lifecycle rule) and its record. */
  async expireUpload(record: UploadRecord): Promise<void> {
    await this.store.abortMultipart(record.key, record.storeUploadId).catch((error: unknown) => {
      if (!(error instanceof UploadNotFound)) throw error;
    });
    await this.uploads.remove(record.uploadId);
  }

  async abortUpload(uploadId: string): Promise<void> {
    const record = await this.uploads.get(uploadId);
    await this.store.abortMultipart(record.key, record.storeUploadId);
    await this.uploads.remove(uploadId);
  }
}

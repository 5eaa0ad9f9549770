import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { combineCrc64 } from './crc64.js';
import { assertPartNumber, assertSafeKey, OBJECT_STORE, UploadNotFound, type ObjectInfo, type ObjectStore, type PartInfo, type PutOptions } from './object-store.js';
import { UploadRecords, type UploadRecord } from './uploads.js';

/**
 * What other modules (and the REST controller) use of storage: objects in
 * the configured store, and resumable uploads. Nobody else touches adapters.
 */
@Injectable()
export class StorageService {
  private readonly uploads: UploadRecords;

  constructor(
    @Inject(OBJECT_STORE) readonly store: ObjectStore,
    @InjectConfig() config: DozenConfig,
  ) {
    this.uploads = new UploadRecords(join(resolve(config.dataDir), 'uploads'));
  }

  put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    return this.store.put(key, body, options);
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

  async startUpload(key: string, contentType: string | undefined, metadata: Record<string, string>, partSize?: number): Promise<UploadRecord> {
    assertSafeKey(key);
    const storeUploadId = await this.store.createMultipart(key, { contentType, partSize });
    return this.uploads.create({ key, storeUploadId, contentType, metadata });
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

  async putPart(uploadId: string, partNumber: number, body: Readable, size?: number): Promise<PartInfo> {
    assertPartNumber(partNumber);
    const record = await this.uploads.get(uploadId);
    const part = await this.store.putPart(record.key, record.storeUploadId, partNumber, body, size);
    await this.uploads.savePart(uploadId, part);
    return part;
  }

  async completeUpload(uploadId: string, ifNoneMatch: boolean): Promise<ObjectInfo> {
    const record = await this.uploads.get(uploadId);
    const kept = Object.values(await this.uploads.parts(uploadId)).sort((left, right) => left.partNumber - right.partNumber);
    const info = await this.store.completeMultipart(record.key, record.storeUploadId, { ifNoneMatch });
    await this.uploads.remove(uploadId);
    if (info.crc64 || !kept.every((part) => part.crc64) || kept.reduce((sum, part) => sum + part.size, 0) !== info.size) return info;
    // The store reports no CRC64: the object's is the one of the parts dozen received, joined, unconfirmed by the store.
    return { ...info, crc64: kept.reduce((crc, part) => combineCrc64(crc, part.crc64, part.size), '0'), crc64Confirmed: false };
  }

  async abortUpload(uploadId: string): Promise<void> {
    const record = await this.uploads.get(uploadId);
    await this.store.abortMultipart(record.key, record.storeUploadId);
    await this.uploads.remove(uploadId);
  }
}

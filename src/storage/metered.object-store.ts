import type { Readable } from 'node:stream';
import type { AppendResult, ListPage, ObjectInfo, ObjectStore, ObjectStream, PartInfo, PutOptions } from './object-store.js';
import type { StorageMetrics, UploadRoute } from './storage-metrics.js';

/**
 * Wraps the configured store to time every operation and count what is
 * written, whoever writes it (REST, other modules, the tailer), so the
 * adapters stay free of metrics.
 */
export class MeteredObjectStore implements ObjectStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly driver: string,
    private readonly metrics: StorageMetrics,
  ) {}

  put(key: string, body: Readable, options?: PutOptions): Promise<ObjectInfo> {
    return this.write('put', 'put', () => this.store.put(key, body, options), (info) => [info.size, 1]);
  }

  append(key: string, position: number, data: Buffer, options?: { contentType?: string }): Promise<AppendResult> {
    return this.write('append', 'append', () => this.store.append(key, position, data, options), () => [data.length, position === 0 ? 1 : 0]);
  }

  putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<PartInfo> {
    return this.write('part', 'putPart', () => this.store.putPart(key, uploadId, partNumber, body, size), (part) => [part.size, 0]);
  }

  completeMultipart(key: string, uploadId: string, options?: { ifNoneMatch?: boolean; contentType?: string }): Promise<ObjectInfo> {
    return this.write('part', 'completeMultipart', () => this.store.completeMultipart(key, uploadId, options), () => [0, 1]);
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.timed('head', () => this.store.head(key));
  }

  get(key: string): Promise<ObjectStream> {
    return this.timed('get', () => this.store.get(key));
  }

  list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<ListPage> {
    return this.timed('list', () => this.store.list(prefix, options));
  }

  delete(key: string): Promise<void> {
    return this.timed('delete', () => this.store.delete(key));
  }

  createMultipart(key: string, options?: { contentType?: string }): Promise<string> {
    return this.timed('createMultipart', () => this.store.createMultipart(key, options));
  }

  listParts(key: string, uploadId: string): Promise<PartInfo[]> {
    return this.timed('listParts', () => this.store.listParts(key, uploadId));
  }

  abortMultipart(key: string, uploadId: string): Promise<void> {
    return this.timed('abortMultipart', () => this.store.abortMultipart(key, uploadId));
  }

  check(): Promise<void> {
    return this.timed('check', () => this.store.check());
  }

  private timed<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return this.metrics.timed(operation, this.driver, call);
  }

  /** A write: timed, then its bytes and new objects counted, or its failure counted by kind. */
  private async write<T>(route: UploadRoute, operation: string, call: () => Promise<T>, written: (result: T) => [bytes: number, objects: number]): Promise<T> {
    try {
      const result = await this.timed(operation, call);
      this.metrics.uploaded(route, ...written(result));
      return result;
    } catch (error) {
      this.metrics.uploadFailed(route, error);
      throw error;
    }
  }
}

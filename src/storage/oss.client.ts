import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { ObjectInfo, ObjectStream } from './object-store.js';

/** The part of ali-oss this adapter uses (its published typings lag behind the library). */
export interface OssClient {
  putStream(name: string, stream: Readable, options?: object): Promise<{ res: OssResponse }>;
  append(name: string, data: Buffer, options: object): Promise<{ res: OssResponse; nextAppendPosition: string }>;
  head(name: string): Promise<{ res: OssResponse }>;
  getStream(name: string): Promise<{ stream: Readable; res: OssResponse }>;
  listV2(query: object, options?: object): Promise<{ objects?: { name: string; size: number; etag: string; lastModified: string }[]; nextContinuationToken?: string; isTruncated: boolean }>;
  delete(name: string): Promise<unknown>;
  initMultipartUpload(name: string, options?: object): Promise<{ uploadId: string }>;
  _uploadPart(name: string, uploadId: string, partNumber: number, data: { stream: Readable; size: number }, options?: object): Promise<{ etag: string; res: OssResponse }>;
  listParts(name: string, uploadId: string, query?: object): Promise<{ parts: { PartNumber: string; Size: string; ETag: string; HashCrc64ecma?: string }[]; isTruncated: string | boolean; nextPartNumberMarker: string }>;
  completeMultipartUpload(name: string, uploadId: string, parts: { number: number; etag: string }[], options?: object): Promise<{ res: OssResponse }>;
  abortMultipartUpload(name: string, uploadId: string): Promise<unknown>;
}

export interface OssResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as received (ali-oss keeps it here; CompleteMultipartUpload's result XML carries the ETag). */
  data?: Buffer | string;
}

/** ali-oss's HTTP client: one call per request, with the headers it will send. */
export interface HttpClient {
  request(url: string, params: { headers: Record<string, string> }): Promise<unknown>;
}

/** ali-oss's client, loaded on the first oss store made: a host storing in a folder never loads it (a few percent of every start). */
export function newOssClient(options: object): OssClient {
  const OSS = createRequire(import.meta.url)('ali-oss') as new (options: object) => OssClient;
  return new OSS(options);
}

/** Where a cursor is a key to continue after (the store gave no continuation token), not a token of the store's. */
export const START_AFTER = 'start-after:';

export function listPosition(cursor: string | undefined): Record<string, string> {
  if (!cursor) return {};
  return cursor.startsWith(START_AFTER) ? { 'start-after': cursor.slice(START_AFTER.length) } : { 'continuation-token': cursor };
}

/**
 * The object a write's answer describes, of `size` bytes of `contentType`: the ETag of PutObject's answer
 * header or CompleteMultipartUpload's result XML, and the answer's time. CRC64 left to the caller.
 */
export function described(key: string, response: OssResponse, size: number, contentType: string): ObjectInfo {
  const body = response.data === undefined ? '' : response.data.toString();
  const fromXml = /<ETag>([^<]*)<\/ETag>/.exec(body)?.[1]?.replaceAll('&quot;', '"');
  const when = response.headers['last-modified'] ?? response.headers.date;
  return { key, size, crc64: '', contentType, etag: response.headers.etag ?? fromXml ?? '', modified: when ? new Date(when) : new Date() };
}

export function toInfo(key: string, headers: Record<string, string>): ObjectStream['info'] {
  return {
    key,
    size: headers['content-length'] === undefined ? null : Number(headers['content-length']),
    crc64: headers['x-oss-hash-crc64ecma'] ?? '',
    contentType: headers['content-type'] ?? 'application/octet-stream',
    etag: headers.etag ?? '',
    modified: new Date(headers['last-modified'] ?? Date.now()),
  };
}

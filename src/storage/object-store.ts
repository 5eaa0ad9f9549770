import type { Readable } from 'node:stream';
import { BadInput, DomainError } from '../common/errors.js';
import { MAX_KEY_BYTES, objectKeyProblem } from '../common/object-keys.js';
import { isMediaType, MEDIA_TYPE_RULE } from './media-type.js';

/** What every store knows about a stored object. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** CRC-64/ECMA-182 of the whole object, decimal (the `x-oss-hash-crc64ecma` format); '' when the store keeps none. */
  crc64: string;
  /**
   * After a write: false when the store reported no CRC64 of its own (some OSS-compatible servers),
   * so `crc64` is the one dozen computed of the bytes it sent, unconfirmed by the store. Absent: confirmed.
   */
  crc64Confirmed?: boolean;
  contentType: string;
  etag: string;
  modified: Date;
}

/** An object being read: its metadata, with `size` null when the store did not say (a chunked answer), and its bytes. */
export interface ObjectStream {
  info: Omit<ObjectInfo, 'size'> & { size: number | null };
  body: Readable;
}

export interface PutOptions {
  contentType?: string;
  /** Base64 MD5 of the body (the `Content-MD5` header); a mismatch stores nothing and throws ChecksumMismatch. */
  md5?: string;
  /** Refuse to replace an existing object (`If-None-Match: *`); throws ObjectExists. */
  ifNoneMatch?: boolean;
}

export interface AppendResult {
  /** Where the next append must start: the object's length after this one. */
  nextPosition: number;
  crc64: string;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  etag: string;
  crc64: string;
}

/** An object as a listing shows it (OSS listings carry no CRC64 or content type; HEAD the key for those). */
export interface ObjectSummary {
  key: string;
  size: number;
  etag: string;
  modified: Date;
}

export interface ListPage {
  objects: ObjectSummary[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

/**
 * The only seam through which dozen talks to object storage. One adapter per
 * engine (`local.object-store.ts`, `oss.object-store.ts`), chosen by
 * `storage.driver`. Every method validates its key with `assertSafeKey`, and a
 * write its content type with `assertContentType`.
 * Adapters throw the errors below so callers never see engine details.
 */
export interface ObjectStore {
  /** Streams `body` into `key`. The object appears whole or not at all; the CRC64 is checked against what was sent. */
  put(key: string, body: Readable, options?: PutOptions): Promise<ObjectInfo>;
  /**
   * Appends `data` at `position`, which must equal the object's current length (0 creates it).
   * Otherwise throws PositionMismatch carrying the real length, and writes nothing: a retried
   * append can never land twice.
   */
  append(key: string, position: number, data: Buffer, options?: { contentType?: string }): Promise<AppendResult>;
  /** The object's metadata, or null when there is none. */
  head(key: string): Promise<ObjectInfo | null>;
  /** The object's bytes as a stream (not buffered); throws ObjectNotFound. */
  get(key: string): Promise<ObjectStream>;
  /** Objects whose key starts with `prefix`, in key order, at most `limit` per page; the prefix is checked with `assertSafePrefix`. */
  list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<ListPage>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;

  /**
   * Starts a multipart upload to `key`; returns the store's upload id. `partSize` promises
   * parts 1..n of that size, the last one at most: a store may then place each part where it
   * belongs as it arrives instead of copying the parts together at the end.
   */
  createMultipart(key: string, options?: { contentType?: string; partSize?: number }): Promise<string>;
  /**
   * Stores part `partNumber` (1..10000) of an upload; re-sending a part replaces it.
   * `size` is the body's length when known (OSS needs it: a part is not sent chunked).
   */
  putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<PartInfo>;
  /** The parts stored so far, in part order. */
  listParts(key: string, uploadId: string): Promise<PartInfo[]>;
  /**
   * Joins the parts (all, in order) into the object; throws PartTooSmall when a part but the last is under MIN_PART_SIZE.
   * `contentType` is the one the upload was created with (a store that describes the object from its answer needs it).
   */
  completeMultipart(key: string, uploadId: string, options?: { ifNoneMatch?: boolean; contentType?: string }): Promise<ObjectInfo>;
  /** Drops the upload and its parts. */
  abortMultipart(key: string, uploadId: string): Promise<void>;

  /** A cheap check that the store answers; throws with a reason when it does not. */
  check(): Promise<void>;
}

export const OBJECT_STORE = Symbol('OBJECT_STORE');

export const MAX_PART_NUMBER = 10_000;
/** OSS joins parts only when every one but the last is at least this long; every store keeps that rule. */
export const MIN_PART_SIZE = 100 * 1024;

export class BadKey extends DomainError {
  constructor(key: string, why: string) {
    super(400, 'bad_key', `object key ${JSON.stringify(key)} ${why}`, 'key');
  }
}

export class ObjectNotFound extends DomainError {
  constructor(key: string) {
    super(404, 'not_found', `object ${JSON.stringify(key)} does not exist`);
  }
}

export class ObjectExists extends DomainError {
  constructor(key: string) {
    super(412, 'precondition_failed', `object ${JSON.stringify(key)} exists and If-None-Match: * forbids replacing it`);
  }
}

/** The API's limit on an object's size (`storage.maxObjectBytes`); the adapters know none. */
export class ObjectTooLarge extends DomainError {
  constructor(what: string, maxObjectBytes: number) {
    super(413, 'payload_too_large', `${what} would make an object larger than ${maxObjectBytes} bytes (storage.maxObjectBytes); nothing was stored`, undefined, { maxObjectBytes });
  }
}

export class ChecksumMismatch extends DomainError {
  /** `outcome`: what became of the write; the store may have kept what it got (a whole object OSS says is other than what was sent). */
  constructor(what: string, expected: string, actual: string, outcome = 'nothing was stored') {
    super(400, 'checksum_mismatch', `${what} does not match: expected ${expected}, got ${actual}; ${outcome}`);
  }
}

/** What a checksum mismatch of a whole object leaves: OSS applied the write, so the key holds bytes other than those sent. */
export const STORED_OTHER_BYTES = 'the store kept an object that differs from what was sent: write it again';

export class PositionMismatch extends DomainError {
  constructor(
    key: string,
    readonly position: number,
    readonly length: number,
    /** The object's CRC64 at `length`, when the store said: tells whether the bytes past `position` are the ones just sent. */
    readonly crc64?: string,
  ) {
    super(409, 'position_mismatch', `append to ${JSON.stringify(key)} at ${position}, but the object is ${length} bytes long`);
  }
}

/**
 * An append the store refused, having written nothing, because the object takes no more appends:
 * `full`, it would grow past what an appendable object may hold (OSS: 5 GB); else it was not made by
 * appends (a PUT replaced it).
 */
export class NotAppendable extends DomainError {
  constructor(
    key: string,
    readonly full: boolean,
  ) {
    super(409, 'not_appendable', `object ${JSON.stringify(key)} ${full ? 'would grow past the 5 GB an appendable object may hold' : 'was not created by appends and cannot be appended to'}; nothing was appended`);
  }
}

export class PartTooSmall extends DomainError {
  constructor(partNumber: number | null) {
    super(400, 'part_too_small', `every part but the last must be at least ${MIN_PART_SIZE} bytes (100 KB)${partNumber === null ? '' : `; part ${partNumber} is smaller`}; the upload is kept, re-send the part`, 'partNumber');
  }
}

/** The disk under dozen's data folder is full (ENOSPC) or its quota spent (EDQUOT). */
export class InsufficientStorage extends DomainError {
  constructor(folder: string) {
    super(507, 'insufficient_storage', `no space left on the disk of ${folder}; nothing was stored`);
  }
}

/** Rethrows a failed write: a full disk as the caller's 507 naming `folder`; it was a 500 `internal error` that said nothing. */
export function rethrowNoSpace(error: unknown, folder: string): never {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  throw code === 'ENOSPC' || code === 'EDQUOT' ? new InsufficientStorage(folder) : error;
}

/** The store did not answer, or answered with an error of its own (5xx after retries). */
export class StoreUnavailable extends DomainError {
  constructor(message: string) {
    super(503, 'store_unavailable', message);
  }
}

export class TooManyUploads extends DomainError {
  constructor(maxOpenUploads: number) {
    super(429, 'too_many_uploads', `this caller has ${maxOpenUploads} resumable uploads open (storage.maxOpenUploads): complete or abandon one first`, undefined, { maxOpenUploads });
  }
}

export class UploadNotFound extends DomainError {
  constructor(uploadId: string) {
    super(404, 'not_found', `upload ${JSON.stringify(uploadId)} does not exist`);
  }
}

/** The key rules every adapter shares (OSS's own limits, plus no path tricks for folder-backed stores). */
export function assertSafeKey(key: string): void {
  if (typeof key !== 'string') throw new BadKey(String(key), 'is not a string');
  const broken = objectKeyProblem(key);
  if (broken) throw new BadKey(shown(key), broken);
}

export function isSafeKey(key: string): boolean {
  return objectKeyProblem(key) === null;
}

/**
 * A listing's prefix follows the same rules, but may be empty (everything) or end with `/` (a
 * folder's keys): its segments are what a folder-backed store walks, so `logs/app1/../..` must
 * never reach one, and a confined token's prefix check must compare names the store will use.
 * Its last segment (after the last `/`) is only the start of a name, never walked: `.` and `a/..`
 * list keys such as `.profile` and `a/..b`. The local store reads that segment only as a filter on
 * the names of the folder before it, and a folder's names never include `.` or `..`.
 */
export function assertSafePrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw new BadInput('prefix', 'must be given once, as a string');
  const broken = objectKeyProblem(prefix, true);
  if (broken) throw new BadInput('prefix', `${JSON.stringify(shown(prefix))} ${broken}`);
}

/** A name as an error message quotes it: an over-long one cut short. */
function shown(name: string): string {
  return Buffer.byteLength(name, 'utf8') > MAX_KEY_BYTES ? name.slice(0, 40) + '…' : name;
}

/** A content type given with a write is a media type (media-type.ts): it is sent back as a header on every read. */
export function assertContentType(contentType: string | undefined): void {
  if (contentType !== undefined && !isMediaType(contentType)) throw new BadInput('contentType', MEDIA_TYPE_RULE);
}

export function assertPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new DomainError(400, 'bad_request', `part number must be an integer from 1 to ${MAX_PART_NUMBER}`, 'partNumber');
  }
}

import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DomainError } from '../common/errors.js';
import { contentTypeFor } from './content-type.js';
import { chunksOf, rechunk } from './chunks.js';
import { combineCrc64, Crc64 } from './crc64.js';
import { domainErrorOf, type OssError, type RequestContext } from './oss.errors.js';
import {
  assertContentType, assertPartNumber, assertSafeKey, assertSafePrefix, ChecksumMismatch, ObjectExists, ObjectNotFound, PositionMismatch, StoreUnavailable, STORED_OTHER_BYTES, UploadNotFound,
  type AppendResult, type ListPage, type ObjectInfo, type ObjectStore, type ObjectStream, type PartInfo, type PutOptions,
} from './object-store.js';
import { described, listPosition, newOssClient, START_AFTER, toInfo, type HttpClient, type OssClient, type OssResponse } from './oss.client.js';
import type { StorageConfig } from './storage.config.js';

export interface OssSettings {
  oss: StorageConfig['oss'];
  multipartThreshold: number;
  partSize: number;
}

/**
 * Objects in an Alibaba Cloud OSS bucket through `ali-oss`. Streams are cut
 * into part-size buffers: a body up to the threshold is one PutObject, a
 * larger one a multipart upload with two parts in flight. Every call is
 * retried with backoff on 5xx and network errors (a buffered body can be sent
 * again), and the CRC64 OSS reports is checked against what was sent.
 */
export class OssObjectStore implements ObjectStore {
  private readonly client: OssClient & { urllib: HttpClient };

  constructor(
    private readonly settings: OssSettings,
    private readonly log: Logger,
    /** Told of every retry, with the OSS API request it repeats (for the retry metric). */
    private readonly onRetry: (request: string) => void = () => undefined,
  ) {
    const { oss } = settings;
    // The config refuses these missing (exit 2, one line); this guards other callers.
    if (!oss.bucket || !oss.accessKeyId || !oss.accessKeySecret || !(oss.region || oss.endpoint)) {
      throw new Error('storage.driver is oss: storage.oss.bucket, accessKeyId, accessKeySecret and region or endpoint are required');
    }
    this.client = newOssClient({
      bucket: oss.bucket,
      // ali-oss reads `region` and `endpoint` when present, even undefined: pass only what is set.
      ...(oss.region ? { region: oss.region } : {}),
      ...(oss.endpoint ? { endpoint: oss.endpoint } : {}),
      accessKeyId: oss.accessKeyId,
      accessKeySecret: oss.accessKeySecret,
      authorizationV4: oss.authorizationVersion === 'v4',
      // Path style (`endpoint/bucket/key`) for OSS-compatible servers without per-bucket host names.
      sldEnable: oss.pathStyle,
      secure: oss.endpoint ? oss.endpoint.startsWith('https:') : true,
      timeout: oss.timeoutMs,
    }) as OssClient & { urllib: HttpClient };
    if (oss.pathStyle) {
      // For an IP-address endpoint ali-oss 6.23 sets `Host: <bucket>.<region>.aliyuncs.com` (virtual-hosted
      // style) even with sldEnable, so a server routing by Host takes the request for another bucket.
      // In path style the bucket is in the path and Host is the endpoint's own host:port, which the
      // HTTP client sets from the URL once ali-oss's is gone. Neither signature version signs Host.
      const http = this.client.urllib;
      this.client.urllib = {
        request: (url, params) => {
          delete params.headers.host;
          return http.request(url, params);
        },
      };
    }
  }

  /** One ListObjectsV2, never retried: a health probe must say at once why the store does not answer. */
  async check(): Promise<void> {
    await this.translate({ request: 'ListObjectsV2', key: '' }, () => this.client.listV2({ 'max-keys': 1 }));
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    assertSafeKey(key);
    assertContentType(options.contentType);
    const crc = new Crc64();
    const md5 = options.md5 ? createHash('md5') : null;
    let size = 0;
    const chunks = chunksOf(body, this.settings.partSize, (chunk) => {
      size += chunk.length;
      crc.update(chunk);
      md5?.update(chunk);
    });
    const contentType = options.contentType ?? contentTypeFor(key);
    const overwrite = options.ifNoneMatch ? { 'x-oss-forbid-overwrite': 'true' } : {};
    // Read up to the threshold first: a body that ends before it is one PutObject.
    const head: Buffer[] = [];
    let headSize = 0;
    let next = await chunks.next();
    while (!next.done && headSize + next.value.length <= this.settings.multipartThreshold) {
      head.push(next.value);
      headSize += next.value.length;
      next = await chunks.next();
    }
    const checkMd5 = () => {
      if (md5 && options.md5) {
        const actual = md5.digest('base64');
        if (actual !== options.md5) throw new ChecksumMismatch('Content-MD5', options.md5, actual);
      }
    };
    if (next.done) {
      checkMd5();
      const data = Buffer.concat(head);
      const result = await this.retrying(
        'PutObject',
        key,
        () => this.client.putStream(key, Readable.from([data]), { contentLength: data.length, mime: contentType, headers: { 'Content-Type': contentType, ...overwrite } }),
        undefined,
        (error) => (error instanceof ObjectExists ? this.holdsAlready(key, data.length, crc.value) : null),
      );
      return this.stored(key, result.res, { size: data.length, crc64: crc.value, contentType });
    }
    const { uploadId } = await this.retrying('InitiateMultipartUpload', key, () => this.client.initMultipartUpload(key, { mime: contentType, headers: { 'Content-Type': contentType } }));
    try {
      const parts: { number: number; etag: string }[] = [];
      const inFlight = new Set<Promise<void>>();
      let partNumber = 0;
      const send = (data: Buffer) => {
        const number = ++partNumber;
        const sending: Promise<void> = this.sendPart(key, uploadId, number, data)
          .then((part) => void parts.push({ number, etag: part.etag }))
          .finally(() => inFlight.delete(sending));
        inFlight.add(sending);
      };
      for (const buffer of rechunk(head, this.settings.partSize)) send(buffer);
      for (; !next.done; next = await chunks.next()) {
        while (inFlight.size >= 2) await Promise.race(inFlight);
        send(next.value);
      }
      await Promise.all(inFlight);
      checkMd5();
      parts.sort((left, right) => left.number - right.number);
      const result = await this.retrying('CompleteMultipartUpload', key, () => this.client.completeMultipartUpload(key, uploadId, parts, { headers: overwrite }), uploadId, (error) =>
        error instanceof UploadNotFound || error instanceof ObjectExists ? this.holdsAlready(key, size, crc.value) : null,
      );
      return this.stored(key, result.res, { size, crc64: crc.value, contentType });
    } catch (error) {
      await this.client.abortMultipartUpload(key, uploadId).catch(() => undefined);
      throw error;
    }
  }

  async append(key: string, position: number, data: Buffer, options: { contentType?: string } = {}): Promise<AppendResult> {
    assertSafeKey(key);
    assertContentType(options.contentType);
    try {
      const result = await this.retrying('AppendObject', key, () =>
        this.client.append(key, data, { position: String(position), mime: options.contentType ?? contentTypeFor(key), headers: { 'Content-Type': options.contentType ?? contentTypeFor(key) } }),
      );
      return { nextPosition: Number(result.nextAppendPosition), crc64: result.res.headers['x-oss-hash-crc64ecma'] };
    } catch (error) {
      if ((error as OssError).code !== 'PositionNotEqualToLength') throw error;
      // ali-oss drops the x-oss-next-append-position header of the error; the object's length is the same fact.
      const now = await this.head(key);
      throw new PositionMismatch(key, position, now?.size ?? 0, now ? now.crc64 || undefined : '0');
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertSafeKey(key);
    try {
      const { res } = await this.retrying('HeadObject', key, () => this.client.head(key));
      const info = toInfo(key, res.headers);
      if (info.size === null) throw new DomainError(502, 'store_error', `the store answered HeadObject ${JSON.stringify(key)} without Content-Length`);
      return { ...info, size: info.size };
    } catch (error) {
      if (error instanceof ObjectNotFound) return null;
      throw error;
    }
  }

  async get(key: string): Promise<ObjectStream> {
    assertSafeKey(key);
    const { stream, res } = await this.retrying('GetObject', key, () => this.client.getStream(key));
    // Some OSS-compatible servers answer chunked, without Content-Length: the size is then unknown.
    return { info: toInfo(key, res.headers), body: stream };
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    assertSafePrefix(prefix);
    const limit = Math.min(Math.max(options.limit ?? 1000, 1), 1000);
    // An empty prefix is left out: ali-oss 6.23 V4-signs it as `prefix=`, where OSS's canonical
    // query string has a parameter without a value as its name alone, and OSS refuses the signature.
    const query = { ...(prefix ? { prefix } : {}), 'max-keys': limit, ...listPosition(options.cursor) };
    const result = await this.retrying('ListObjectsV2', prefix, () => this.client.listV2(query));
    const objects = (result.objects ?? []).map((object) => ({ key: object.name, size: Number(object.size), etag: object.etag, modified: new Date(object.lastModified) }));
    if (!result.isTruncated) return { objects };
    if (result.nextContinuationToken) return { objects, nextCursor: result.nextContinuationToken };
    // Some OSS-compatible servers say a page is truncated but send no token: go on after its last key.
    const last = objects[objects.length - 1];
    if (!last) throw new StoreUnavailable(`ListObjectsV2 ${JSON.stringify(prefix)}: the store says the listing goes on but sent neither a continuation token nor a key to continue after`);
    return { objects, nextCursor: START_AFTER + last.key };
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await this.retrying('DeleteObject', key, () => this.client.delete(key)).catch((error: unknown) => {
      if (!(error instanceof ObjectNotFound)) throw error;
    });
  }

  async createMultipart(key: string, options: { contentType?: string } = {}): Promise<string> {
    assertSafeKey(key);
    assertContentType(options.contentType);
    const contentType = options.contentType ?? contentTypeFor(key);
    return (await this.retrying('InitiateMultipartUpload', key, () => this.client.initMultipartUpload(key, { mime: contentType, headers: { 'Content-Type': contentType } }))).uploadId;
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<PartInfo> {
    assertSafeKey(key);
    assertPartNumber(partNumber);
    if (size === undefined) throw new DomainError(411, 'length_required', 'a part for the oss store needs a Content-Length');
    const crc = new Crc64();
    let seen = 0;
    const counted = body.pipe(new PassThrough({ transform: (chunk: Buffer, _encoding, done) => (crc.update(chunk), (seen += chunk.length), done(null, chunk)) }));
    // A streamed part cannot be replayed, so it is sent once; the client retries the part.
    const result = await this.translate({ request: 'UploadPart', key, uploadId }, () => this.client._uploadPart(key, uploadId, partNumber, { stream: counted, size }));
    if (seen !== size) throw new ChecksumMismatch(`part ${partNumber} length`, String(size), String(seen));
    this.checkCrc(key, result.res, crc.value);
    return { partNumber, size, etag: result.etag, crc64: crc.value };
  }

  async listParts(key: string, uploadId: string): Promise<PartInfo[]> {
    assertSafeKey(key);
    const parts: PartInfo[] = [];
    let marker = '0';
    for (;;) {
      const page = await this.retrying('ListParts', key, () => this.client.listParts(key, uploadId, { 'max-parts': 1000, 'part-number-marker': marker }), uploadId);
      const listed = Array.isArray(page.parts) ? page.parts : [page.parts];
      for (const part of listed) {
        parts.push({ partNumber: Number(part.PartNumber), size: Number(part.Size), etag: part.ETag, crc64: part.HashCrc64ecma ?? '' });
      }
      if (String(page.isTruncated) !== 'true') return parts;
      marker = page.nextPartNumberMarker;
    }
  }

  async completeMultipart(key: string, uploadId: string, options: { ifNoneMatch?: boolean; contentType?: string } = {}): Promise<ObjectInfo> {
    const parts = await this.listParts(key, uploadId);
    if (!parts.length) throw new DomainError(400, 'bad_request', `upload ${uploadId} has no parts`);
    const joined = parts.every((part) => part.crc64) ? parts.reduce((crc, part) => combineCrc64(crc, part.crc64, part.size), '0') : null;
    const size = parts.reduce((sum, part) => sum + part.size, 0);
    const result = await this.retrying(
      'CompleteMultipartUpload',
      key,
      () => this.client.completeMultipartUpload(key, uploadId, parts.map((part) => ({ number: part.partNumber, etag: part.etag })), { headers: options.ifNoneMatch ? { 'x-oss-forbid-overwrite': 'true' } : {} }),
      uploadId,
      (error) => ((error instanceof UploadNotFound || error instanceof ObjectExists) && joined ? this.holdsAlready(key, size, joined) : null),
    );
    // OSS answers with the whole object's CRC64; it must be the parts' CRC64s joined. Without the parts'
    // CRC64s there is nothing to compare: the object is described from the answer with no CRC64 (the
    // service joins the ones it computed of the parts it received).
    const contentType = options.contentType ?? contentTypeFor(key);
    if (joined) return this.stored(key, result.res, { size, crc64: joined, contentType });
    return { ...described(key, result.res, size, contentType), crc64: result.res.headers['x-oss-hash-crc64ecma'] ?? '' };
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    assertSafeKey(key);
    await this.retrying('AbortMultipartUpload', key, () => this.client.abortMultipartUpload(key, uploadId), uploadId);
  }

  private async sendPart(key: string, uploadId: string, partNumber: number, data: Buffer): Promise<{ etag: string }> {
    const crc64 = new Crc64().update(data).value;
    const result = await this.retrying('UploadPart', key, () => this.client._uploadPart(key, uploadId, partNumber, { stream: Readable.from([data]), size: data.length }), uploadId);
    this.checkCrc(key, result.res, crc64);
    return { etag: result.etag };
  }

  private checkCrc(key: string, response: OssResponse, expected: string): void {
    const actual = response.headers['x-oss-hash-crc64ecma'];
    if (actual !== undefined && actual !== expected) throw new ChecksumMismatch(`CRC64 of ${key} reported by OSS`, expected, actual);
  }

  /**
   * The object this write stored, described from the store's answer to it: the size, content type and
   * CRC64 of the bytes this request sent, the answer's ETag. The answer's `x-oss-hash-crc64ecma` (OSS
   * sends it on PutObject and CompleteMultipartUpload) is the CRC64 of what OSS stored for this request,
   * and it must equal what was sent. The key is not read back: by then another writer may have replaced
   * the object (last writer wins, as on OSS itself), and its bytes say nothing of this write's.
   *
   * Only when the answer has no CRC64 (some OSS-compatible servers) is the key HEADed, for a CRC64 the
   * store may show there. When the HEAD shows this write's object (the answer's ETag), its CRC64 is
   * checked; when it shows another (another ETag, or none with another size or CRC64), a later write
   * replaced it: this one still succeeded, as its answer said, and is reported as sent with
   * `crc64Confirmed: false`. A 409 would be wrong there: the write was applied and the store's own
   * answer said so; S3 and OSS clients likewise take the write's answer, not a later read.
   */
  private async stored(key: string, response: OssResponse, sent: { size: number; crc64: string; contentType: string }): Promise<ObjectInfo> {
    const info = { ...described(key, response, sent.size, sent.contentType), crc64: sent.crc64 };
    const reported = response.headers['x-oss-hash-crc64ecma'];
    if (reported !== undefined) {
      if (reported !== sent.crc64) throw new ChecksumMismatch(`CRC64 of ${key} reported by OSS`, sent.crc64, reported, STORED_OTHER_BYTES);
      return info;
    }
    const now = await this.head(key);
    const ours = now !== null && (info.etag ? now.etag === info.etag : now.size === sent.size && now.crc64 === sent.crc64 && now.crc64 !== '');
    if (!ours) {
      this.log.info({ key, etag: info.etag, now: now && { etag: now.etag, size: now.size } }, 'the store answered the write without a CRC64 and the key now shows another object or none (a later write or delete): the write is reported as sent, unconfirmed');
      return { ...info, crc64Confirmed: false };
    }
    if (now.crc64 && now.crc64 !== sent.crc64) throw new ChecksumMismatch(`CRC64 of ${key} shown by OSS`, sent.crc64, now.crc64, STORED_OTHER_BYTES);
    return { ...info, etag: info.etag || now.etag, modified: now.modified, crc64Confirmed: now.crc64 !== '' };
  }

  /**
   * After a retry: the answer of a write that `key` now holds as this request sent it (its size and
   * CRC64). An earlier attempt whose answer was lost (the connection cut, a gateway's 5xx after OSS
   * applied it) makes a retried PUT with x-oss-forbid-overwrite hear FileAlreadyExists, and a retried
   * CompleteMultipartUpload NoSuchUpload, though the write is done.
   */
  private async holdsAlready(key: string, size: number, crc64: string): Promise<{ res: OssResponse } | null> {
    const info = await this.head(key);
    if (!info || info.size !== size || info.crc64 !== crc64) return null;
    return { res: { status: 200, headers: { 'x-oss-hash-crc64ecma': crc64, etag: info.etag, 'last-modified': info.modified.toUTCString() } } };
  }

  /**
   * Retries 5xx and network failures of the OSS API `request` with exponential backoff; maps OSS errors to
   * the port's errors. A refusal after a retry may only say that an earlier attempt landed: `landed` is
   * asked then, and its answer, when it has one, stands for the lost one.
   */
  private async retrying<T>(request: string, key: string, call: () => Promise<T>, uploadId?: string, landed?: (error: unknown) => Promise<T | null> | null): Promise<T> {
    const retries = this.settings.oss.retries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.translate({ request, key, uploadId }, call);
      } catch (error) {
        if (attempt > 0 && landed && !(error instanceof StoreUnavailable)) {
          const earlier = await landed(error);
          if (earlier) {
            this.log.info({ request, key, attempt: attempt + 1 }, 'OSS refused the retry because the attempt whose answer was lost had landed; done');
            return earlier;
          }
        }
        if (!(error instanceof StoreUnavailable) || attempt >= retries) throw error;
        const delay = Math.min(200 * 2 ** attempt, 5000);
        this.log.warn({ request, key, attempt: attempt + 1, retryInMs: delay, err: error.message }, 'OSS request failed; retrying');
        this.onRetry(request);
        await sleep(delay);
      }
    }
  }

  private async translate<T>(context: RequestContext, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw domainErrorOf(context, error as OssError);
    }
  }
}

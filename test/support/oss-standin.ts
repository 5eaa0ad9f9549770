/**
 * A stand-in for the Alibaba Cloud OSS API, written from its documentation, for
 * testing the `oss` adapter on loopback: one bucket, objects in memory. It routes
 * by `Host` as OSS documents it (a bucket domain is `BucketName.Endpoint`:
 * https://help.aliyun.com/en/oss/developer-reference/overview-24): `Host` naming
 * the stand-in itself (`127.0.0.1:<port>`) is a path-style request (`/<bucket>/<key>`),
 * `Host: <bucket>.oss-<region>.aliyuncs.com` a virtual-hosted one (`/<key>`; what
 * a client sends OSS when it connects to an IP address). It checks V1 and V4 signatures
 * (`oss-signatures.ts`; `signatures` narrows which it takes, so a test can prove
 * a client signs V4) and answers like OSS: XML bodies, `x-oss-hash-crc64ecma`,
 * `x-oss-next-append-position`, error codes.
 *
 * Operations: PutObject, GetObject, HeadObject, DeleteObject, ListObjectsV2,
 * AppendObject, InitiateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts. Faults: `stop()`/`start()` (store down),
 * `failNext(n)` (503s, or another status and code), `cutAfterApplying(n)` (the request is
 * carried out, then the connection is cut before the answer: an answer lost on the way). `quirks` switch on what some
 * OSS-compatible servers do differently; by default it answers strictly as OSS.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { crc64Of, Crc64 } from '../../src/storage/crc64.js';
import { checkV1, checkV4, signatureVersionOf } from './oss-signatures.js';

interface StoredObject {
  data: Buffer;
  contentType: string;
  etag: string;
  type: 'Normal' | 'Appendable' | 'Multipart';
  modified: Date;
  crc64: string;
}

interface Upload {
  key: string;
  contentType: string;
  parts: Map<number, { data: Buffer; etag: string; crc64: string; modified: Date }>;
}

type SignatureVersion = 'v1' | 'v4';

/** Every part of a multipart upload but the last must be at least this long (CompleteMultipartUpload answers EntityTooSmall). */
const MIN_PART_SIZE = 100 * 1024;

export interface OssStandIn {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** The bucket's region as V4 signatures name it (`cn-hangzhou`). */
  region: string;
  objects: Map<string, StoredObject>;
  /** Multipart uploads initiated and neither completed nor aborted, by upload id. */
  uploads: ReadonlyMap<string, { key: string }>;
  requests: { method: string; path: string; host: string; signature: SignatureVersion | null }[];
  /** Refuse connections (the store is down) until `start()`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Answer the next `count` requests (of `method` only, when given) with 503 ServiceUnavailable (or `status` and `code`). */
  failNext(count: number, status?: number, code?: string, method?: string): void;
  /**
   * Carry out the next `count` requests (of `method` only, and with the query parameter `param`, when
   * given) as usual, then cut their connection instead of answering: the client cannot tell it from a
   * request that never arrived.
   */
  cutAfterApplying(count: number, method?: string, param?: string): void;
  close(): Promise<void>;
}

/** The env that points a spawned dozen's storage module at this stand-in, signing V1 (the default) or V4. */
export function dozenOssEnv(standIn: OssStandIn, signature: SignatureVersion = 'v1'): Record<string, string> {
  return {
    DOZEN_MODULES: 'storage',
    DOZEN_STORAGE_DRIVER: 'oss',
    DOZEN_STORAGE_OSS_ENDPOINT: standIn.endpoint,
    DOZEN_STORAGE_OSS_REGION: `oss-${standIn.region}`,
    DOZEN_STORAGE_OSS_BUCKET: standIn.bucket,
    DOZEN_STORAGE_OSS_ACCESS_KEY_ID: standIn.accessKeyId,
    DOZEN_STORAGE_OSS_ACCESS_KEY_SECRET: standIn.accessKeySecret,
    DOZEN_STORAGE_OSS_AUTHORIZATION_VERSION: signature,
    DOZEN_STORAGE_OSS_PATH_STYLE: 'true',
  };
}

export interface StandInOptions {
  port?: number;
  /** The signature versions accepted (both, as OSS does, by default); a request signed otherwise gets 403 AccessDenied. */
  signatures?: SignatureVersion[];
  quirks?: Quirks;
  /** The largest an appendable object may grow (OSS: 5 GB); an AppendObject past it is refused, nothing written. */
  maxAppendableBytes?: number;
}

/** What other OSS-compatible servers do that OSS does not; each off unless asked for. */
export interface Quirks {
  /** GetObject answers without Content-Length (Transfer-Encoding: chunked). */
  chunkedGets?: boolean;
  /** No `x-oss-hash-crc64ecma` header on any answer, no `HashCrc64ecma` in ListParts. */
  noCrc64?: boolean;
  /** A truncated ListObjectsV2 page carries no NextContinuationToken (the client must go on with start-after). */
  truncatedListingsWithoutToken?: boolean;
}

export async function startOssStandIn(options: StandInOptions = {}): Promise<OssStandIn> {
  const bucket = 'dozen-test';
  const accessKeyId = 'LTAIstandin';
  const accessKeySecret = 'standin-secret';
  const region = 'cn-hangzhou';
  const accepted = options.signatures ?? ['v1', 'v4'];
  const objects = new Map<string, StoredObject>();
  const uploads = new Map<string, Upload>();
  const requests: OssStandIn['requests'] = [];
  const quirks = options.quirks ?? {};
  const maxAppendableBytes = options.maxAppendableBytes ?? 5 * 1024 ** 3;
  let failures = 0;
  let failure: { status: number; code: string; method?: string } = { status: 503, code: 'ServiceUnavailable' };
  let cuts = 0;
  let cutOf: { method?: string; param?: string } = {};
  const sockets = new Set<Socket>();

  const handler = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://standin');
    const signature = signatureVersionOf(request.headers);
    const host = header(request, 'host') ?? '';
    requests.push({ method: request.method ?? '', path: url.pathname + url.search, host, signature });
    if (quirks.noCrc64) withoutCrc64(response);
    const body = await readBody(request);
    if (failures > 0 && (!failure.method || failure.method === request.method)) {
      failures--;
      return error(response, failure.status, failure.code, 'please try again');
    }
    if (cuts > 0 && (!cutOf.method || cutOf.method === request.method) && (!cutOf.param || url.searchParams.has(cutOf.param))) {
      cuts--;
      answerLost(response);
    }
    const addressed = route(host, url.pathname);
    if (!addressed) return error(response, 400, 'InvalidURI', `Host ${JSON.stringify(host)} names neither this endpoint (path style) nor a bucket domain <bucket>.oss-${region}.aliyuncs.com`);
    if (addressed.bucket !== bucket) return error(response, 404, 'NoSuchBucket', 'The specified bucket does not exist.');
    const key = addressed.key;
    if (!signature || !accepted.includes(signature)) return error(response, 403, 'AccessDenied', `an Authorization header signed ${accepted.join(' or ')} is required`);
    const signed = { method: request.method ?? '', bucket, key, rawQuery: (request.url ?? '').split('?').slice(1).join('?'), headers: request.headers };
    const credentials = { accessKeyId, accessKeySecret, region };
    const authProblem = signature === 'v4' ? checkV4(signed, credentials) : checkV1(signed, credentials);
    if (authProblem) return error(response, authProblem.status, authProblem.code, authProblem.message);
    const query = url.searchParams;
    const method = request.method;
    // OSS's object naming rules: 1 to 1023 bytes of UTF-8, not starting with / or \.
    if (key && (Buffer.byteLength(key) > 1023 || /^[/\\]/.test(key))) return error(response, 400, 'InvalidObjectName', 'The specified object is not valid.');

    if (!key) {
      if (method === 'GET' && query.get('list-type') === '2') return listObjects(response, query);
      return error(response, 400, 'InvalidArgument', 'unsupported bucket operation');
    }
    if (method === 'POST' && query.has('append')) return append(request, response, key, query.get('position'), body);
    if (method === 'POST' && query.has('uploads')) {
      const uploadId = randomUUID().replaceAll('-', '').toUpperCase();
      uploads.set(uploadId, { key, contentType: header(request, 'content-type') ?? 'application/octet-stream', parts: new Map() });
      return xml(response, 200, `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${escape(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (query.has('uploadId')) {
      const uploadId = query.get('uploadId')!;
      const upload = uploads.get(uploadId);
      if (!upload || upload.key !== key) return error(response, 404, 'NoSuchUpload', 'The specified upload does not exist.');
      if (method === 'PUT' && query.has('partNumber')) {
        const partNumber = Number(query.get('partNumber'));
        if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) return error(response, 400, 'InvalidArgument', 'partNumber');
        const etag = `"${md5(body).toString('hex').toUpperCase()}"`;
        const crc64 = crc64Of(body);
        upload.parts.set(partNumber, { data: body, etag, crc64, modified: new Date() });
        response.writeHead(200, { etag, ...(quirks.noCrc64 ? {} : { 'x-oss-hash-crc64ecma': crc64 }), 'x-oss-request-id': requestId() });
        return response.end();
      }
      if (method === 'GET') {
        // ListParts: parts after part-number-marker, at most max-parts (default 1000).
        const marker = Number(query.get('part-number-marker') ?? 0);
        const maxParts = Number(query.get('max-parts') ?? 1000);
        const after = [...upload.parts.entries()].filter(([number]) => number > marker).sort(([left], [right]) => left - right);
        const parts = after.slice(0, maxParts);
        const next = parts.length ? parts[parts.length - 1][0] : marker;
        return xml(response, 200, `<ListPartsResult><Bucket>${bucket}</Bucket><Key>${escape(key)}</Key><UploadId>${uploadId}</UploadId><PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${next}</NextPartNumberMarker><MaxParts>${maxParts}</MaxParts><IsTruncated>${after.length > parts.length}</IsTruncated>${parts
          .map(([number, part]) => `<Part><PartNumber>${number}</PartNumber><LastModified>${part.modified.toISOString()}</LastModified><ETag>${part.etag}</ETag>${quirks.noCrc64 ? '' : `<HashCrc64ecma>${part.crc64}</HashCrc64ecma>`}<Size>${part.data.length}</Size></Part>`)
          .join('')}</ListPartsResult>`);
      }
      if (method === 'DELETE') {
        uploads.delete(uploadId);
        response.writeHead(204, { 'x-oss-request-id': requestId() });
        return response.end();
      }
      if (method === 'POST') {
        const listed = [...body.toString('utf8').matchAll(/<Part>\s*<PartNumber>(\d+)<\/PartNumber>\s*<ETag>([^<]+)<\/ETag>\s*<\/Part>/g)].map((match) => ({ number: Number(match[1]), etag: match[2].replaceAll('&quot;', '"') }));
        if (!listed.length) return error(response, 400, 'MalformedXML', 'no parts');
        const chunks: Buffer[] = [];
        let previous = 0;
        for (const part of listed) {
          const stored = upload.parts.get(part.number);
          if (!stored || stored.etag !== part.etag) return error(response, 400, 'InvalidPart', `part ${part.number} was not uploaded or its ETag differs`);
          if (part.number <= previous) return error(response, 400, 'InvalidPartOrder', 'parts must be in ascending order');
          previous = part.number;
          chunks.push(stored.data);
        }
        if (chunks.slice(0, -1).some((chunk) => chunk.length < MIN_PART_SIZE)) return error(response, 400, 'EntityTooSmall', 'Your proposed upload smaller than the minimum allowed object size.');
        if (header(request, 'x-oss-forbid-overwrite') === 'true' && objects.has(key)) return error(response, 409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.');
        const data = Buffer.concat(chunks);
        const stored = store(key, data, upload.contentType, 'Multipart', `"${md5(data).toString('hex').toUpperCase()}-${listed.length}"`);
        uploads.delete(uploadId);
        // The CRC64 of the whole object, since every part has one.
        response.setHeader('x-oss-hash-crc64ecma', stored.crc64);
        return xml(response, 200, `<CompleteMultipartUploadResult><Location>http://standin/${bucket}/${escape(key)}</Location><Bucket>${bucket}</Bucket><Key>${escape(key)}</Key><ETag>${stored.etag}</ETag></CompleteMultipartUploadResult>`);
      }
    }
    if (method === 'PUT') {
      const contentMd5 = header(request, 'content-md5');
      if (contentMd5 && contentMd5 !== md5(body).toString('base64')) return error(response, 400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
      if (header(request, 'x-oss-forbid-overwrite') === 'true' && objects.has(key)) return error(response, 409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.');
      const stored = store(key, body, header(request, 'content-type') ?? 'application/octet-stream', 'Normal', `"${md5(body).toString('hex').toUpperCase()}"`);
      response.writeHead(200, { etag: stored.etag, 'x-oss-hash-crc64ecma': stored.crc64, 'content-md5': md5(body).toString('base64'), 'x-oss-request-id': requestId() });
      return response.end();
    }
    if (method === 'GET' || method === 'HEAD') {
      const stored = objects.get(key);
      if (!stored) return error(response, 404, 'NoSuchKey', 'The specified key does not exist.');
      const chunked = method === 'GET' && quirks.chunkedGets;
      response.writeHead(200, {
        'content-type': stored.contentType,
        ...(chunked ? {} : { 'content-length': String(stored.data.length) }),
        etag: stored.etag,
        'last-modified': stored.modified.toUTCString(),
        'x-oss-object-type': stored.type,
        'x-oss-hash-crc64ecma': stored.crc64,
        'x-oss-request-id': requestId(),
        ...(stored.type === 'Appendable' ? { 'x-oss-next-append-position': String(stored.data.length) } : {}),
      });
      // Written before end(), Node sends the body chunked when no Content-Length was set.
      if (chunked) response.write(stored.data);
      return response.end(method === 'GET' && !chunked ? stored.data : undefined);
    }
    if (method === 'DELETE') {
      objects.delete(key);
      response.writeHead(204, { 'x-oss-request-id': requestId() });
      return response.end();
    }
    return error(response, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  };

  function store(key: string, data: Buffer, contentType: string, type: StoredObject['type'], etag: string): StoredObject {
    const stored: StoredObject = { data, contentType, etag, type, modified: new Date(), crc64: crc64Of(data) };
    objects.set(key, stored);
    return stored;
  }

  /**
   * AppendObject: `position` is required and must be the object's length (0 creates it);
   * otherwise 409 PositionNotEqualToLength, with the length in x-oss-next-append-position. An
   * appendable object grows to 5 GB at most (`maxAppendableBytes`); a Normal or Multipart one takes
   * no appends (409 ObjectNotAppendable).
   */
  function append(request: IncomingMessage, response: ServerResponse, key: string, position: string | null, body: Buffer) {
    if (position === null || !/^\d+$/.test(position)) return error(response, 400, 'InvalidArgument', 'position must be a non-negative integer');
    const existing = objects.get(key);
    if (existing && existing.type !== 'Appendable') return error(response, 409, 'ObjectNotAppendable', 'The object is not appendable');
    const length = existing?.data.length ?? 0;
    if (Number(position) !== length) {
      response.setHeader('x-oss-next-append-position', String(length));
      return error(response, 409, 'PositionNotEqualToLength', 'Position is not equal to file length');
    }
    // The documentation states the limit, not its error: this is OSS's error for an upload past a size limit.
    if (length + body.length > maxAppendableBytes) return error(response, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.');
    const crc64 = existing ? Crc64.continuing(existing.crc64).update(body).value : crc64Of(body);
    const data = existing ? Buffer.concat([existing.data, body]) : body;
    const stored: StoredObject = { data, contentType: existing?.contentType ?? header(request, 'content-type') ?? 'application/octet-stream', etag: `"${md5(data).toString('hex').toUpperCase()}"`, type: 'Appendable', modified: new Date(), crc64 };
    objects.set(key, stored);
    response.writeHead(200, { 'x-oss-next-append-position': String(data.length), 'x-oss-hash-crc64ecma': crc64, etag: stored.etag, 'x-oss-request-id': requestId() });
    response.end();
  }

  /**
   * ListObjectsV2: keys after `start-after`, or after where the `continuation-token`
   * of the previous page left off (the token wins when both are given); at most
   * `max-keys` (1-1000, default 100). The token is opaque to clients (plain base64 here, so
   * its + / = must survive URL encoding and both signatures).
   */
  function listObjects(response: ServerResponse, query: URLSearchParams) {
    if (query.has('delimiter')) return error(response, 400, 'NotImplemented', 'the stand-in does not group by delimiter');
    const prefix = query.get('prefix') ?? '';
    if (Buffer.byteLength(prefix) >= 1024) return error(response, 400, 'InvalidArgument', 'The prefix must be less than 1024 bytes.');
    const maxKeys = Number(query.get('max-keys') ?? 100);
    if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > 1000) return error(response, 400, 'InvalidArgument', 'max-keys must be an integer from 1 to 1000');
    const token = query.get('continuation-token');
    const startAfter = query.get('start-after');
    let after = startAfter ?? '';
    if (token !== null) {
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      if (!token || !decoded.startsWith('after:')) return error(response, 400, 'InvalidArgument', 'The continuation-token is not valid.');
      after = decoded.slice('after:'.length);
    }
    const keys = [...objects.keys()].filter((key) => key.startsWith(prefix) && byteOrder(key, after) > 0).sort(byteOrder);
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > maxKeys;
    const echoed = (token !== null ? `<ContinuationToken>${escape(token)}</ContinuationToken>` : '') + (startAfter !== null ? `<StartAfter>${escape(startAfter)}</StartAfter>` : '');
    const next = truncated && !quirks.truncatedListingsWithoutToken ? `<NextContinuationToken>${Buffer.from('after:' + page[page.length - 1]).toString('base64')}</NextContinuationToken>` : '';
    xml(response, 200, `<ListBucketResult><Name>${bucket}</Name><Prefix>${escape(prefix)}</Prefix>${echoed}<MaxKeys>${maxKeys}</MaxKeys><KeyCount>${page.length}</KeyCount><IsTruncated>${truncated}</IsTruncated>${next}${page
      .map((key) => {
        const stored = objects.get(key)!;
        return `<Contents><Key>${escape(key)}</Key><LastModified>${stored.modified.toISOString()}</LastModified><ETag>${escape(stored.etag)}</ETag><Type>${stored.type}</Type><Size>${stored.data.length}</Size><StorageClass>Standard</StorageClass></Contents>`;
      })
      .join('')}</ListBucketResult>`);
  }

  /** The bucket and key a request addresses, by its Host: this endpoint means path style, a bucket domain virtual-hosted style. */
  function route(host: string, pathname: string): { bucket: string; key: string } | null {
    const [, first, ...rest] = pathname.split('/');
    const self = [`127.0.0.1:${port}`, `localhost:${port}`];
    if (self.includes(host.toLowerCase())) return { bucket: first ?? '', key: decodeURIComponent(rest.join('/')) };
    const virtual = new RegExp(`^([a-z0-9-]+)\\.oss-${region}\\.aliyuncs\\.com(:\\d+)?$`).exec(host.toLowerCase());
    if (virtual) return { bucket: virtual[1], key: decodeURIComponent(pathname.slice(1)) };
    return null;
  }

  // A client that goes away mid-upload (dozen killed by a test) rejects the body read: nothing is stored, as on OSS.
  const serve = (request: IncomingMessage, response: ServerResponse) =>
    handler(request, response).catch((failure: Error) => {
      if (request.destroyed || response.destroyed) return;
      if (!response.headersSent) error(response, 500, 'InternalError', failure.message);
      else response.destroy();
    });
  let server: Server = createServer(serve);
  const listen = async (port: number) => {
    server = createServer(serve);
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  };
  const port = await listen(options.port ?? 0);
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId,
    accessKeySecret,
    region,
    objects,
    uploads,
    requests,
    stop: close,
    start: async () => void (await listen(port)),
    failNext: (count, status = 503, code = 'ServiceUnavailable', method) => {
      failures = count;
      failure = { status, code, method };
    },
    cutAfterApplying: (count, method, param) => {
      cuts = count;
      cutOf = { method, param };
    },
    close,
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Keys are ordered by their UTF-8 bytes. */
function byteOrder(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}

function md5(data: Buffer): Buffer {
  return createHash('md5').update(data).digest();
}

function requestId(): string {
  return randomUUID().replaceAll('-', '').slice(0, 24).toUpperCase();
}

function escape(text: string): string {
  return text.replace(/[<>&'"]/g, (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[char]!);
}

function xml(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'application/xml', 'x-oss-request-id': requestId() });
  response.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

/** The request goes on to change what it changes, but its answer is never sent: the connection is cut instead. */
function answerLost(response: ServerResponse): void {
  response.writeHead = (() => response) as typeof response.writeHead;
  response.write = (() => true) as typeof response.write;
  response.end = (() => {
    response.socket?.destroy();
    return response;
  }) as typeof response.end;
}

/** Drops the CRC64 header from every answer, as servers without OSS's CRC64 do. */
function withoutCrc64(response: ServerResponse): void {
  const writeHead = response.writeHead.bind(response) as (status: number, headers?: Record<string, string>) => ServerResponse;
  response.writeHead = ((status: number, headers?: Record<string, string>) => {
    response.removeHeader('x-oss-hash-crc64ecma');
    const { 'x-oss-hash-crc64ecma': _dropped, ...rest } = headers ?? {};
    return writeHead(status, rest);
  }) as typeof response.writeHead;
}

/** The OSS error body; a HEAD answer has no body, so OSS sends the same XML base64-encoded in `x-oss-err`. */
function error(response: ServerResponse, status: number, code: string, message: string): void {
  const body = `<Error><Code>${code}</Code><Message>${escape(message)}</Message><RequestId>${requestId()}</RequestId><HostId>standin</HostId></Error>`;
  if (response.req.method === 'HEAD') response.setHeader('x-oss-err', Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`).toString('base64'));
  xml(response, status, body);
}

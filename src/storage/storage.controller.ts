import { Readable } from 'node:stream';
import { Body, Controller, Delete, Get, Head, HttpCode, Param, Post, Put, Query, Req, Res, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BadInput, DomainError } from '../common/errors.js';
import { principalOf } from '../common/principal.js';
import { ZodPipe } from '../common/zod-pipe.js';
import { downloadHeaders } from './download-headers.js';
import { isMediaType, MEDIA_TYPE_RULE } from './media-type.js';
import { keyOfPath } from './object-path.js';
import { MIN_PART_SIZE, ObjectExists, ObjectNotFound, ObjectTooLarge, type ObjectInfo, type ObjectStream } from './object-store.js';
import { mayReplaceObjects, mayTouchUpload, ReplaceForbidden, UploadForbidden, uploadOwner } from './replacing.js';
import { StorageService } from './storage.service.js';

/** Bodies of these routes are object bytes: handed to the store as a stream, never parsed nor buffered. */
const STREAMED_BODY = /^\/storage\/(objects\/|uploads\/[^/]+\/parts\/)/;
const STREAM_TYPE = 'application/x-dozen-object-stream';
const uploadedTypes = new WeakMap<object, string | undefined>();
/**
 * Keys only dozen itself writes, through the store directly: `images/` holds the deploy module's release
 * image archives, which every host's Engine loads. Through this API, whoever may upload could replace one.
 */
const RESERVED_PREFIXES = ['images/'];

const startUploadSchema = z.strictObject({
  key: z.string().min(1),
  contentType: z.string().refine(isMediaType, MEDIA_TYPE_RULE).optional(),
  metadata: z.record(z.string(), z.string()).default({}),
  /** Every part but the last has this many bytes (the last at most): the store can then write parts in place. */
  partSize: z.number().int().min(MIN_PART_SIZE, 'every part but the last must be at least 100 KB (102400 bytes)').max(5 * 1024 ** 3).optional(),
});

/** REST for objects and resumable uploads: `/storage/objects/<key>`, `/storage/uploads/...`. */
@Controller('storage')
export class StorageController implements OnModuleInit {
  constructor(
    private readonly storage: StorageService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Fastify picks a body parser by Content-Type, and would buffer a JSON or text upload whole.
    // Upload routes keep the client's type aside and get a private type whose parser passes the stream on.
    fastify.addHook('onRequest', async (request) => {
      if ((request.method === 'PUT' || request.method === 'POST') && STREAMED_BODY.test(request.url)) {
        uploadedTypes.set(request.raw, request.headers['content-type']);
        request.headers['content-type'] = STREAM_TYPE;
      }
    });
    fastify.addContentTypeParser(STREAM_TYPE, (_request, payload, done) => done(null, payload));
  }

  @Put('objects/*')
  @HttpCode(201)
  async put(@Req() request: FastifyRequest) {
    return drainingWhenTooLarge(request, () => this.upload(request));
  }

  @Post('objects/*')
  @HttpCode(201)
  async post(@Req() request: FastifyRequest) {
    return drainingWhenTooLarge(request, () => this.upload(request));
  }

  // HEAD before GET: Fastify then does not add its own HEAD route for the GET.
  @Head('objects/*')
  async head(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const key = objectKey(request);
    const info = await this.storage.head(key);
    if (!info) throw new ObjectNotFound(key);
    objectHeaders(reply, info);
    return reply.status(200).send();
  }

  @Get('objects/*')
  async get(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const { info, body } = await this.storage.get(objectKey(request));
    objectHeaders(reply, info);
    return reply.send(body);
  }

  @Delete('objects/*')
  @HttpCode(204)
  async delete(@Req() request: FastifyRequest) {
    await this.storage.delete(objectKey(request));
  }

  @Get('objects')
  async list(@Query('prefix') prefix = '', @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    const size = limit === undefined ? undefined : Number(limit);
    if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > 1000)) throw new BadInput('limit', 'must be an integer from 1 to 1000');
    const page = await this.storage.list(prefix, cursor || undefined, size);
    return { objects: page.objects.map((object) => ({ key: object.key, size: object.size, etag: object.etag, modified: object.modified.toISOString() })), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  @Post('uploads')
  @HttpCode(201)
  async startUpload(@Body(new ZodPipe(startUploadSchema)) body: z.output<typeof startUploadSchema>, @Req() request: FastifyRequest) {
    assertWritable(body.key);
    // Told now rather than after every part is sent; completing refuses it atomically all the same.
    const principal = principalOf(request.raw);
    if (!mayReplaceObjects(principal) && (await this.storage.head(body.key))) throw new ReplaceForbidden(principal, body.key);
    const record = await this.storage.startUpload(body.key, body.contentType, body.metadata, body.partSize, uploadOwner(principal));
    return publicUpload(record);
  }

  /** The uploads in progress the caller may go on with: their own, or all for one who may replace objects. */
  @Get('uploads')
  async listUploads(@Query('key') key: string | undefined, @Req() request: FastifyRequest) {
    const principal = principalOf(request.raw);
    const uploads = (await this.storage.listUploads(key || undefined)).filter((upload) => mayTouchUpload(principal, upload));
    return { uploads: uploads.map(publicUpload) };
  }

  @Get('uploads/:id')
  async describeUpload(@Param('id') uploadId: string, @Req() request: FastifyRequest) {
    await this.callersUpload(request, uploadId);
    const upload = await this.storage.describeUpload(uploadId);
    return { ...publicUpload(upload), parts: upload.parts };
  }

  @Put('uploads/:id/parts/:partNumber')
  async putPart(@Param('id') uploadId: string, @Param('partNumber') partNumber: string, @Req() request: FastifyRequest) {
    if (!/^\d+$/.test(partNumber)) throw new BadInput('partNumber', 'must be an integer from 1 to 10000');
    return drainingWhenTooLarge(request, () => this.storage.putPart(uploadId, Number(partNumber), bodyOf(request), contentLength(request), (upload) => assertCaller(request, upload)));
  }

  @Post('uploads/:id/complete')
  @HttpCode(201)
  async completeUpload(@Param('id') uploadId: string, @Req() request: FastifyRequest) {
    const { key } = await this.callersUpload(request, uploadId);
    return describe(await refusingToReplace(request, key, (ifNoneMatch) => this.storage.completeUpload(uploadId, ifNoneMatch)));
  }

  @Delete('uploads/:id')
  @HttpCode(204)
  async abortUpload(@Param('id') uploadId: string, @Req() request: FastifyRequest) {
    await this.callersUpload(request, uploadId);
    await this.storage.abortUpload(uploadId);
  }

  /** The upload, when the caller started it or may replace objects; else 403 (404 when there is none). */
  private async callersUpload(request: FastifyRequest, uploadId: string) {
    const upload = await this.storage.upload(uploadId);
    assertCaller(request, upload);
    return upload;
  }

  private async upload(request: FastifyRequest) {
    const key = objectKey(request);
    assertWritable(key);
    const md5 = header(request, 'content-md5');
    if (md5 !== undefined && !/^[A-Za-z0-9+/]{22}==$/.test(md5)) throw new BadInput('Content-MD5', 'must be the base64 MD5 of the body (24 characters)');
    const contentType = uploadedContentType(request);
    const info = await refusingToReplace(request, key, (ifNoneMatch) => this.storage.put(key, bodyOf(request), contentLength(request), { md5, ifNoneMatch, contentType }));
    return { key: info.key, size: info.size, crc64: info.crc64, crc64Confirmed: info.crc64Confirmed !== false, etag: info.etag };
  }
}

/**
 * The Content-Type the client sent with an object, or undefined to guess it from the key: none, empty, or
 * curl's default for a `--data-binary` body (`application/x-www-form-urlencoded`), which says nothing of it.
 */
function uploadedContentType(request: FastifyRequest): string | undefined {
  const sent = uploadedTypes.get(request.raw);
  if (!sent || sent === 'application/x-www-form-urlencoded') return undefined;
  if (!isMediaType(sent)) throw new BadInput('Content-Type', MEDIA_TYPE_RULE);
  return sent;
}

function objectKey(request: FastifyRequest): string {
  return keyOfPath(request.url.split('?')[0]);
}

function assertWritable(key: string): void {
  const reserved = RESERVED_PREFIXES.find((prefix) => key.startsWith(prefix));
  if (reserved) throw new DomainError(403, 'forbidden', `${reserved} is written by dozen only (release image archives); choose another key`, 'key');
}

/** The request body stream; Fastify runs no parser for an empty body, which is an empty object. */
function bodyOf(request: FastifyRequest): Readable {
  return (request.body as Readable | undefined) ?? Readable.from([]);
}

/** The body's length as the client declared it; undefined when it is sent chunked. */
function contentLength(request: FastifyRequest): number | undefined {
  const length = header(request, 'content-length');
  return length === undefined ? undefined : Number(length);
}

/** How long the rest of a body refused as too large is read and dropped before its connection is cut (nginx's lingering_time is 30 s). */
const DRAIN_MS = 5_000;

/** 403 when the caller neither started `upload` nor may replace objects (replacing.ts). */
function assertCaller(request: FastifyRequest, upload: { uploadId: string; owner?: string }): void {
  const principal = principalOf(request.raw);
  if (!mayTouchUpload(principal, upload)) throw new UploadForbidden(principal, upload.uploadId);
}

/**
 * A write refused as too large is answered at once, usually before the client has sent its body. Closing
 * the connection right after the 413 reset it while the body was still coming, and a client busy sending
 * could lose the answer (undici: "fetch failed", once in four runs of write-limits.test.ts). So, as nginx's
 * lingering close does, the rest of the body is read and dropped, for at most DRAIN_MS; clients stop
 * sending once they have the answer (undici, curl), and one still sending after that is cut off.
 */
async function drainingWhenTooLarge<T>(request: FastifyRequest, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof ObjectTooLarge && !request.raw.complete) {
      const cutOff = setTimeout(() => request.raw.socket.destroy(), DRAIN_MS);
      request.raw.once('close', () => clearTimeout(cutOff));
      request.raw.resume();
    }
    throw error;
  }
}

/**
 * Runs a write with If-None-Match as the client asked, or always for a caller that may not replace objects
 * (replacing.ts): the store then refuses atomically, and that caller hears 403, not the 412 it did not ask for.
 */
async function refusingToReplace<T>(request: FastifyRequest, key: string, write: (ifNoneMatch: boolean) => Promise<T>): Promise<T> {
  const asked = ifNoneMatch(request);
  const principal = principalOf(request.raw);
  const mayReplace = mayReplaceObjects(principal);
  try {
    return await write(asked || !mayReplace);
  } catch (error) {
    if (error instanceof ObjectExists && !asked && !mayReplace) throw new ReplaceForbidden(principal, key);
    throw error;
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function ifNoneMatch(request: FastifyRequest): boolean {
  const value = header(request, 'if-none-match');
  if (value === undefined) return false;
  if (value.trim() !== '*') throw new DomainError(400, 'bad_request', 'If-None-Match: only * (do not overwrite) is supported', 'If-None-Match');
  return true;
}

/**
 * An object's metadata as headers, served so its bytes never run on dozen's origin (download-headers.ts).
 * A size the store did not say (a chunked answer) means no Content-Length: the body then goes out chunked. Likewise no CRC64, no header.
 */
function objectHeaders(reply: FastifyReply, info: ObjectStream['info']): void {
  void reply.headers(downloadHeaders(info.key, info.contentType)).header('etag', info.etag).header('last-modified', info.modified.toUTCString());
  if (info.size !== null) void reply.header('content-length', String(info.size));
  if (info.crc64) void reply.header('x-dozen-crc64ecma', info.crc64);
}

function describe(info: ObjectInfo) {
  return { key: info.key, size: info.size, crc64: info.crc64, crc64Confirmed: info.crc64Confirmed !== false, etag: info.etag, contentType: info.contentType, modified: info.modified.toISOString() };
}

function publicUpload(record: { uploadId: string; key: string; contentType?: string; metadata: Record<string, string>; created: string }) {
  return { uploadId: record.uploadId, key: record.key, contentType: record.contentType ?? null, metadata: record.metadata, created: record.created };
}

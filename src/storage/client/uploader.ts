import { open, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { CliError } from '../../cli/program.js';
import { combineCrc64, Crc64 } from '../crc64.js';
import { assertSafeKey } from '../object-store.js';
import type { DozenClient } from '../../cli/client.js';
import { objectPath } from '../object-path.js';

export interface UploadOptions {
  partSize: number;
  /** Files above this many bytes go through a resumable upload. */
  threshold: number;
  parallel: number;
  ifNoneMatch: boolean;
  contentType?: string;
  /** Called with bytes done so far for the progress bar. */
  progress?: (done: number, total: number) => void;
}

export interface UploadResult {
  key: string;
  size: number;
  crc64: string;
  /** False when the store reported no CRC64 of its own: the CRC64 checked is the one dozen computed of the bytes it received. */
  crc64Confirmed: boolean;
  partsSent: number;
  partsReused: number;
}

const CHUNK_BYTES = 1024 * 1024;

interface StoredObject {
  key: string;
  size: number;
  crc64: string;
  crc64Confirmed?: boolean;
}

interface Upload {
  uploadId: string;
  metadata: Record<string, string>;
  parts?: { partNumber: number; size: number; crc64: string }[];
}

/** Every file under `path` (itself when a file) with the key it gets: a directory maps to `<key>/<relative path>`. */
export async function filesToUpload(path: string, key: string): Promise<{ file: string; key: string; size: number }[]> {
  try {
    assertSafeKey(key);
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
  const stats = await stat(path).catch(() => {
    throw new CliError(`${path} does not exist`);
  });
  if (stats.isFile()) return [{ file: path, key, size: stats.size }];
  if (!stats.isDirectory()) throw new CliError(`${path} is neither a file nor a directory`);
  const found: { file: string; key: string; size: number }[] = [];
  const walk = async (folder: string) => {
    for (const entry of (await readdir(folder, { withFileTypes: true })).sort((left, right) => left.name.localeCompare(right.name))) {
      const file = join(folder, entry.name);
      if (entry.isDirectory()) await walk(file);
      else if (entry.isFile()) found.push({ file, key: `${key.replace(/\/+$/, '')}/${relative(path, file).split('\\').join('/')}`, size: (await stat(file)).size });
    }
  };
  await walk(path);
  return found;
}

/** Sends one file; the CRC64 dozen reports must equal the one computed here from the file, or it throws. */
export async function uploadFile(client: DozenClient, file: string, key: string, options: UploadOptions): Promise<UploadResult> {
  const stats = await stat(file);
  const result = stats.size > options.threshold ? await resumable(client, file, key, stats, options) : await single(client, file, key, stats.size, options);
  return result;
}

async function single(client: DozenClient, file: string, key: string, size: number, options: UploadOptions): Promise<UploadResult> {
  let crc = new Crc64();
  const stored = await client.call<StoredObject>('PUT', objectPath(key), {
    headers: { 'content-type': options.contentType ?? '', ...(options.ifNoneMatch ? { 'if-none-match': '*' } : {}), 'content-length': String(size) },
    body: () => {
      crc = new Crc64();
      let done = 0;
      return Readable.from(chunksOf(file, size, (chunk) => {
        crc.update(chunk);
        done += chunk.length;
        options.progress?.(done, size);
      }));
    },
  });
  verify(key, stored, size, crc.value);
  return { key, size: stored.size, crc64: stored.crc64, crc64Confirmed: stored.crc64Confirmed !== false, partsSent: 1, partsReused: 0 };
}

/** The file's first `size` bytes in 1 MiB chunks, each shown to `inspect` before it goes out. */
async function* chunksOf(file: string, size: number, inspect: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  const handle = await open(file, 'r');
  try {
    for (let offset = 0; offset < size; ) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size - offset));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, offset);
      if (bytesRead !== chunk.length) throw new CliError(`${file} changed while uploading (short read at ${offset})`);
      inspect(chunk);
      offset += bytesRead;
      yield chunk;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Multipart through dozen's resumable uploads. The upload carries the source
 * file's size, mtime and the part size, so a re-run after a crash finds it,
 * keeps every part whose size and CRC64 still match the file, and sends only
 * the rest.
 */
async function resumable(client: DozenClient, file: string, key: string, stats: { size: number; mtimeMs: number }, options: UploadOptions): Promise<UploadResult> {
  const metadata = { sourceSize: String(stats.size), sourceModified: String(Math.trunc(stats.mtimeMs)), partSize: String(options.partSize) };
  const existing = (await client.call<{ uploads: Upload[] }>('GET', `/storage/uploads?key=${encodeURIComponent(key)}`)).uploads.find(
    (upload) => upload.metadata.sourceSize === metadata.sourceSize && upload.metadata.sourceModified === metadata.sourceModified && upload.metadata.partSize === metadata.partSize,
  );
  const uploadId = existing?.uploadId ?? (await client.call<Upload>('POST', '/storage/uploads', {
    headers: { 'content-type': 'application/json' },
    // The part size lets the store write each part straight to its place in the object.
    body: () => JSON.stringify({ key, metadata, partSize: options.partSize, ...(options.contentType ? { contentType: options.contentType } : {}) }),
  })).uploadId;
  const stored = new Map<number, { size: number; crc64: string }>();
  if (existing) for (const part of (await client.call<Upload>('GET', `/storage/uploads/${uploadId}`)).parts ?? []) stored.set(part.partNumber, part);

  // The whole file's CRC64 is combined from the parts' CRCs, so each byte is hashed once.
  let whole = '0';
  const partCount = Math.max(1, Math.ceil(stats.size / options.partSize));
  const inFlight = new Set<Promise<void>>();
  // One buffer per part in flight, reused: at most `parallel` parts in memory.
  const free = Array.from({ length: Math.min(options.parallel, partCount) }, () => Buffer.allocUnsafe(Math.min(options.partSize, stats.size)));
  let partsSent = 0;
  let partsReused = 0;
  let done = 0;
  const handle = await open(file, 'r');
  try {
    for (let partNumber = 1; partNumber <= partCount; partNumber++) {
      const offset = (partNumber - 1) * options.partSize;
      const length = Math.min(options.partSize, stats.size - offset);
      while (!free.length) await Promise.race(inFlight);
      const buffer = free.pop()!;
      const data = buffer.subarray(0, length);
      const { bytesRead } = await handle.read(data, 0, length, offset);
      if (bytesRead !== length) throw new CliError(`${file} changed while uploading (short read at ${offset})`);
      const partCrc = await crcBetweenWrites(data);
      whole = combineCrc64(whole, partCrc, length);
      const already = stored.get(partNumber);
      if (already && already.size === length && already.crc64 === partCrc) {
        free.push(buffer);
        partsReused++;
        done += length;
        options.progress?.(done, stats.size);
        continue;
      }
      const sending: Promise<void> = client
        .call<{ crc64: string; size: number }>('PUT', `/storage/uploads/${uploadId}/parts/${partNumber}`, { body: () => data })
        .then((part) => {
          if (part.crc64 !== partCrc || part.size !== length) throw new CliError(`part ${partNumber} of ${key}: dozen stored CRC64 ${part.crc64}, the file has ${partCrc}`);
          partsSent++;
          done += length;
          options.progress?.(done, stats.size);
        })
        .finally(() => {
          inFlight.delete(sending);
          free.push(buffer);
        });
      inFlight.add(sending);
    }
    await Promise.all(inFlight);
  } finally {
    await Promise.allSettled(inFlight);
    await handle.close();
  }
  const info = await client.call<StoredObject>('POST', `/storage/uploads/${uploadId}/complete`, { headers: options.ifNoneMatch ? { 'if-none-match': '*' } : {}, retry: false });
  verify(key, info, stats.size, whole);
  return { key, size: info.size, crc64: info.crc64, crc64Confirmed: info.crc64Confirmed !== false, partsSent, partsReused };
}

/**
 * The part's CRC64, 1 MiB at a time with a turn of the event loop in between: hashing 16 MiB at
 * once would leave the sockets of the parts in flight unfed for as long (the kernel buffers ~4 MiB).
 */
async function crcBetweenWrites(data: Buffer): Promise<string> {
  const crc = new Crc64();
  for (let start = 0; start < data.length; start += CHUNK_BYTES) {
    crc.update(data.subarray(start, start + CHUNK_BYTES));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return crc.value;
}

function verify(key: string, stored: StoredObject, size: number, crc64: string): void {
  if (stored.size !== size) throw new CliError(`${key}: dozen stored ${stored.size} bytes, the file has ${size}`);
  if (stored.crc64 !== crc64) throw new CliError(`${key}: checksum mismatch: dozen stored CRC64 ${stored.crc64}, the file has ${crc64}`);
}


import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DomainError } from '../common/errors.js';
import { Crc64 } from './crc64.js';

const MIB = 1024 * 1024;
/**
 * Incoming chunks (64 KiB from a socket) are gathered into one writev of this
 * size. Writing each chunk on its own costs a thread-pool round trip per chunk
 * and, with a small stream buffer, pauses the socket after every one of them.
 */
const BATCH_BYTES = 4 * MIB;
/**
 * Every this many bytes an fdatasync is started beside the writes, so the disk
 * works while the body still arrives and the final sync finds little left.
 */
const WRITE_BEHIND_BYTES = 64 * MIB;

export interface Received {
  size: number;
  crc64: string;
}

/**
 * Writes `body` into `handle` from `position` on and makes it durable
 * (fdatasync) before returning its size and CRC64; feeds `md5` when given.
 * At most two batches are held: one being written, one being filled.
 * Throws a 400 before writing past `limit` bytes.
 */
export async function receive(body: Readable, handle: FileHandle, position: number, options: { md5?: Hash; limit?: number } = {}): Promise<Received> {
  const crc = new Crc64();
  let size = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let next = position;
  // The write chain never rejects: a failure is kept and thrown at the next await, so it is never unhandled.
  let failure: unknown;
  let writing = Promise.resolve();
  let syncing: Promise<void> | null = null;
  let unsynced = 0;
  const flush = () => {
    const buffers = batch;
    const at = next;
    next += batchBytes;
    unsynced += batchBytes;
    batch = [];
    batchBytes = 0;
    writing = writing.then(() => writeAll(handle, buffers, at)).then(() => {
      if (unsynced < WRITE_BEHIND_BYTES || syncing) return;
      unsynced = 0;
      syncing = handle.datasync().then(() => { syncing = null; }, (error: unknown) => { failure ??= error; });
    }, (error: unknown) => { failure ??= error; });
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (options.limit !== undefined && size > options.limit) throw new DomainError(400, 'bad_request', `body is larger than ${options.limit} bytes`);
      crc.update(chunk);
      options.md5?.update(chunk);
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= BATCH_BYTES) {
        await writing;
        if (failure) throw failure;
        flush();
      }
    }
    flush();
  } finally {
    await writing;
    await syncing;
  }
  if (failure) throw failure;
  await handle.datasync();
  return { size, crc64: crc.value };
}

/** One writev of all `buffers` at `position`, again for whatever a short write left. */
async function writeAll(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length) {
    const { bytesWritten } = await handle.writev(rest, at);
    at += bytesWritten;
    rest = dropBytes(rest, bytesWritten);
  }
}

function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  let skip = count;
  let index = 0;
  while (index < buffers.length && skip >= buffers[index].length) skip -= buffers[index++].length;
  const rest = buffers.slice(index);
  if (skip && rest.length) rest[0] = rest[0].subarray(skip);
  return rest;
}

/** Writes `body` to a new file at `path`, durable on return. */
export async function receiveFile(body: Readable, path: string, options: { md5?: Hash; limit?: number } = {}): Promise<Received> {
  const handle = await open(path, 'w');
  try {
    return await receive(body, handle, 0, options);
  } finally {
    await handle.close();
  }
}

/** Makes a rename or link in `folder` durable (the entry lives in the folder, not in the file). */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

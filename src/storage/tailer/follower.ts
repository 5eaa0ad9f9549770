import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { TailOffset } from '../storage.entity.js';
import { continuationKey, renderKey, utcDate } from './key-template.js';
import { findRotatedCopy } from './rotated-copy.js';

const HEAD_BYTES = 64;

/** One followed file: its open handle (so it is followed by inode, whatever its name becomes) and its saved row. */
export class Follower {
  /** When bytes past `offset` were first seen unshipped; null while caught up. */
  unshippedSince: number | null = null;
  lastGrowth = Date.now();
  lastSize = -1;
  /** The path now names another file (or none): read this one to its end, then stop. */
  rotatedAt: number | null = null;
  /** Failures in a row shipping the current batch; drives the backoff. */
  failures = 0;
  lastError: string | null = null;
  retryAt = 0;
  /** The store refused this file's key by the key rules (BadKey): it would on every try, so nothing more is shipped. */
  keyRefused = false;
  closed = false;
  sizeNow = 0;
  /**
   * The file was cut (copytruncate) before its end was read: the rotated copy holding the unread
   * tail, to ship from `offset` before reading the file again from 0.
   */
  copyToFinish: string | null = null;
  /** The day's object took no more appends: lines go on in its `n`th continuation key (`continuationKey`), and why. */
  continuation: { base: string; n: number; why: string } | null = null;
  /** Where `read` and the head fingerprint read from: the file, or its rotated copy while that is finished. */
  reading: FileHandle;

  private constructor(
    readonly handle: FileHandle,
    readonly row: TailOffset,
    readonly source: { glob: string; key: string; app: string },
  ) {
    this.reading = handle;
  }

  get id(): string {
    return this.row.id;
  }

  /** The key of this file's lines now: today's, or its continuation once today's took no more appends. */
  keyNow(host: string): string {
    const key = this.todayKey(host);
    return this.continuation?.base === key ? continuationKey(key, this.continuation.n) : key;
  }

  /** `refused` takes no more appends: today's key, then its continuations in turn; a key of an earlier day leaves today's as it is. */
  continueAfter(refused: string, host: string, why: string): void {
    const base = this.todayKey(host);
    const at = this.continuation?.base === base ? this.continuation.n : 0;
    const n = refused === base ? 1 : refused === continuationKey(base, at) ? at + 1 : 0;
    if (n) this.continuation = { base, n, why };
  }

  /** This file's key for today, before any continuation. */
  private todayKey(host: string): string {
    return renderKey(this.source.key, { host, app: this.source.app, file: this.row.name, date: utcDate() });
  }

  /** Opens `path` and matches it with its saved row: same inode and same first bytes, or a fresh row from offset 0. */
  static async open(path: string, name: string, source: { glob: string; key: string; app: string }, saved: (id: string) => Promise<TailOffset | null>) {
    const handle = await open(path, 'r');
    try {
      const stats = await handle.stat();
      const id = `${stats.dev}:${stats.ino}`;
      let row = await saved(id);
      let copy: string | null = null;
      const sameHead = row ? (await headHash(handle, row.headLength)) === row.headHash : true;
      if (row && (!sameHead || row.offset > stats.size)) {
        // Cut while dozen was not looking (copytruncate): the unread tail is in a rotated copy, if one has the file's first bytes.
        copy = await findRotatedCopy(path, row.headHash, row.headLength, row.offset);
        if (!copy && !sameHead) row = null; // no copy: the inode was reused by another file, or the copy is gone
      }
      let fresh = false;
      if (!row) {
        fresh = true;
        row = Object.assign(new TailOffset(), { id, path, name, headHash: await headHash(handle, 0), headLength: 0, offset: 0, objectKey: null, objectPosition: 0, pendingLength: 0 });
      }
      row.path = path;
      if (!copy && row.offset > stats.size) row.offset = 0; // truncated while dozen was not looking, and no copy kept
      const follower = new Follower(handle, row, source);
      follower.copyToFinish = copy;
      return { follower, fresh };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Grows the identifying head hash up to 64 bytes of the first `upTo` (bytes read from the file). */
  async refreshHead(upTo: number): Promise<void> {
    if (this.row.headLength >= HEAD_BYTES) return;
    const length = Math.min(HEAD_BYTES, upTo);
    if (length === this.row.headLength) return;
    this.row.headHash = await headHash(this.reading, length);
    this.row.headLength = length;
  }

  /** False when the file no longer starts with the bytes it started with (cut and written again). */
  async sameHead(): Promise<boolean> {
    return !this.row.headLength || (await headHash(this.handle, this.row.headLength)) === this.row.headHash;
  }

  async read(length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.reading.read(buffer, 0, length, this.row.offset);
    return buffer.subarray(0, bytesRead);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

async function headHash(handle: FileHandle, length: number): Promise<string> {
  const buffer = Buffer.alloc(length);
  if (length) await handle.read(buffer, 0, length, 0);
  return createHash('sha256').update(buffer).digest('hex');
}

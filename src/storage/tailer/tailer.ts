import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { glob } from 'tinyglobby';
import { DomainError } from '../../common/errors.js';
import type { LogAppenders } from '../log-appenders.js';
import { BadKey, NotAppendable, StoreUnavailable, type ObjectStore } from '../object-store.js';
import type { TailerMetrics } from '../storage-metrics.js';
import type { StorageConfig, TailSource } from '../storage.config.js';
import { appOf } from './key-template.js';
import { Follower } from './follower.js';
import { tailStatus, type TailStatus } from './tail-status.js';
import { findRotatedCopy } from './rotated-copy.js';
import type { TailOffsets } from './tail-offsets.js';

const POLL_MS = 100;
const FIRST_BACKOFF_MS = 500;
/** A rotated file is finished once it has been quiet this long (its writer has moved to the new file). */
const ROTATED_QUIET_MS = 1000;

/**
 * gtail: follows the files matching `storage.tail` globs and appends every new
 * complete line to one object per file and day. A file's offset is saved only
 * after the store confirmed the batch; a batch in flight is recorded first so
 * that after a crash the object's real length tells whether it landed.
 */
export class Tailer {
  private readonly followers = new Map<string, Follower>();
  private readonly loops = new Set<Promise<void>>();
  private stopped = false;
  private scanning: Promise<void> | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  private readonly changeListeners = new Set<() => void>();

  constructor(
    private readonly sources: TailSource[],
    private readonly settings: StorageConfig['tailer'],
    private readonly host: string,
    private readonly store: ObjectStore,
    private readonly offsets: TailOffsets,
    private readonly appenders: LogAppenders,
    private readonly log: Logger,
    private readonly metrics?: TailerMetrics,
  ) {}

  async start(): Promise<void> {
    await this.reconcilePending();
    await this.scan();
    this.scanTimer = setInterval(() => {
      this.scanning ??= this.scan().finally(() => (this.scanning = null));
    }, this.settings.scanMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    await this.scanning;
    await Promise.allSettled([...this.loops]);
    await Promise.all([...this.followers.values()].map((follower) => follower.close()));
  }

  /** Calls `listener` after the status changed (a file found or finished, grown, shipped, failing); returns the unwatch. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  status(): TailStatus {
    return tailStatus([...this.followers.values()], Date.now());
  }

  /** After a crash: a batch recorded as in flight either landed (the object is longer by up to its length) or not. */
  private async reconcilePending(): Promise<void> {
    for (const row of await this.offsets.all()) {
      if (!row.pendingLength || !row.objectKey) continue;
      const length = (await this.store.head(row.objectKey))?.size ?? 0;
      const landed = length - row.objectPosition;
      if (landed >= 0 && landed <= row.pendingLength) {
        row.offset += landed;
        row.objectPosition = length;
      } else {
        this.log.warn({ path: row.path, key: row.objectKey, expected: row.objectPosition, length }, 'log object changed outside dozen; not moving the offset');
      }
      row.pendingLength = 0;
      await this.offsets.save(row);
      this.log.info({ path: row.path, key: row.objectKey, landed: Math.max(0, landed) }, 'reconciled the batch in flight at the last stop');
    }
  }

  private async scan(): Promise<void> {
    if (this.stopped) return;
    const openPaths = new Set([...this.followers.values()].filter((follower) => follower.rotatedAt === null).map((follower) => follower.row.path));
    // A path whose previous file is still being finished waits, so the object gets the old lines first.
    const waiting = new Set([...this.followers.values()].filter((follower) => follower.rotatedAt !== null).map((follower) => follower.row.path));
    for (const follower of this.followers.values()) {
      if (follower.rotatedAt !== null) continue;
      const now = await stat(follower.row.path).catch(() => null);
      if (!now || `${now.dev}:${now.ino}` !== follower.id) {
        follower.rotatedAt = Date.now();
        openPaths.delete(follower.row.path);
        waiting.add(follower.row.path);
        this.log.info({ path: follower.row.path }, 'file rotated; reading the old one to its end');
      }
    }
    for (const source of this.sources) {
      const paths = await glob(source.glob, { absolute: true, onlyFiles: true, dot: true }).catch((error: Error) => {
        this.log.warn({ glob: source.glob, err: error }, 'glob failed');
        return [] as string[];
      });
      for (const path of paths.map((found) => resolve(found)).sort()) {
        if (this.stopped || openPaths.has(path) || waiting.has(path)) continue;
        try {
          const app = await appOf(path, source.app);
          const { follower, fresh } = await Follower.open(path, basename(path), { glob: source.glob, key: source.key, app }, (id) => this.offsets.get(id));
          if (this.followers.has(follower.id)) {
            await follower.close(); // the same file under a second name (rotated, still matching the glob)
            continue;
          }
          const renamed = fresh ? await this.renamedWhileStopped(path, follower.id, { glob: source.glob, key: source.key, app }) : null;
          if (renamed) {
            // The old file first, so the object gets its lines before the new file's; the new one waits.
            await follower.close();
            waiting.add(path);
            this.startFollowing(renamed, false);
            continue;
          }
          if (fresh) await this.offsets.save(follower.row);
          openPaths.add(path);
          this.startFollowing(follower, fresh);
        } catch (error) {
          this.log.warn({ path, err: error }, 'cannot follow file');
        }
      }
    }
  }

  private startFollowing(follower: Follower, fresh: boolean): void {
    const path = follower.row.path;
    this.followers.set(follower.id, follower);
    this.changed();
    this.log.info({ path, offset: follower.row.offset, fresh, rotated: follower.rotatedAt !== null }, 'following file');
    const loop = this.follow(follower).catch((error: Error) => this.log.error({ path, err: error }, 'follower stopped'));
    this.loops.add(loop);
    void loop.finally(() => this.loops.delete(loop));
  }

  /**
   * A path that names a new file, while dozen's saved row for the path is another inode: a rename
   * rotation (logrotate's `create`) happened while dozen was stopped. The old file, found among the
   * path's siblings by its inode and first bytes, is followed to its end first (as a rotation seen live).
   */
  private async renamedWhileStopped(path: string, id: string, source: { glob: string; key: string; app: string }): Promise<Follower | null> {
    const previous = (await this.offsets.all()).filter((row) => row.path === path && row.id !== id && !this.followers.has(row.id));
    if (!previous.length) return null;
    const folder = dirname(path);
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const candidate = join(folder, name);
      const stats = await stat(candidate).catch(() => null);
      const row = stats && previous.find((saved) => saved.id === `${stats.dev}:${stats.ino}` && stats.size > saved.offset);
      if (!row) continue;
      const { follower, fresh } = await Follower.open(candidate, row.name, source, (saved) => this.offsets.get(saved));
      if (fresh) {
        await follower.close(); // the inode was reused by another file
        continue;
      }
      follower.row.path = path; // still the path's file until finished: its new file waits
      follower.rotatedAt = Date.now();
      this.log.info({ path, renamedTo: candidate, offset: follower.row.offset }, 'file rotated while dozen was stopped; reading the old one to its end');
      return follower;
    }
    return null;
  }

  private async follow(follower: Follower): Promise<void> {
    const { batchBytes, flushMs, partialLineMs } = this.settings;
    while (!this.stopped) {
      if (follower.copyToFinish) {
        await this.finishCopy(follower, follower.copyToFinish);
        continue;
      }
      const now = Date.now();
      if (follower.retryAt > now) {
        await sleep(Math.min(follower.retryAt - now, POLL_MS));
        continue;
      }
      const size = (await follower.handle.stat()).size;
      follower.sizeNow = size;
      const grew = size !== follower.lastSize;
      if (grew) {
        follower.lastSize = size;
        follower.lastGrowth = now;
        this.changed();
      }
      // A shrink, or (when the file was cut and refilled past our offset between two looks) other first bytes.
      if (size < follower.row.offset || (grew && !(await follower.sameHead()))) {
        // copytruncate: the file was copied away and cut to zero. Lines written after our last read and
        // before the copy are in the copy: find it by the file's first bytes and ship them first.
        follower.copyToFinish = await findRotatedCopy(follower.row.path, follower.row.headHash, follower.row.headLength, follower.row.offset);
        if (!follower.copyToFinish) {
          this.log.warn({ path: follower.row.path, offset: follower.row.offset, size }, 'file truncated and no rotated copy has its first bytes; lines after the last read may be lost; starting again at 0');
          await this.startAgain(follower);
        }
        continue;
      }
      const available = size - follower.row.offset;
      if (available === 0) {
        follower.unshippedSince = null;
        if (follower.rotatedAt !== null && now - follower.lastGrowth >= ROTATED_QUIET_MS) break;
        await sleep(POLL_MS);
        continue;
      }
      follower.unshippedSince ??= now;
      const full = available >= batchBytes;
      const due = now - follower.unshippedSince >= flushMs || follower.rotatedAt !== null;
      if (!full && !due) {
        await sleep(POLL_MS);
        continue;
      }
      const data = await follower.read(Math.min(available, batchBytes));
      let cut = data.lastIndexOf(0x0a) + 1;
      // A line longer than a batch, or a last line that stopped growing without its newline, goes as it is.
      if (cut === 0 && (data.length >= batchBytes || now - follower.lastGrowth >= partialLineMs || (follower.rotatedAt !== null && now - follower.lastGrowth >= ROTATED_QUIET_MS))) cut = data.length;
      if (cut === 0) {
        await sleep(POLL_MS);
        continue;
      }
      await this.ship(follower, data.subarray(0, cut));
      if (follower.row.offset >= size) follower.unshippedSince = null;
    }
    this.followers.delete(follower.id);
    this.changed();
    await follower.close();
    if (follower.rotatedAt !== null) this.log.info({ path: follower.row.path, offset: follower.row.offset }, 'finished rotated file');
  }

  /**
   * Ships the rotated copy of a cut file from the offset reached in the file to the copy's end (the
   * copy is final, so a last line without newline goes too), then follows the cut file from 0.
   * Stopped midway, the offset stays in the copy's terms and the next start finds the copy again.
   */
  private async finishCopy(follower: Follower, copy: string): Promise<void> {
    const handle = await open(copy, 'r').catch(() => null);
    if (!handle) {
      this.log.warn({ path: follower.row.path, copy }, 'rotated copy vanished before its tail was shipped; starting again at 0');
      return this.startAgain(follower);
    }
    const from = follower.row.offset;
    follower.reading = handle;
    try {
      while (!this.stopped) {
        const now = Date.now();
        if (follower.retryAt > now) {
          await sleep(Math.min(follower.retryAt - now, POLL_MS));
          continue;
        }
        const left = (await handle.stat()).size - follower.row.offset;
        if (left <= 0) break;
        const data = await follower.read(Math.min(left, this.settings.batchBytes));
        const cut = data.length < left ? data.lastIndexOf(0x0a) + 1 || data.length : data.length;
        await this.ship(follower, data.subarray(0, cut));
      }
    } finally {
      follower.reading = follower.handle;
      await handle.close();
    }
    if (this.stopped) return;
    this.log.info({ path: follower.row.path, copy, shippedBytes: follower.row.offset - from }, 'file truncated; shipped the unread tail of its rotated copy, starting again at 0');
    await this.startAgain(follower);
  }

  /** The file was cut: what it holds now is new, read from 0 and fingerprinted again. */
  private async startAgain(follower: Follower): Promise<void> {
    follower.copyToFinish = null;
    follower.row.offset = 0;
    follower.row.headLength = 0;
    await this.offsets.save(follower.row);
    this.changed();
  }

  /**
   * `key`'s object takes no more appends: the batch goes on in the next continuation key. Full (5 GB),
   * it is still ours, so what an earlier unanswered attempt wrote there counts; replaced by a PUT, what
   * it held is gone and is sent again.
   */
  private async continueAfter(follower: Follower, key: string, refusal: NotAppendable): Promise<void> {
    const row = follower.row;
    if (refusal.full && row.pendingLength && row.objectKey === key) {
      const landed = ((await this.store.head(key))?.size ?? 0) - row.objectPosition;
      if (landed > 0 && landed <= row.pendingLength) row.offset += landed;
    }
    row.pendingLength = 0;
    await this.offsets.save(row);
    follower.continueAfter(key, this.host, refusal.message);
    follower.lastError = null;
    this.changed();
    this.log.warn({ path: row.path, key, continuedIn: follower.keyNow(this.host), err: refusal.message }, 'log object takes no more appends; going on in the next key');
  }

  /**
   * The key breaks the key rules (a file name with a control character, one too long for the template):
   * every retry would be refused the same way, so the file is left where it is, said once as an error.
   */
  private refusedForEver(follower: Follower, key: string, refusal: BadKey): void {
    follower.keyRefused = true;
    follower.lastError = refusal.message;
    follower.retryAt = Number.POSITIVE_INFINITY;
    this.metrics?.shipFailed(follower.source.glob);
    this.changed();
    this.log.error({ path: follower.row.path, key, err: refusal.message }, 'the store refuses this file\'s object key on every try; not shipping the file');
  }

  /** Writes one batch; on failure keeps it (nothing else is read) and retries with backoff. */
  private async ship(follower: Follower, batch: Buffer): Promise<void> {
    // A batch whose outcome is unknown stays with its object (even past midnight) until confirmed.
    const unsure = follower.row.pendingLength > 0 && follower.row.objectKey ? follower.row.pendingLength : 0;
    const key = unsure ? follower.row.objectKey! : follower.keyNow(this.host);
    const appender = this.appenders.of(key);
    try {
      await appender.exclusive(async (position) => {
        // The fingerprint covers the batch before it can land: a crash between the append and its
        // confirmation must not leave a row whose offset moves (in `reconcilePending`) with no head
        // to tell a cut file from the one read, or the copy holding its unread tail.
        await follower.refreshHead(follower.row.offset + batch.length);
        follower.row.objectKey = key;
        follower.row.objectPosition = position;
        follower.row.pendingLength = Math.max(batch.length, unsure);
        await this.offsets.save(follower.row);
        const reached = await appender.append(position, batch, Math.min(unsure, batch.length));
        follower.row.offset += batch.length;
        follower.row.objectPosition = reached;
        follower.row.pendingLength = 0;
        await this.offsets.save(follower.row);
      });
      this.metrics?.shipped(follower.source.glob, batch.length, newlines(batch));
      if (follower.failures) this.log.info({ path: follower.row.path, key, failures: follower.failures }, 'store reachable again; shipping');
      follower.failures = 0;
      follower.lastError = null;
      this.changed();
    } catch (error) {
      // A refusal says this batch did not land: only what was unsure before it stays unsure (and pins its key).
      if (error instanceof DomainError && !(error instanceof StoreUnavailable) && follower.row.pendingLength !== unsure) {
        follower.row.pendingLength = unsure;
        await this.offsets.save(follower.row).catch(() => undefined);
      }
      if (error instanceof NotAppendable && (await this.continueAfter(follower, key, error).then(() => true, () => false))) return;
      if (error instanceof BadKey) return this.refusedForEver(follower, key, error);
      follower.failures++;
      follower.lastError = (error as Error).message;
      this.metrics?.shipFailed(follower.source.glob);
      const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** (follower.failures - 1), this.settings.maxBackoffMs);
      follower.retryAt = Date.now() + backoff;
      this.changed();
      this.log.warn({ path: follower.row.path, key, failures: follower.failures, retryInMs: backoff, err: error }, 'cannot write to the store; will retry');
    }
  }

}

function newlines(batch: Buffer): number {
  let count = 0;
  for (let at = batch.indexOf(0x0a); at !== -1; at = batch.indexOf(0x0a, at + 1)) count++;
  return count;
}

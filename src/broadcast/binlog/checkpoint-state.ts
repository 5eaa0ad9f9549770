import type { BinlogCheckpoint } from './binlog-checkpoint.entity.js';
import type { BinlogPosition } from './row-messages.js';

/**
 * A resume point that moved only past changes the source does not publish is written once it is
 * this far ahead (or in another file, or at shutdown), not at every checkpoint: the write is itself a
 * change in the binlog when dozen's database is on the server read, so writing each move would feed
 * on itself.
 */
export const POSITION_SAVE_BYTES = 1024 * 1024;

/**
 * How far the binlog source has published (confirmed: with the Redis bus, once Redis took it), and when that
 * is worth a write to dozen's database: after every published change, and for a resume point that
 * only moved, per POSITION_SAVE_BYTES.
 */
export class CheckpointState {
  /** Where to resume reading: always a transaction boundary. */
  resumeAt: { file: string; pos: number } | null = null;
  /** The last change published: replayed changes at or before it are dropped. */
  last: BinlogPosition | null = null;
  /** One host: each room's seq at `last`, so replayed changes get the seqs they had (with the bus, Redis numbers them). */
  readonly roomSeqs = new Map<string, number>();
  /** A change was published since the last cut. */
  private published = false;
  /** The resume point of the last cut (null: none yet, or its write failed). */
  private savedAt: { file: string; pos: number } | null = null;

  /** Takes a checkpoint read from dozen's database: it is what is saved. */
  restore(saved: BinlogCheckpoint, withSeqs: boolean): void {
    this.resumeAt = this.savedAt = { file: saved.resumeFile, pos: Number(saved.resumePosition) };
    if (saved.lastFile !== null) this.last = { file: saved.lastFile, pos: Number(saved.lastPosition), row: saved.lastRow ?? 0 };
    if (withSeqs) for (const [room, seq] of Object.entries(JSON.parse(saved.roomSeqs) as Record<string, number>)) this.roomSeqs.set(room, seq);
  }

  publishedUpTo(position: BinlogPosition): void {
    this.last = position;
    this.published = true;
  }

  /** Forgets where it was (a reset): reading starts at the server's end, and the next cut writes. */
  forget(): void {
    this.resumeAt = this.last = this.savedAt = null;
    this.published = false;
  }

  /** The row to write now for `source`, or null when nothing worth a write moved; `final` at shutdown writes any move. */
  cut(source: string, final: boolean): BinlogCheckpoint | null {
    if (!this.resumeAt || !(this.published || this.movedFar(this.resumeAt, final))) return null;
    this.published = false;
    this.savedAt = this.resumeAt;
    // One consistent snapshot: everything up to `last` has been handed to the hub.
    return {
      source,
      resumeFile: this.resumeAt.file,
      resumePosition: this.resumeAt.pos,
      lastFile: this.last?.file ?? null,
      lastPosition: this.last?.pos ?? null,
      lastRow: this.last?.row ?? null,
      roomSeqs: JSON.stringify(Object.fromEntries(this.roomSeqs)),
      updatedAt: Date.now(),
    };
  }

  /** The write of the last cut failed: the next cut writes again. */
  unsaved(): void {
    this.savedAt = null;
  }

  private movedFar(now: { file: string; pos: number }, final: boolean): boolean {
    const saved = this.savedAt;
    if (!saved || saved.file !== now.file) return true;
    return now.pos > saved.pos && (final || now.pos - saved.pos >= POSITION_SAVE_BYTES);
  }
}

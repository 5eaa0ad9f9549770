import type { Logger } from 'pino';
import { combineCrc64, crc64Of } from '../crc64.js';
import { PositionMismatch, type ObjectStore } from '../object-store.js';

/**
 * The single writer of one log object in this process: appends run one at a
 * time, each at the position the previous one left, so lines from a rotated
 * file and its successor never race for the same position.
 */
export class ObjectAppender {
  private position: number | null = null;
  /** The object's CRC64 at `position` (null: unknown, the store keeps none or another writer was seen). */
  private crc64: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** Actions queued or running; an appender with none may be dropped. */
  busy = 0;

  constructor(
    readonly key: string,
    private readonly store: ObjectStore,
    private readonly log: Logger,
  ) {}

  /** Runs `action` with the object's current length, after every earlier action on this object. */
  exclusive<T>(action: (position: number) => Promise<T>): Promise<T> {
    const run = async () => {
      if (this.position === null) {
        const info = await this.store.head(this.key);
        this.position = info?.size ?? 0;
        this.crc64 = info ? info.crc64 || null : '0';
      }
      return action(this.position);
    };
    this.busy++;
    const next = this.queue.then(run, run).finally(() => this.busy--);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Appends `data` at `position` (inside `exclusive`). `mayHaveLanded` is how many
   * leading bytes of `data` an earlier attempt may have written without us hearing
   * back: a position mismatch within that many bytes means those bytes are ours,
   * and only the rest is sent. Returns how far the object now reaches.
   *
   * A mismatch that makes the object exactly what it was plus `data` (its length and
   * CRC64 say so) is this append landing too: a store that retries an append whose
   * answer was lost (the connection cut after OSS applied it) hears
   * PositionNotEqualToLength for its own bytes.
   */
  async append(position: number, data: Buffer, mayHaveLanded: number): Promise<number> {
    let at = position;
    let rest = data;
    let before = position === this.position ? this.crc64 : null;
    for (;;) {
      try {
        const result = await this.store.append(this.key, at, rest);
        this.position = result.nextPosition;
        this.crc64 = result.crc64 || null;
        return result.nextPosition;
      } catch (error) {
        if (!(error instanceof PositionMismatch)) throw error;
        const landed = error.length - at;
        this.crc64 = error.crc64 ?? null;
        if (landed === rest.length && before !== null && error.crc64 !== undefined && error.crc64 === combineCrc64(before, crc64Of(rest), rest.length)) {
          this.log.info({ key: this.key, position: at, bytes: rest.length }, 'an append whose answer was lost had landed; not sending it again');
          this.position = error.length;
          return error.length;
        }
        // Whatever happens next is sent at the object's end, whose CRC64 the mismatch told.
        before = this.crc64;
        if (landed > 0 && landed <= mayHaveLanded) {
          rest = rest.subarray(landed);
          at = error.length;
          if (!rest.length) {
            this.position = at;
            return at;
          }
        } else {
          // Someone else wrote this object (or it was removed): continue at its real end.
          this.log.warn({ key: this.key, expected: at, length: error.length }, 'log object length differs from what dozen wrote; continuing at its end');
          at = error.length;
        }
        mayHaveLanded = 0;
      }
    }
  }
}

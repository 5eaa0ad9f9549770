import type { Logger } from 'pino';
import { PositionMismatch, type ObjectStore } from '../object-store.js';

/**
 * The single writer of one log object in this process: appends run one at a
 * time, each at the position the previous one left, so lines from a rotated
 * file and its successor never race for the same position.
 */
export class ObjectAppender {
  private position: number | null = null;
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
      if (this.position === null) this.position = (await this.store.head(this.key))?.size ?? 0;
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
   */
  async append(position: number, data: Buffer, mayHaveLanded: number): Promise<number> {
    let at = position;
    let rest = data;
    for (;;) {
      try {
        const result = await this.store.append(this.key, at, rest);
        this.position = result.nextPosition;
        return result.nextPosition;
      } catch (error) {
        if (!(error instanceof PositionMismatch)) throw error;
        const landed = error.length - at;
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

import { EventEmitter } from 'node:events';

/** What one blocking read returned: the body and the X-Consul-Index header. */
export interface BlockingResult<T> {
  index: number;
  data: T;
}

export interface BlockingLoopOptions<T> {
  /** One read; `index` 0 means a plain (non-blocking) read. `context` cancels it. */
  read(index: number, context: EventEmitter): Promise<BlockingResult<T>>;
  /** Called with every result and its index (the caller compares to tell a real change). */
  onData(data: T, index: number): void;
  onError(error: unknown): void;
  /** Least time between two reads; each wait gets up to half as much again of jitter. */
  minIntervalMs: number;
}

const MAX_BACKOFF_MS = 10_000;

/**
 * Consul's blocking-query loop, as its docs require
 * (developer.hashicorp.com/consul/api-docs/features/blocking, "Implementation
 * details"): a return is no promise of a change; when the index goes
 * backwards (or a read failed), reset it to 0 and start over; an index of 0 or less from the
 * server is never sent back (use 1); rate-limit the loop, with jitter so many
 * watchers do not wake in step; back off on errors.
 */
export class BlockingLoop<T> {
  private stopped = false;
  private readonly context = Object.assign(new EventEmitter(), { includeResponse: true });
  private index = 0;

  constructor(private readonly options: BlockingLoopOptions<T>) {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.context.emit('cancel');
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (!this.stopped) {
      const started = Date.now();
      try {
        const result = await this.options.read(this.index, this.context);
        if (this.stopped) return;
        backoff = 0;
        this.index = nextIndex(this.index, result.index);
        this.options.onData(result.data, result.index);
      } catch (error) {
        if (this.stopped) return;
        this.options.onError(error);
        // The agent may have come back with its indexes started over (a new agent, a restored snapshot): the
        // old index would block until its wait ran out, leaving the watch stale that long. A plain read first.
        this.index = 0;
        backoff = Math.min(backoff ? backoff * 2 : 250, MAX_BACKOFF_MS);
        await sleep(backoff);
        continue;
      }
      const wait = this.options.minIntervalMs * (1 + Math.random() / 2) - (Date.now() - started);
      if (wait > 0) await sleep(wait);
    }
  }
}

/** The index to send next, from the one sent and the one returned. */
export function nextIndex(sent: number, returned: number): number {
  // An index of 0 or less is a server bug; sent back it would make every read return at once (a busy loop).
  if (returned <= 0) return 1;
  if (returned < sent) return 0;
  return returned;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

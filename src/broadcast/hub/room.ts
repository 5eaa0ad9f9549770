/** One message as kept in a room's history: the frame bytes are built once and reused for every send. */
export interface StoredMessage {
  seq: number;
  ts: number;
  data: unknown;
  frame: Buffer;
}

/** Someone who receives a room's messages: gets every message with a seq above its cursor, in order. */
export interface Subscriber {
  /** Sends one frame; returns false if the subscriber was dropped (too slow, gone). */
  deliver(frame: Buffer): boolean;
}

export interface HistoryLimits {
  messages: number;
  seconds: number;
}

/**
 * A room: its sequence counter, its recent history and its subscribers. Each
 * subscriber has a cursor (the last seq it has), so a message is sent to it at
 * most once even when history is replayed after a restart.
 */
export class Room {
  seq = 0;
  /** False until the room's history was fetched from the bus (several hosts only). */
  loaded = false;
  readonly subscribers = new Map<Subscriber, { cursor: number }>();
  private history: StoredMessage[] = [];
  /** Index of the oldest kept message in `history` (trimmed lazily, so appends stay O(1)). */
  private head = 0;

  constructor(
    readonly name: string,
    private readonly limits: HistoryLimits,
  ) {}

  /** The lowest seq a `since` may name without a gap: everything after it is still in the history. */
  oldestResumable(now: number): number {
    this.trim(now);
    return this.head < this.history.length ? this.history[this.head].seq - 1 : this.seq;
  }

  append(message: StoredMessage): void {
    this.seq = message.seq;
    if (this.limits.messages > 0) this.history.push(message);
    this.trim(message.ts);
    for (const [subscriber, state] of this.subscribers) {
      if (message.seq <= state.cursor) continue;
      state.cursor = message.seq;
      if (!subscriber.deliver(message.frame)) this.subscribers.delete(subscriber);
    }
  }

  /** Messages with seq > since, oldest first. */
  since(since: number, now: number): StoredMessage[] {
    this.trim(now);
    let low = this.head;
    let high = this.history.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.history[middle].seq <= since) low = middle + 1;
      else high = middle;
    }
    return this.history.slice(low);
  }

  /** Adds older messages (fetched from the bus, which was at `seq`) in front of the kept history. */
  prepend(messages: StoredMessage[], seq: number): void {
    this.loaded = true;
    const first = this.head < this.history.length ? this.history[this.head].seq : Math.max(this.seq, seq) + 1;
    if (seq > this.seq) this.seq = seq;
    const older = messages.filter((message) => message.seq < first);
    this.history = [...older, ...this.history.slice(this.head)];
    this.head = 0;
    this.trim(Date.now());
  }

  /** Forgets the kept history (its seqs are no longer continuous); joins with since then go to the bus. */
  clearHistory(): void {
    this.history = [];
    this.head = 0;
  }

  private trim(now: number): void {
    const overCount = this.history.length - this.head - this.limits.messages;
    if (overCount > 0) this.head += overCount;
    const cutoff = now - this.limits.seconds * 1000;
    while (this.head < this.history.length && this.history[this.head].ts < cutoff) this.head++;
    if (this.head > 1024 && this.head * 2 > this.history.length) {
      this.history = this.history.slice(this.head);
      this.head = 0;
    }
  }
}

import { randomBytes } from 'node:crypto';

/** One message as kept in a room's history: the frame bytes are built once and reused for every send (and stored as they are). */
export interface StoredMessage {
  seq: number;
  ts: number;
  frame: Buffer;
}

/** Someone who receives a room's messages: gets every message with a seq above its cursor, in order. */
export interface Subscriber {
  /** Sends one frame; returns false if the subscriber was dropped (too slow, gone). */
  deliver(frame: Buffer): boolean;
}

/** What a room keeps for `since`: the oldest message goes once any bound is passed. */
export interface HistoryLimits {
  messages: number;
  seconds: number;
  /** Frame bytes kept per room. */
  bytes: number;
}

/**
 * A room's position in its stream, as Centrifugo gives it: seqs count up within
 * an epoch; a new epoch means the stream lost continuity (messages lost in a
 * crash, row changes the binlog source could not read), so a client resuming
 * with an older epoch is told to reload instead of silently missing them. When
 * only the tail after `epochBase` may be lost, the previous epoch stays valid up
 * to it, so clients that had nothing after it resume without a gap.
 */
export interface RoomPosition {
  seq: number;
  epoch: string;
  previousEpoch: string | null;
  epochBase: number;
}

export function newEpoch(): string {
  return randomBytes(4).toString('hex');
}

/**
 * A room: its position, its recent history and its subscribers. Each
 * subscriber has a cursor (the last seq it has), so a message is sent to it at
 * most once even when history is replayed after a restart.
 */
export class Room implements RoomPosition {
  seq = 0;
  epoch = newEpoch();
  previousEpoch: string | null = null;
  epochBase = 0;
  /** Fed by the binlog source, which replays changes after a crash with the seqs they had: a `since` ahead of the room waits for them. */
  replayable = false;
  /** False until the room's history was fetched from the bus (several hosts only). */
  loaded = false;
  readonly subscribers = new Map<Subscriber, { cursor: number }>();
  private history: StoredMessage[] = [];
  /** Index of the oldest kept message in `history` (trimmed lazily, so appends stay O(1)). */
  private head = 0;
  private bytes = 0;

  constructor(
    readonly name: string,
    private readonly limits: HistoryLimits,
  ) {}

  /** The lowest seq a `since` may name without a gap: everything after it is still in the history. */
  oldestResumable(now: number): number {
    this.trim(now);
    return this.head < this.history.length ? this.history[this.head].seq - 1 : this.seq;
  }

  /**
   * Holds nothing anyone could receive or resume: no subscriber and no kept message. A room the
   * binlog source feeds is never idle: its seqs must survive, or a replay would number changes anew.
   */
  idle(now: number): boolean {
    return !this.replayable && this.subscribers.size === 0 && this.oldestResumable(now) >= this.seq;
  }

  /** Whether a position `since` of `epoch` (undefined: a client that does not say) lies in this room's stream. */
  continues(since: number, epoch: string | undefined): boolean {
    if (epoch === undefined || epoch === this.epoch) return true;
    return epoch === this.previousEpoch && since <= this.epochBase;
  }

  /** Starts a new epoch; `keepUpTo` is the last seq still valid under the old one (null: none is). */
  newEpoch(keepUpTo: number | null): void {
    this.previousEpoch = keepUpTo === null ? null : this.epoch;
    this.epochBase = keepUpTo ?? this.seq;
    this.epoch = newEpoch();
    if (keepUpTo === null) this.clearHistory();
  }

  append(message: StoredMessage): void {
    this.seq = message.seq;
    if (this.limits.messages > 0) {
      this.history.push(message);
      this.bytes += message.frame.length;
    }
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

  /** Adds older messages (from the bus or dozen's database, which were at `seq`) in front of the kept history. */
  prepend(messages: StoredMessage[], seq: number): void {
    this.loaded = true;
    const first = this.head < this.history.length ? this.history[this.head].seq : Math.max(this.seq, seq) + 1;
    if (seq > this.seq) this.seq = seq;
    const older = messages.filter((message) => message.seq < first);
    this.history = [...older, ...this.history.slice(this.head)];
    this.head = 0;
    this.bytes = this.history.reduce((total, message) => total + message.frame.length, 0);
    this.trim(Date.now());
  }

  /** Forgets the kept history (its seqs are no longer continuous); joins with since then go to the bus. */
  clearHistory(): void {
    this.history = [];
    this.head = 0;
    this.bytes = 0;
  }

  private trim(now: number): void {
    const cutoff = now - this.limits.seconds * 1000;
    while (
      this.head < this.history.length &&
      (this.history.length - this.head > this.limits.messages || this.bytes > this.limits.bytes || this.history[this.head].ts < cutoff)
    ) {
      this.bytes -= this.history[this.head].frame.length;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.history.length) {
      this.history = this.history.slice(this.head);
      this.head = 0;
    }
  }
}

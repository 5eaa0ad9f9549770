import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

/** One room message as the hub sends it. */
export interface RoomMessage<T = unknown> {
  room: string;
  seq: number;
  data: T;
  ts: number;
}

export interface BroadcastClientOptions {
  /** Admin token or a JWT naming the rooms this client may join / publish to. */
  token?: string;
  /** First reconnect delay; doubles up to `maxReconnectMs`. */
  minReconnectMs?: number;
  maxReconnectMs?: number;
}

/**
 * A dozen broadcast client for Node: joins rooms on `/ws`, hands out each
 * message once and in order (callback or async iterator), and reconnects by
 * itself, rejoining every room from the last position it saw (seq and epoch) so
 * nothing is missed.
 *
 * Events: `message` (RoomMessage), `joined` ({room, seq, epoch}), `gap` ({room, message}:
 * the hub cannot give what was missed — no longer kept, or lost in a crash or a
 * binlog format change (a new epoch); reload, the room continues live),
 * `error` ({code, message, room?}), `open`, `close` ({code, reason}).
 */
export class BroadcastClient extends EventEmitter {
  private socket: WebSocket | null = null;
  private readonly rooms = new Map<string, { lastSeq: number | null; epoch: string | null }>();
  private attempt = 0;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly url: string;

  constructor(
    url: string,
    private readonly options: BroadcastClientOptions = {},
  ) {
    super();
    const base = url.replace(/^http/, 'ws').replace(/\/+$/, '');
    this.url = base.endsWith('/ws') ? base : `${base}/ws`;
    this.open();
  }

  /** Resolves once connected (the first time). */
  ready(): Promise<void> {
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve) => this.once('open', resolve));
  }

  /** Joins `room`; with `since` (and the `epoch` it belongs to, from `position()`), first replays what came after that seq. */
  join(room: string, options: { since?: number; epoch?: string } = {}): void {
    this.rooms.set(room, { lastSeq: options.since ?? null, epoch: options.epoch ?? null });
    this.sendJoin(room);
  }

  leave(room: string): void {
    this.rooms.delete(room);
    this.send({ type: 'leave', room });
  }

  publish(room: string, data: unknown): void {
    this.send({ type: 'publish', room, data });
  }

  /** The last seq received in `room` (what a resume starts after). */
  lastSeq(room: string): number | null {
    return this.rooms.get(room)?.lastSeq ?? null;
  }

  /** Where `room` stands for this client: keep it to resume later with `join(room, {since: seq, epoch})`. */
  position(room: string): { seq: number; epoch: string } | null {
    const state = this.rooms.get(room);
    return state?.lastSeq !== null && state?.lastSeq !== undefined && state.epoch ? { seq: state.lastSeq, epoch: state.epoch } : null;
  }

  /** Every message of the joined rooms (or of one room), in order, until `close()`. */
  async *messages<T = unknown>(room?: string): AsyncGenerator<RoomMessage<T>> {
    const queue: RoomMessage<T>[] = [];
    let wake: (() => void) | null = null;
    const onMessage = (message: RoomMessage<T>) => {
      if (room && message.room !== room) return;
      queue.push(message);
      wake?.();
    };
    const onClosed = () => wake?.();
    this.on('message', onMessage);
    this.on('closed', onClosed);
    try {
      while (!this.closed || queue.length) {
        if (!queue.length) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        while (queue.length) yield queue.shift()!;
      }
    } finally {
      this.off('message', onMessage);
      this.off('closed', onClosed);
    }
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.socket?.close(1000, 'client closing');
    this.emit('closed');
  }

  private open(): void {
    const socket = new WebSocket(this.url, { headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {} });
    this.socket = socket;
    socket.on('open', () => {
      this.attempt = 0;
      for (const room of this.rooms.keys()) this.sendJoin(room);
      this.emit('open');
    });
    socket.on('message', (raw) => this.receive(JSON.parse(raw.toString())));
    socket.on('error', () => undefined); // 'close' follows and reconnects
    socket.on('close', (code, reason) => {
      this.emit('close', { code, reason: reason.toString() });
      if (this.closed || socket !== this.socket) return;
      const delay = Math.min(this.options.maxReconnectMs ?? 5000, (this.options.minReconnectMs ?? 100) * 2 ** this.attempt++);
      this.retry = setTimeout(() => this.open(), delay);
    });
  }

  private receive(frame: { type: string; room?: string; seq?: number; epoch?: string; data?: unknown; ts?: number; code?: string; message?: string }): void {
    const state = frame.room ? this.rooms.get(frame.room) : undefined;
    if (frame.type === 'message' && state) {
      if (state.lastSeq !== null && frame.seq! <= state.lastSeq) return;
      state.lastSeq = frame.seq!;
      this.emit('message', { room: frame.room!, seq: frame.seq!, data: frame.data, ts: frame.ts! });
    } else if (frame.type === 'joined' && state) {
      // The hub answers a join with since only when it continues our stream (else history_gap), so its epoch is ours now.
      if (state.lastSeq === null) state.lastSeq = frame.seq!;
      state.epoch = frame.epoch ?? null;
      this.emit('joined', { room: frame.room, seq: frame.seq, epoch: frame.epoch });
    } else if (frame.type === 'error' && frame.code === 'history_gap' && state) {
      state.lastSeq = null;
      state.epoch = null;
      this.emit('gap', { room: frame.room, message: frame.message });
      this.sendJoin(frame.room!);
    } else if (frame.type === 'error') {
      if (this.listenerCount('error')) this.emit('error', frame);
    }
  }

  private sendJoin(room: string): void {
    const state = this.rooms.get(room);
    const since = state?.lastSeq;
    this.send({ type: 'join', room, ...(since === null || since === undefined ? {} : { since, ...(state?.epoch ? { epoch: state.epoch } : {}) }) });
  }

  private send(frame: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }
}

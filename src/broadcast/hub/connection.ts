import type { RawData, WebSocket } from 'ws';
import { BINLOG_ROOMS_READ_ONLY, errorFrame, isBinlogRoom, joinedFrame, leftFrame, parseClientFrame, PONG_FRAME } from './frames.js';
import type { Hub } from './hub.js';
import type { RoomAccess } from './room-access.js';
import type { Subscriber } from './room.js';

/** WebSocket close code for "try again later": the client fell behind (RFC 6455 registry). */
export const CLOSE_TOO_SLOW = 1013;
export const CLOSE_POLICY = 1008;
/** "Internal error": handling one of this client's frames failed unexpectedly. */
export const CLOSE_INTERNAL = 1011;

export interface ConnectionLimits {
  sendBufferBytes: number;
  /** Unsent bytes past which the binlog source is asked to pause. */
  pressureBytes: number;
}

export interface ConnectionEvents {
  /** Closed with 1013: its send buffer was full. */
  slow(): void;
  /** Its unsent bytes passed `pressureBytes`. */
  pressure(): void;
  /** Handling one of its frames threw; it is closed with 1011. */
  failed(error: unknown): void;
}

/** How a connection publishes and fetches older history: directly, or through the several-hosts bus. */
export interface RoomBackend {
  publish(room: string, data: unknown): void;
  /** True when older history can be fetched from elsewhere (the bus). */
  readonly canRefill: boolean;
  /** Fetches history this host does not keep into the hub. */
  refill(room: string): Promise<boolean>;
}

/**
 * One client socket: reads its frames, checks each against its rights, and
 * receives room messages as a Subscriber. A client whose unsent bytes (messages
 * and replies) pass the bound is closed with 1013 rather than slowing the room
 * for everyone else or growing the server's memory.
 */
export class Connection implements Subscriber {
  lastSeen = Date.now();
  /** For the binlog source's pacing: unsent bytes at the last look, and when they last went down. */
  bufferedSeen = 0;
  progressAt = Date.now();
  private readonly rooms = new Set<string>();
  private closed = false;

  constructor(
    readonly socket: WebSocket,
    private readonly hub: Hub,
    private readonly access: RoomAccess,
    private readonly limits: ConnectionLimits,
    private readonly backend: RoomBackend,
    private readonly events: ConnectionEvents,
  ) {}

  /**
   * The one way a frame reaches this client (room messages and every reply alike): a client that does
   * not read what it asked for cannot make the server hold more than `sendBufferBytes` for it.
   */
  deliver(frame: Buffer | string): boolean {
    if (this.closed || this.socket.readyState !== 1 || !this.fits(Buffer.byteLength(frame))) return false;
    this.socket.send(frame, { binary: false });
    if (this.socket.bufferedAmount > this.limits.pressureBytes) this.events.pressure();
    return true;
  }

  /** Answers a WebSocket ping: ws's automatic pong is off, so pongs pass the same bound. */
  pong(data: Buffer): void {
    this.lastSeen = Date.now();
    if (this.closed || this.socket.readyState !== 1 || !this.fits(data.length + 2)) return;
    this.socket.pong(data);
  }

  /**
   * Handles one frame. It runs inside ws's socket listener, where an exception would end the
   * process: one that escapes the handling closes this connection (1011) and nothing else.
   */
  receive(data: RawData, isBinary: boolean): void {
    try {
      this.handle(data, isBinary);
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    this.events.failed(error);
    this.deliver(errorFrame('internal', 'the server failed to handle a frame; the connection is closed'));
    this.close(CLOSE_INTERNAL, 'internal error');
  }

  private handle(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    this.lastSeen = Date.now();
    const reply = this.act(data, isBinary);
    if (reply) this.deliver(reply);
  }

  /** Does what one frame asks; returns the frame that answers it, or null when the answer comes later (a join) or as messages. */
  private act(data: RawData, isBinary: boolean): string | null {
    if (isBinary) return errorFrame('bad_frame', 'frames are JSON text');
    const frame = parseClientFrame(data.toString());
    if (typeof frame === 'string') return errorFrame('bad_frame', frame);
    switch (frame.type) {
      case 'ping':
        return PONG_FRAME;
      case 'join':
        if (!this.access.canJoin(frame.room)) return errorFrame('forbidden', `may not join ${frame.room}`, frame.room);
        if (!this.hub.canOpen(frame.room)) return this.tooManyRooms(frame.room);
        this.join(frame.room, frame.since, frame.epoch, true);
        return null;
      case 'leave':
        this.hub.leave(this, frame.room);
        this.rooms.delete(frame.room);
        return leftFrame(frame.room);
      case 'publish':
        if (isBinlogRoom(frame.room)) return errorFrame('forbidden', BINLOG_ROOMS_READ_ONLY, frame.room);
        if (!this.access.canPublish(frame.room)) return errorFrame('forbidden', `may not publish to ${frame.room}`, frame.room);
        if (!this.hub.canOpen(frame.room)) return this.tooManyRooms(frame.room);
        this.backend.publish(frame.room, frame.data);
        return null;
    }
  }

  private join(room: string, since: number | undefined, epoch: string | undefined, mayRefill: boolean): void {
    if (mayRefill && this.backend.canRefill && !this.hub.loaded(room)) {
      // First join of this room on this host: fetch its seq and history from the bus first.
      const retry = () => !this.closed && this.join(room, since, epoch, true);
      this.backend.refill(room).then(retry, () => !this.closed && this.join(room, since, epoch, false)).catch((error: unknown) => this.fail(error));
      return;
    }
    const result = this.hub.join(this, room, since, epoch);
    if ('gap' in result && mayRefill && this.backend.canRefill) {
      // Older than this host keeps: fetch the room's history from the bus, then try once more.
      const retry = () => !this.closed && this.join(room, since, epoch, false);
      this.backend.refill(room).then(retry, retry).catch((error: unknown) => this.fail(error));
      return;
    }
    if ('gap' in result) {
      this.rooms.delete(room);
      this.deliver(errorFrame('history_gap', `${result.gap}; reload and join without since`, room));
      return;
    }
    this.rooms.add(room);
    this.deliver(joinedFrame(room, result.seq, result.epoch));
    for (const message of result.backlog) if (!this.deliver(message.frame)) return;
  }

  /** Removes it from every room; called when the socket closes. */
  detach(): void {
    this.closed = true;
    for (const room of this.rooms) this.hub.leave(this, room);
    this.rooms.clear();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.detach();
    this.socket.close(code, reason);
  }

  private tooManyRooms(room: string): string {
    return errorFrame('too_many_rooms', `${this.hub.roomLimit} rooms are open on this host (broadcast.maxRooms): try again once rooms are left`, room);
  }

  /** Whether `bytes` more fit in the send buffer; if not, the client is closed with 1013. */
  private fits(bytes: number): boolean {
    if (this.socket.bufferedAmount + bytes <= this.limits.sendBufferBytes) return true;
    this.close(CLOSE_TOO_SLOW, `send buffer over ${this.limits.sendBufferBytes} bytes: client too slow`);
    this.events.slow();
    return false;
  }
}

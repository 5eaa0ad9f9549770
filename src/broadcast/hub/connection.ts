import type { RawData, WebSocket } from 'ws';
import { BINLOG_ROOMS_READ_ONLY, errorFrame, isBinlogRoom, joinedFrame, leftFrame, parseClientFrame, PONG_FRAME } from './frames.js';
import type { Hub, RoomReservation } from './hub.js';
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
  /**
   * Publishes `data`. `reservation` holds the room's place among maxRooms: the backend opens the room with it once
   * the message is numbered (`open`), or gives it back (`release`) when publishing failed.
   */
  publish(room: string, data: unknown, reservation: RoomReservation): void;
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
  /**
   * Frames waiting behind a `since` replay, which is sent as the socket drains rather than at once (a backlog
   * over sendBufferBytes would close the client, so a room would not be resumable). What comes meanwhile
   * (live messages, replies) waits behind it, so the order holds; `bytes` is 0 for the replay's own frames,
   * which the room's history keeps anyway, so only the others count against sendBufferBytes.
   */
  private queue: { frame: Buffer | string; bytes: number }[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  /** The queue waits for a send to complete (the socket to drain) before it sends more. */
  private waiting = false;
  private readonly sent = () => {
    if (!this.waiting) return;
    this.waiting = false;
    this.pump();
  };

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
    if (this.queueHead < this.queue.length) {
      const bytes = Buffer.byteLength(frame);
      this.queue.push({ frame, bytes });
      this.queuedBytes += bytes;
      return true;
    }
    this.send(frame);
    return true;
  }

  private send(frame: Buffer | string): void {
    // The callback is what a waiting replay goes on from: any completed write means the socket drained some.
    this.socket.send(frame, { binary: false }, this.sent);
    if (this.socket.bufferedAmount > this.limits.pressureBytes) this.events.pressure();
  }

  /**
   * Sends a replay's frames, and what waits behind them, while the socket holds less than half of pressureBytes
   * (so a replay does not pause the binlog source); the rest goes on from the send callbacks.
   */
  private replay(frames: Buffer[]): void {
    for (const frame of frames) this.queue.push({ frame, bytes: 0 });
    this.pump();
  }

  private pump(): void {
    while (this.queueHead < this.queue.length) {
      if (this.closed || this.socket.readyState !== 1) return;
      if (this.socket.bufferedAmount > 0 && this.socket.bufferedAmount >= this.limits.pressureBytes / 2) {
        this.waiting = true;
        return;
      }
      const { frame, bytes } = this.queue[this.queueHead++];
      this.queuedBytes -= bytes;
      this.send(frame);
    }
    this.queue = [];
    this.queueHead = 0;
  }

  /** Answers a WebSocket ping: ws's automatic pong is off, so pongs pass the same bound. */
  pong(data: Buffer): void {
    this.lastSeen = Date.now();
    if (this.closed || this.socket.readyState !== 1 || !this.fits(data.length + 2)) return;
    this.socket.pong(data, undefined, this.sent);
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
      case 'join': {
        if (!this.access.canJoin(frame.room)) return errorFrame('forbidden', `may not join ${frame.room}`, frame.room);
        // Held until the join is answered: joins still waiting for the bus count against maxRooms too.
        const reservation = this.hub.reserve(frame.room);
        if (!reservation) return this.tooManyRooms(frame.room);
        this.releasingOnThrow(reservation, () => this.join(frame.room, frame.since, frame.epoch, true, reservation));
        return null;
      }
      case 'leave':
        this.hub.leave(this, frame.room);
        this.rooms.delete(frame.room);
        return leftFrame(frame.room);
      case 'publish': {
        if (isBinlogRoom(frame.room)) return errorFrame('forbidden', BINLOG_ROOMS_READ_ONLY, frame.room);
        if (!this.access.canPublish(frame.room)) return errorFrame('forbidden', `may not publish to ${frame.room}`, frame.room);
        // Held until the message is numbered: publishes still on their way through the bus count against maxRooms too.
        const reservation = this.hub.reserve(frame.room);
        if (!reservation) return this.tooManyRooms(frame.room);
        this.releasingOnThrow(reservation, () => this.backend.publish(frame.room, frame.data, reservation));
        return null;
      }
    }
  }

  /** Runs `action`; if it throws (the connection then closes), the place it held among maxRooms is given back. */
  private releasingOnThrow(reservation: RoomReservation, action: () => void): void {
    try {
      action();
    } catch (error) {
      reservation.release();
      throw error;
    }
  }

  /** Joins `room`, after fetching its history from the bus when this host lacks it; `reservation` is released once the join is answered. */
  private join(room: string, since: number | undefined, epoch: string | undefined, mayRefill: boolean, reservation: RoomReservation): void {
    if (this.closed) return reservation.release();
    if (mayRefill && this.backend.canRefill && !this.hub.loaded(room)) {
      // First join of this room on this host: fetch its seq and history from the bus first; without them (Redis away), join as it is.
      this.refillThen(room, (fetched) => this.join(room, since, epoch, fetched, reservation), reservation);
      return;
    }
    // Checked again here, where the room is opened: the join may have waited for the bus.
    if (!this.hub.canOpen(room)) {
      reservation.release();
      this.deliver(this.tooManyRooms(room));
      return;
    }
    const result = this.hub.join(this, room, since, epoch);
    if ('gap' in result && mayRefill && this.backend.canRefill) {
      // Older than this host keeps: fetch the room's history from the bus, then try once more.
      this.refillThen(room, () => this.join(room, since, epoch, false, reservation), reservation);
      return;
    }
    reservation.release();
    if ('gap' in result) {
      this.rooms.delete(room);
      this.deliver(errorFrame('history_gap', `${result.gap}; reload and join without since`, room));
      return;
    }
    this.rooms.add(room);
    if (this.deliver(joinedFrame(room, result.seq, result.epoch))) this.replay(result.backlog.map((message) => message.frame));
  }

  /** Fetches the room's history from the bus, then goes on with `next(fetched)`; a failure of `next` closes this connection. */
  private refillThen(room: string, next: (fetched: boolean) => void, reservation: RoomReservation): void {
    this.backend
      .refill(room)
      .then(
        () => true,
        () => false,
      )
      .then(next)
      .catch((error: unknown) => {
        reservation.release();
        this.fail(error);
      });
  }

  /** Removes it from every room; called when the socket closes. */
  detach(): void {
    this.closed = true;
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
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

  /**
   * Whether `bytes` more fit in the send buffer (with what waits behind a replay); if not, the client is closed
   * with 1013. A frame always goes out when nothing waits: one row change over the bound (a LONGBLOB) would
   * otherwise close every subscriber, live and on every resume.
   */
  private fits(bytes: number): boolean {
    const unsent = this.socket.bufferedAmount + this.queuedBytes;
    if (unsent === 0 || unsent + bytes <= this.limits.sendBufferBytes) return true;
    this.close(CLOSE_TOO_SLOW, `send buffer over ${this.limits.sendBufferBytes} bytes: client too slow`);
    this.events.slow();
    return false;
  }
}

import type { RawData, WebSocket } from 'ws';
import { errorFrame, joinedFrame, leftFrame, parseClientFrame, PONG_FRAME } from './frames.js';
import type { Hub } from './hub.js';
import type { RoomAccess } from './room-access.js';
import type { Subscriber } from './room.js';

/** WebSocket close code for "try again later": the client fell behind (RFC 6455 registry). */
export const CLOSE_TOO_SLOW = 1013;
export const CLOSE_POLICY = 1008;

export interface ConnectionLimits {
  sendBufferBytes: number;
}

/**
 * One client socket: reads its frames, checks each against its rights, and
 * receives room messages as a Subscriber. A client whose unsent bytes pass the
 * bound is closed with 1013 rather than slowing the room for everyone else.
 */
export class Connection implements Subscriber {
  lastSeen = Date.now();
  private readonly rooms = new Set<string>();
  private closed = false;

  constructor(
    readonly socket: WebSocket,
    private readonly hub: Hub,
    private readonly access: RoomAccess,
    private readonly limits: ConnectionLimits,
    private readonly onSlow: () => void,
  ) {}

  deliver(frame: Buffer): boolean {
    if (this.closed || this.socket.readyState !== 1) return false;
    if (this.socket.bufferedAmount + frame.length > this.limits.sendBufferBytes) {
      this.close(CLOSE_TOO_SLOW, `send buffer over ${this.limits.sendBufferBytes} bytes: client too slow`);
      this.onSlow();
      return false;
    }
    this.socket.send(frame, { binary: false });
    return true;
  }

  handle(data: RawData, isBinary: boolean): void {
    this.lastSeen = Date.now();
    if (isBinary) return this.sendText(errorFrame('bad_frame', 'frames are JSON text'));
    const frame = parseClientFrame(data.toString());
    if (typeof frame === 'string') return this.sendText(errorFrame('bad_frame', frame));
    switch (frame.type) {
      case 'ping':
        return this.sendText(PONG_FRAME);
      case 'join': {
        if (!this.access.canJoin(frame.room)) return this.sendText(errorFrame('forbidden', `may not join ${frame.room}`, frame.room));
        this.hub.leave(this, frame.room);
        const result = this.hub.join(this, frame.room, frame.since);
        if ('gap' in result) {
          return this.sendText(
            errorFrame('history_gap', `messages after seq ${frame.since} are no longer kept (history starts after ${result.oldest}, room is at ${result.seq}); reload and join without since`, frame.room),
          );
        }
        this.rooms.add(frame.room);
        this.sendText(joinedFrame(frame.room, result.seq));
        for (const message of result.backlog) if (!this.deliver(message.frame)) return;
        return;
      }
      case 'leave':
        this.hub.leave(this, frame.room);
        this.rooms.delete(frame.room);
        return this.sendText(leftFrame(frame.room));
      case 'publish':
        if (!this.access.canPublish(frame.room)) return this.sendText(errorFrame('forbidden', `may not publish to ${frame.room}`, frame.room));
        this.hub.publish(frame.room, frame.data);
        return;
    }
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

  private sendText(text: string): void {
    if (!this.closed && this.socket.readyState === 1) this.socket.send(text);
  }
}

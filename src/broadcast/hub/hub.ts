import { messageFrame } from './frames.js';
import { Room, type HistoryLimits, type StoredMessage, type Subscriber } from './room.js';

export interface Published {
  room: string;
  seq: number;
  ts: number;
}

export type JoinResult = { seq: number; backlog: StoredMessage[] } | { gap: true; oldest: number; seq: number };

export interface RoomSummary {
  name: string;
  subscribers: number;
  seq: number;
}

/**
 * The rooms of this process. Plain logic, no Nest and no sockets: publishers
 * hand it data, it numbers it, keeps it in the room's history and hands the
 * one serialised frame to every subscriber. Everything is synchronous, so a
 * join's backlog and the live messages after it can never interleave.
 */
export class Hub {
  private readonly rooms = new Map<string, Room>();
  private readonly listeners: ((room: string, count: number) => void)[] = [];

  constructor(private readonly limits: HistoryLimits) {}

  /** Called with (room, subscribers) after each publish; used for metrics. */
  onPublish(listener: (room: string, count: number) => void): void {
    this.listeners.push(listener);
  }

  publish(roomName: string, data: unknown, ts = Date.now()): Published {
    const room = this.room(roomName);
    const seq = room.seq + 1;
    room.append({ seq, ts, data, frame: messageFrame(roomName, seq, data, ts) });
    for (const listener of this.listeners) listener(roomName, room.subscribers.size);
    return { room: roomName, seq, ts };
  }

  /** Takes a message numbered elsewhere (the Redis bus); ignores one it already has. */
  accept(roomName: string, seq: number, data: unknown, ts: number): void {
    const room = this.room(roomName);
    if (seq <= room.seq) return;
    if (seq > room.seq + 1) room.clearHistory();
    room.append({ seq, ts, data, frame: messageFrame(roomName, seq, data, ts) });
    for (const listener of this.listeners) listener(roomName, room.subscribers.size);
  }

  /** Adds history fetched from the bus in front of what this host kept. */
  fill(roomName: string, seq: number, messages: { seq: number; ts: number; data: unknown }[]): void {
    this.room(roomName).prepend(
      messages.map((message) => ({ ...message, frame: messageFrame(roomName, message.seq, message.data, message.ts) })),
      seq,
    );
  }

  /** Whether this host has the room's history from the bus (always false without a bus: nothing to fetch). */
  loaded(roomName: string): boolean {
    return this.rooms.get(roomName)?.loaded ?? false;
  }

  /**
   * Subscribes from `since` (exclusive) or from now. A `since` older than the
   * history answers a gap and subscribes nothing; a `since` ahead of the room
   * (the room was rebuilt after a restart) waits for the seqs to pass it.
   */
  join(subscriber: Subscriber, roomName: string, since?: number, now = Date.now()): JoinResult {
    const room = this.room(roomName);
    if (since === undefined) {
      room.subscribers.set(subscriber, { cursor: room.seq });
      return { seq: room.seq, backlog: [] };
    }
    const oldest = room.oldestResumable(now);
    if (since < oldest) return { gap: true, oldest, seq: room.seq };
    const backlog = room.since(since, now);
    room.subscribers.set(subscriber, { cursor: Math.max(since, room.seq) });
    return { seq: room.seq, backlog };
  }

  leave(subscriber: Subscriber, roomName: string): boolean {
    return this.rooms.get(roomName)?.subscribers.delete(subscriber) ?? false;
  }

  /** Sets a room's counter, e.g. the seq the binlog source had published up to before a restart. */
  restoreSeq(roomName: string, seq: number): void {
    const room = this.room(roomName);
    if (room.seq < seq) room.seq = seq;
  }

  seq(roomName: string): number {
    return this.rooms.get(roomName)?.seq ?? 0;
  }

  history(roomName: string, since: number, now = Date.now()): { seq: number; oldest: number; messages: StoredMessage[] } {
    const room = this.room(roomName);
    return { seq: room.seq, oldest: room.oldestResumable(now), messages: room.since(since, now) };
  }

  list(): RoomSummary[] {
    return [...this.rooms.values()].map((room) => ({ name: room.name, subscribers: room.subscribers.size, seq: room.seq })).sort((a, b) => a.name.localeCompare(b.name));
  }

  private room(name: string): Room {
    let room = this.rooms.get(name);
    if (!room) {
      room = new Room(name, this.limits);
      this.rooms.set(name, room);
    }
    return room;
  }
}

import { errorFrame, messageFrame } from './frames.js';
import { Room, type HistoryLimits, type RoomPosition, type StoredMessage, type Subscriber } from './room.js';

export interface Published {
  room: string;
  seq: number;
  ts: number;
}

/** Joined at `seq` of `epoch` with the messages after `since`; or the reason `since` cannot be resumed (a history_gap). */
export type JoinResult = { seq: number; epoch: string; backlog: StoredMessage[] } | { gap: string; seq: number; epoch: string };

export interface RoomSummary {
  name: string;
  subscribers: number;
  seq: number;
  epoch: string;
}

/** What a room looked like when it was saved: its position, whether the binlog feeds it, and its history. */
export interface SavedRoom extends RoomPosition {
  name: string;
  replayable: boolean;
  messages: StoredMessage[];
}

/** Told of every change to a room's stream, in order (dozen's database keeps rooms across restarts through it). */
export interface RoomListener {
  appended(room: Room, message: StoredMessage): void;
  /** The room's epoch changed (its stream lost continuity). */
  moved(room: Room): void;
  /** The room was idle and is gone; a room of that name later starts afresh (seq 1, a new epoch). */
  dropped(room: Room): void;
}

/**
 * A place among `maxRooms` held for a client's action on a room while it waits for the bus (a publish, a
 * first join fetching the room's history): actions started together cannot all pass the limit before any
 * of them opened its room.
 */
export interface RoomReservation {
  /** The action is over (done or failed): the place is given back; the room keeps its own if it is open. */
  release(): void;
  /** The action succeeded: opens the room now, if it is not open yet, in the place held for it; then releases. */
  open(): void;
}
/**
 * The rooms of this process. Plain logic, no Nest and no sockets: publishers
 * hand it data, it numbers it, keeps it in the room's history and hands the
 * one serialised frame to every subscriber. Everything is synchronous, so a
 * join's backlog and the live messages after it can never interleave.
 *
 * A room lives while it has a subscriber or a kept message (or the binlog
 * source feeds it): an idle one is dropped when its last subscriber leaves,
 * and by `dropIdle` once its history aged out. Clients open at most
 * `maxRooms` (`canOpen`, and `reserve` for what waits for the bus), so joins
 * of made-up names cannot fill the memory.
 */
export class Hub {
  private readonly rooms = new Map<string, Room>();
  /** Names held by reservations under way, and how many hold each. */
  private readonly reserved = new Map<string, number>();
  /** Reserved names with no room (not yet open, or dropped meanwhile): each takes a place among maxRooms. */
  private reservedWithoutRoom = 0;
  private readonly listeners: ((room: string, count: number) => void)[] = [];
  private readonly changeListeners = new Set<() => void>();
  private roomListener: RoomListener | null = null;
  /** The room whose message is being handed out: a subscriber dropped meanwhile must not drop the room under it. */
  private appending: Room | null = null;

  constructor(
    private readonly limits: HistoryLimits,
    private readonly maxRooms = Number.POSITIVE_INFINITY,
  ) {}

  /** Whether a client may use `name` now: it exists or is reserved, or fewer than `maxRooms` rooms are open or reserved. */
  canOpen(name: string): boolean {
    return this.rooms.has(name) || this.reserved.has(name) || this.rooms.size + this.reservedWithoutRoom < this.maxRooms;
  }

  /** Holds a place for `name` (see RoomReservation) while a client's action on it is under way; null when `canOpen` refuses. */
  reserve(name: string): RoomReservation | null {
    if (!this.canOpen(name)) return null;
    const holders = this.reserved.get(name) ?? 0;
    if (holders === 0 && !this.rooms.has(name)) this.reservedWithoutRoom++;
    this.reserved.set(name, holders + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      const left = this.reserved.get(name)! - 1;
      if (left > 0) {
        this.reserved.set(name, left);
        return;
      }
      this.reserved.delete(name);
      if (!this.rooms.has(name)) this.reservedWithoutRoom--;
    };
    return {
      release,
      open: () => {
        if (held) this.open(name);
        release();
      },
    };
  }

  /** How many rooms a client may open; for the error that refuses one more. */
  get roomLimit(): number {
    return this.maxRooms;
  }

  /** Called with (room, subscribers) after each publish; used for metrics. */
  onPublish(listener: (room: string, count: number) => void): void {
    this.listeners.push(listener);
  }

  /** Calls `listener` after anything a room list shows changed (a message, a join, a leave, a new epoch); returns the unwatch. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** The one listener to every room's stream (dozen's database). */
  listen(listener: RoomListener): void {
    this.roomListener = listener;
  }

  publish(roomName: string, data: unknown, ts = Date.now()): Published {
    const room = this.open(roomName);
    const seq = room.seq + 1;
    this.append(room, { seq, ts, frame: messageFrame(roomName, seq, data, ts) });
    return { room: roomName, seq, ts };
  }

  /** Takes a message numbered elsewhere (the Redis bus); ignores one it already has. A new epoch or a skipped seq breaks the kept history. */
  accept(roomName: string, seq: number, data: unknown, ts: number, epoch?: string): void {
    const room = this.open(roomName);
    if (epoch && epoch !== room.epoch) {
      room.epoch = epoch;
      room.previousEpoch = null;
      room.clearHistory();
      room.seq = Math.min(room.seq, seq - 1);
    }
    if (seq <= room.seq) return;
    if (seq > room.seq + 1) room.clearHistory();
    this.append(room, { seq, ts, frame: messageFrame(roomName, seq, data, ts) });
  }

  /** Adds history fetched from the bus in front of what this host kept. */
  fill(roomName: string, seq: number, messages: { seq: number; ts: number; data: unknown }[], epoch?: string): void {
    const room = this.open(roomName);
    if (epoch && epoch !== room.epoch) {
      room.epoch = epoch;
      room.previousEpoch = null;
      room.clearHistory();
    }
    room.prepend(
      messages.map((message) => ({ seq: message.seq, ts: message.ts, frame: messageFrame(roomName, message.seq, message.data, message.ts) })),
      seq,
    );
    this.changed();
  }

  /** Puts back a room saved in dozen's database, before anyone joins. */
  restore(saved: SavedRoom): void {
    const room = this.open(saved.name);
    Object.assign(room, { seq: saved.seq, epoch: saved.epoch, previousEpoch: saved.previousEpoch, epochBase: saved.epochBase, replayable: saved.replayable });
    room.prepend(saved.messages, saved.seq);
  }

  /** Marks a room the binlog source feeds: its replay after a crash gives changes the seqs they had. */
  markReplayable(roomName: string): void {
    this.open(roomName).replayable = true;
  }

  /**
   * The room's stream lost messages (row changes the binlog source could not
   * read): a new epoch, so no client resumes across the loss, and a
   * history_gap to everyone joined now, so they reload.
   */
  breakRoom(roomName: string, reason: string): void {
    // A room this host does not hold has no one to tell, and any position in it is a gap already.
    const room = this.rooms.get(roomName);
    if (!room) return;
    room.newEpoch(null);
    this.roomListener?.moved(room);
    const notice = Buffer.from(errorFrame('history_gap', `${reason}; reload and join again (the room continues at seq ${room.seq}, epoch ${room.epoch})`, roomName));
    for (const subscriber of room.subscribers.keys()) subscriber.deliver(notice);
    this.changed();
  }

  /** Starts a new epoch for a room whose last messages may be lost (a crash before they were saved); what came before `keepUpTo` stays valid. */
  continueAfterLoss(roomName: string): void {
    const room = this.open(roomName);
    room.newEpoch(room.seq);
    this.roomListener?.moved(room);
    this.changed();
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
  join(subscriber: Subscriber, roomName: string, since?: number, epoch?: string, now = Date.now()): JoinResult {
    const room = this.open(roomName);
    const gap = since === undefined ? null : this.gap(room, since, epoch, now);
    if (gap) {
      // Not subscribed: a cursor it had here from an earlier join no longer holds.
      if (room.subscribers.delete(subscriber)) this.changed();
      this.dropIfIdle(room, now);
      return { gap, seq: room.seq, epoch: room.epoch };
    }
    const backlog = since === undefined ? [] : room.since(since, now);
    room.subscribers.set(subscriber, { cursor: Math.max(since ?? 0, room.seq) });
    this.changed();
    return { seq: room.seq, epoch: room.epoch, backlog };
  }

  /** Why `since` (of `epoch`) cannot be resumed in `room`, or null when it can. */
  private gap(room: Room, since: number, epoch: string | undefined, now: number): string | null {
    if (!room.continues(since, epoch)) {
      return `epoch ${epoch} is not this room's stream any more (now epoch ${room.epoch}, seq ${room.seq}): messages after seq ${since} may be lost`;
    }
    // Only the binlog source gives seqs ahead of a restored room back (its replay); anywhere else they are gone.
    if (since > room.seq && !room.replayable) return `seq ${since} is ahead of the room (seq ${room.seq}, epoch ${room.epoch}): what came after seq ${room.seq} was lost`;
    const oldest = room.oldestResumable(now);
    if (since < oldest) return `messages after seq ${since} are no longer kept (history starts after ${oldest}, room is at ${room.seq}, epoch ${room.epoch})`;
    return null;
  }

  leave(subscriber: Subscriber, roomName: string): boolean {
    const room = this.rooms.get(roomName);
    if (!room?.subscribers.delete(subscriber)) return false;
    this.dropIfIdle(room);
    this.changed();
    return true;
  }

  /** Drops every idle room (no subscriber, its history aged out); returns how many went. */
  dropIdle(now = Date.now()): number {
    let dropped = 0;
    for (const room of [...this.rooms.values()]) if (this.dropIfIdle(room, now)) dropped++;
    if (dropped) this.changed();
    return dropped;
  }

  /** Sets the counter of a room the binlog source feeds: the seq it had published up to before a restart. */
  restoreSeq(roomName: string, seq: number): void {
    const room = this.open(roomName);
    room.replayable = true;
    if (room.seq < seq) room.seq = seq;
    this.changed();
  }

  seq(roomName: string): number {
    return this.rooms.get(roomName)?.seq ?? 0;
  }

  /** Messages after `since`, or the gap that stands in the way; null for a room that does not exist (and is not created). */
  history(roomName: string, since: number, epoch?: string, now = Date.now()): { seq: number; epoch: string; gap: string | null; messages: StoredMessage[] } | null {
    const room = this.rooms.get(roomName);
    if (!room) return null;
    const gap = this.gap(room, since, epoch, now);
    return { seq: room.seq, epoch: room.epoch, gap, messages: gap ? [] : room.since(since, now) };
  }

  list(): RoomSummary[] {
    return [...this.rooms.values()]
      .map((room) => ({ name: room.name, subscribers: room.subscribers.size, seq: room.seq, epoch: room.epoch }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The rooms a subscriber of this host is in (their keys in Redis must not expire). */
  joinedRooms(): string[] {
    return [...this.rooms.values()].filter((room) => room.subscribers.size > 0).map((room) => room.name);
  }

  /** Every room, for the binlog source's checks. */
  names(): string[] {
    return [...this.rooms.keys()];
  }

  /** The rooms the binlog source feeds (restored from dozen's database, or published into since the start). */
  binlogRooms(): string[] {
    return [...this.rooms.values()].filter((room) => room.replayable).map((room) => room.name);
  }

  private append(room: Room, message: StoredMessage): void {
    this.appending = room;
    try {
      room.append(message);
    } finally {
      this.appending = null;
    }
    this.roomListener?.appended(room, message);
    for (const listener of this.listeners) listener(room.name, room.subscribers.size);
    this.changed();
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  private dropIfIdle(room: Room, now = Date.now()): boolean {
    if (room === this.appending || this.rooms.get(room.name) !== room || !room.idle(now)) return false;
    this.rooms.delete(room.name);
    if (this.reserved.has(room.name)) this.reservedWithoutRoom++;
    this.roomListener?.dropped(room);
    return true;
  }

  /** The room of that name, created when there is none. */
  private open(name: string): Room {
    let room = this.rooms.get(name);
    if (!room) {
      room = new Room(name, this.limits);
      this.rooms.set(name, room);
      if (this.reserved.has(name)) this.reservedWithoutRoom--;
    }
    return room;
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource, MoreThanOrEqual, type EntityManager } from 'typeorm';
import type { Hub, RoomListener, SavedRoom } from '../hub/hub.js';
import type { Room, StoredMessage } from '../hub/room.js';
import { RoomMessageRow, RoomRow } from './room-state.entity.js';

/** Rows per INSERT: SQLite allows 32,766 bound values per statement, MySQL 65,535. */
const INSERT_CHUNK = 1000;
/** Frame bytes per INSERT: a statement must fit the server's max_allowed_packet (4 MiB by default on MySQL 5.7, 16 MiB on MariaDB). */
const INSERT_CHUNK_BYTES = 1024 * 1024;
/** Past this many unsaved messages a save starts at once rather than at the next tick. */
const SAVE_NOW_ABOVE = 5000;

/**
 * Something saved in the same transaction as the rooms, as of the same moment
 * (the binlog source's position): called when a batch is cut, it returns the
 * write to add, or null.
 */
export type CoSave = () => ((manager: EntityManager) => Promise<unknown>) | null;

/**
 * Keeps every room's position and history in dozen's database, so a restart
 * never takes a room back to seq 0 or forgets its history (one host; with the
 * Redis bus, Redis keeps them). Publishing stays synchronous and cheap: the hub
 * tells the store of each message, the store collects them and writes them
 * every `saveEveryMs` in one transaction (a prefix of the publish order). A
 * crash loses at most that last batch; the rooms concerned then start a new
 * epoch, so clients that saw the lost messages get a history_gap.
 */
@Injectable()
export class RoomStore implements RoomListener {
  private pending = new Map<string, { room: Room; messages: StoredMessage[] }>();
  private pendingCount = 0;
  /** Rooms the hub dropped: their rows go in the next batch, before a room of the same name is written again. */
  private gone = new Set<string>();
  /** Every room the hub dropped (a failed batch must not write one back: its name may belong to a new room by now). */
  private readonly droppedRooms = new WeakSet<Room>();
  private saving: Promise<void> = Promise.resolve();
  private coSave: CoSave | null = null;
  /** A co-saved write whose transaction failed: written with the next batch, unless a newer one replaces it. */
  private unsavedCoSave: ReturnType<CoSave> = null;
  /** Since when saves fail and the database's last word; null while they succeed. */
  private failure: { since: number; error: string } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private log: Logger | null = null;
  private hub: Hub | null = null;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Puts the saved rooms back into `hub`, then saves what it publishes from now on. */
  async open(hub: Hub, options: { saveEveryMs: number; historySeconds: number; log: Logger }): Promise<number> {
    this.hub = hub;
    this.log = options.log;
    const rooms = await this.dataSource.getRepository(RoomRow).find();
    const cutoff = Date.now() - options.historySeconds * 1000;
    const messages = await this.dataSource.getRepository(RoomMessageRow).find({ where: { ts: MoreThanOrEqual(cutoff) }, order: { room: 'ASC', seq: 'ASC' } });
    const byRoom = new Map<string, StoredMessage[]>();
    for (const row of messages) {
      const list = byRoom.get(row.room) ?? [];
      list.push({ seq: Number(row.seq), ts: Number(row.ts), frame: Buffer.from(row.frame) });
      byRoom.set(row.room, list);
    }
    hub.listen(this);
    for (const row of rooms) {
      const saved: SavedRoom = {
        name: row.name,
        seq: Number(row.seq),
        epoch: row.epoch,
        previousEpoch: row.previousEpoch,
        epochBase: Number(row.epochBase),
        replayable: Boolean(row.replayable),
        messages: byRoom.get(row.name) ?? [],
      };
      hub.restore(saved);
      // Not shut down cleanly: messages published after the last save are gone. The binlog source replays its own.
      if (!row.clean && !saved.replayable) hub.continueAfterLoss(row.name);
    }
    this.timer = setInterval(() => void this.save(), options.saveEveryMs);
    this.timer.unref();
    return rooms.length;
  }

  /** Why the rooms are not being saved (for health), or null while saves succeed. */
  problem(): string | null {
    if (!this.failure) return null;
    const since = new Date(this.failure.since).toISOString();
    return `saving broadcast rooms to dozen's database fails since ${since} (${this.pendingCount} messages wait in memory; a crash now loses them): ${this.failure.error}`;
  }

  /** Saves `coSave`'s write with every batch (the binlog checkpoint: never ahead of the rooms it numbered). */
  attach(coSave: CoSave): void {
    this.coSave = coSave;
  }

  appended(room: Room, message: StoredMessage): void {
    this.entry(room).messages.push(message);
    if (++this.pendingCount === SAVE_NOW_ABOVE) setImmediate(() => void this.save());
  }

  moved(room: Room): void {
    this.entry(room);
  }

  dropped(room: Room): void {
    this.droppedRooms.add(room);
    this.pending.delete(room.name);
    // Only a room that had a message can have rows (one only joined never had).
    if (room.seq > 0) this.gone.add(room.name);
  }

  /** Writes what was published so far (and the co-saved state of the same moment); resolves when it is in the database. */
  save(): Promise<void> {
    this.saving = this.saving.then(() => this.saveBatch());
    return this.saving;
  }

  /** Final save at shutdown, then marks every room cleanly closed. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.hub) return;
    await this.save();
    if (!this.pending.size) await this.dataSource.getRepository(RoomRow).update({ clean: false }, { clean: true });
  }

  private entry(room: Room): { room: Room; messages: StoredMessage[] } {
    let entry = this.pending.get(room.name);
    if (!entry) {
      entry = { room, messages: [] };
      this.pending.set(room.name, entry);
    }
    return entry;
  }

  private async saveBatch(): Promise<void> {
    const coSave = this.coSave?.() ?? this.unsavedCoSave;
    this.unsavedCoSave = null;
    if (!this.pending.size && !this.gone.size && !coSave) return;
    // Cut synchronously: the batch is exactly what was published up to now, in order.
    const batch = this.pending;
    const gone = [...this.gone];
    this.pending = new Map();
    this.gone = new Set();
    this.pendingCount = 0;
    const now = Date.now();
    const rooms: RoomRow[] = [];
    const trims: [string, number][] = [];
    for (const { room } of batch.values()) {
      rooms.push({ name: room.name, seq: room.seq, epoch: room.epoch, previousEpoch: room.previousEpoch, epochBase: room.epochBase, replayable: room.replayable, clean: false, updatedAt: now });
      trims.push([room.name, room.oldestResumable(now) + 1]);
    }
    const inserts = insertChunks(batch.values());
    const messages = inserts.reduce((total, chunk) => total + chunk.length / 4, 0);
    try {
      await this.dataSource.transaction(async (manager) => {
        for (let index = 0; index < gone.length; index += INSERT_CHUNK) {
          const names = gone.slice(index, index + INSERT_CHUNK);
          const list = '?, '.repeat(names.length).slice(0, -2);
          await manager.query(`DELETE FROM broadcast_room_messages WHERE room IN (${list})`, names);
          await manager.query(`DELETE FROM broadcast_rooms WHERE name IN (${list})`, names);
        }
        if (rooms.length) await manager.upsert(RoomRow, rooms, ['name']);
        for (const chunk of inserts) {
          await manager.query(`INSERT INTO broadcast_room_messages (room, seq, ts, frame) VALUES ${'(?, ?, ?, ?), '.repeat(chunk.length / 4).slice(0, -2)}`, chunk);
        }
        // History past the bounds (count, bytes, age) goes from the database as it went from memory.
        for (const [name, oldest] of trims) await manager.query('DELETE FROM broadcast_room_messages WHERE room = ? AND seq < ?', [name, oldest]);
        await coSave?.(manager);
      });
      if (this.failure) this.log?.info({ failingSince: new Date(this.failure.since).toISOString() }, "saving broadcast rooms to dozen's database works again");
      this.failure = null;
    } catch (error) {
      // Put the batch back in front of what came since, so the next save writes it in order. A room dropped
      // meanwhile is not (its rows go, `gone`), and a room of the same name opened since is written as it is now.
      for (const [name, earlier] of batch) if (this.droppedRooms.has(earlier.room)) batch.delete(name);
      for (const [name, entry] of this.pending) {
        const earlier = batch.get(name);
        if (earlier?.room === entry.room) earlier.messages.push(...entry.messages);
        else batch.set(name, entry);
      }
      this.pending = batch;
      this.pendingCount = [...batch.values()].reduce((total, entry) => total + entry.messages.length, 0);
      for (const name of gone) this.gone.add(name);
      this.unsavedCoSave = coSave;
      // Once, not at every retry (each saveEveryMs); health says it for as long as it lasts. The message only:
      // TypeORM's error carries the statement's parameters, the frames themselves (megabytes of app data).
      if (!this.failure) this.log?.error({ error: (error as Error).message, messages }, "saving broadcast rooms to dozen's database failed; retrying");
      this.failure = { since: this.failure?.since ?? Date.now(), error: (error as Error).message };
    }
  }
}

/**
 * The batch's messages as flat (room, seq, ts, frame) values, one list per INSERT (plain multi-row INSERTs
 * cost a fraction of the query builder's per-row work): at most INSERT_CHUNK rows and INSERT_CHUNK_BYTES
 * of frames each, a bigger frame alone.
 */
function insertChunks(batch: Iterable<{ room: Room; messages: StoredMessage[] }>): (string | number | Buffer)[][] {
  const chunks: (string | number | Buffer)[][] = [];
  let chunk: (string | number | Buffer)[] = [];
  let bytes = 0;
  for (const { room, messages } of batch) {
    for (const message of messages) {
      if (chunk.length && (chunk.length === INSERT_CHUNK * 4 || bytes + message.frame.length > INSERT_CHUNK_BYTES)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
      }
      // The frame's bytes as they are (UTF-8 JSON): no decode per message.
      chunk.push(room.name, message.seq, message.ts, message.frame);
      bytes += message.frame.length;
    }
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}

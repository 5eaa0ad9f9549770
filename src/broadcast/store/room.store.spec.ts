import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../database/migrations.js';
import { Hub } from '../hub/hub.js';
import { RoomStore } from './room.store.js';
import { RoomMessageRow, RoomRow } from './room-state.entity.js';

/** A store over an in-memory SQLite database whose next transaction can be made to wait, then fail. */
async function storeFailingOnce() {
  const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: [RoomRow, RoomMessageRow], migrations: MIGRATIONS });
  await dataSource.initialize();
  await dataSource.runMigrations();
  const transaction = dataSource.transaction.bind(dataSource);
  let failing: Promise<void> | null = null;
  let fail = () => {};
  let started = () => {};
  /** The next save's transaction waits until `fail()`, then fails; resolves once that transaction began (the batch is cut). */
  const failNext = () => {
    failing = new Promise<void>((resolve) => (fail = resolve));
    return new Promise<void>((resolve) => (started = resolve));
  };
  dataSource.transaction = (async (...args: Parameters<DataSource['transaction']>) => {
    if (failing) {
      started();
      await failing;
      failing = null;
      throw new Error('the database is away');
    }
    return (transaction as (...args: unknown[]) => Promise<unknown>)(...args);
  }) as DataSource['transaction'];
  const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
  const store = new RoomStore(dataSource);
  await store.open(hub, { saveEveryMs: 3_600_000, historySeconds: 60, log: pino({ level: 'silent' }) });
  const rows = async () => ({
    rooms: (await dataSource.getRepository(RoomRow).find()).map((row) => ({ name: row.name, seq: Number(row.seq), epoch: row.epoch })),
    messages: (await dataSource.getRepository(RoomMessageRow).find({ order: { room: 'ASC', seq: 'ASC' } })).map((row) => [row.room, Number(row.seq), JSON.parse(row.frame.toString()).data]),
  });
  const close = async () => {
    await store.close();
    await dataSource.destroy();
  };
  return { hub, store, failNext, fail: () => fail(), rows, close };
}

const LATER = Date.now() + 3_600_000;

describe('RoomStore after a failed save', () => {
  it('writes a room dropped and opened again during the failed save as the new room, not the old one', async () => {
    const { hub, store, failNext, fail, rows, close } = await storeFailingOnce();
    try {
      hub.publish('chat.x', 'old 1');
      hub.publish('chat.x', 'old 2');
      const saving = failNext();
      const failed = store.save();
      await saving;
      assert.equal(hub.dropIdle(LATER), 1, 'its history aged out while the save waited');
      hub.publish('chat.x', 'new 1');
      const epoch = hub.list()[0].epoch;
      fail();
      await failed;
      assert.notEqual(store.problem(), null);
      await store.save();
      assert.equal(store.problem(), null, 'the next save succeeds');
      assert.deepEqual(await rows(), { rooms: [{ name: 'chat.x', seq: 1, epoch }], messages: [['chat.x', 1, 'new 1']] });
    } finally {
      await close();
    }
  });

  it('does not write back a room dropped during the failed save', async () => {
    const { hub, store, failNext, fail, rows, close } = await storeFailingOnce();
    try {
      hub.publish('chat.kept', 'stays');
      await store.save();
      hub.publish('chat.y', 'goes');
      hub.publish('chat.kept', 'stays too');
      const saving = failNext();
      const failed = store.save();
      await saving;
      const subscriber = { deliver: () => true };
      hub.join(subscriber, 'chat.kept');
      assert.equal(hub.dropIdle(LATER), 1, 'chat.y goes; chat.kept has a member');
      fail();
      await failed;
      await store.save();
      assert.equal(store.problem(), null);
      const saved = await rows();
      assert.deepEqual(saved.rooms.map((room) => [room.name, room.seq]), [['chat.kept', 2]]);
      assert.deepEqual(saved.messages, [
        ['chat.kept', 1, 'stays'],
        ['chat.kept', 2, 'stays too'],
      ]);
    } finally {
      await close();
    }
  });
});

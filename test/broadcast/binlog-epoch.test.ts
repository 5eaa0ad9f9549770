import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { createShop, startCdcDozen } from './cdc.js';
import { TestClient, type Frame } from './ws-client.js';

const ROOM = 'db.epoch_shop.orders';
const OWN = 'dozen_epoch';

/** `epoch:seq` -> the order id it carried, for every message a client got. */
function positions(frames: Frame[]): Map<string, number> {
  return new Map(frames.map((frame) => [`${frame.epoch}:${frame.seq}`, (frame.data as { after: { id: number } }).after.id]));
}

/**
 * A binlog room keeps its epoch across restarts because the source reads again what a crash lost and
 * gives it the seqs it had. When the source cannot read exactly that again, the room must start a new
 * epoch, or a seq would be given to another change in the same epoch.
 */
describe('binlog rooms when the source cannot continue their stream', { timeout: 240_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  let root: Connection;
  const running: DozenProcess[] = [];
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'epoch_shop');
    root = await mariadb.connect();
    await root.query(`DROP DATABASE IF EXISTS ${OWN}; CREATE DATABASE ${OWN}`);
  });
  after(async () => {
    for (const dozen of running) await dozen.stop('SIGKILL');
    await root?.end();
    await shop?.end();
    await mariadb?.stop();
  });

  // dozen's database on the MariaDB, so the test can hold a lock that keeps a save from landing.
  const start = async (url?: string) => {
    const dozen = await startCdcDozen(mariadb, 'epoch_shop', { url, extraEnv: { DOZEN_DATABASE_URL: `${mariadb.url}${OWN}` } });
    running.push(dozen);
    return dozen;
  };
  const order = (customer: string) => shop.query('INSERT INTO orders (customer, amount) VALUES (?, 1)', [customer]);

  it('starts a new epoch after a crash when the source now reads from the end (another address): no seq names two changes', async () => {
    let dozen = await start();
    const first = await TestClient.connect(dozen.url, dozen.token);
    const joined = await first.join(ROOM);
    await order('one');
    await order('two');
    await first.until('2 changes', () => first.messages(ROOM).length === 2);
    first.close();
    assert.equal(await dozen.stop('SIGTERM'), 0);

    dozen = await start();
    const second = await TestClient.connect(dozen.url, dozen.token);
    second.send({ type: 'join', room: ROOM, since: 2, epoch: joined.epoch });
    assert.equal((await second.frame('joined', ROOM)).epoch, joined.epoch, 'a clean restart keeps the epoch');
    // Held by the test: dozen's next save of room messages waits for it, so the kill lands before anything more is saved.
    const locker = await mariadb.connect();
    await locker.query(`LOCK TABLES ${OWN}.broadcast_room_messages WRITE`);
    for (const customer of ['three', 'four', 'five']) await order(customer);
    await second.until('3 more changes', () => second.messages(ROOM).length === 3);
    await dozen.stop('SIGKILL');
    await locker.end();
    second.close();
    const [saved] = (await root.query(`SELECT seq FROM ${OWN}.broadcast_rooms WHERE name = ?`, [ROOM]))[0] as { seq: number }[];
    assert.equal(Number(saved.seq), 2, 'the crash lost seqs 3-5');

    // `localhost`, not 127.0.0.1: to dozen another server, so it has no saved position for it and reads from the end.
    dozen = await start(`mysql://root@localhost:${mariadb.port}/`);
    const fresh = await TestClient.connect(dozen.url, dozen.token);
    const now = await fresh.join(ROOM);
    await order('six');
    await fresh.until('the change after the restart', () => fresh.messages(ROOM).length === 1);
    const seen = positions([...first.messages(ROOM), ...second.messages(ROOM)].map((frame) => ({ ...frame, epoch: joined.epoch })));
    for (const [position, id] of positions(fresh.messages(ROOM).map((frame) => ({ ...frame, epoch: now.epoch })))) {
      assert.ok(!seen.has(position) || seen.get(position) === id, `${position} was order ${seen.get(position)} before the crash and is order ${id} now`);
    }
    const resumed = await TestClient.connect(dozen.url, dozen.token);
    resumed.send({ type: 'join', room: ROOM, since: 5, epoch: joined.epoch });
    const gap = await resumed.frame('error', ROOM);
    assert.equal(gap.code, 'history_gap', `a client that saw seq 5 is told to reload, not left waiting: ${JSON.stringify(gap)}`);
    resumed.close();
    fresh.close();
  });

  it('starts a new epoch in every binlog room when the position is reset, and tells their clients (history_gap)', async () => {
    const dozen = await start();
    const client = await TestClient.connect(dozen.url, dozen.token);
    const joined = await client.join(ROOM);
    await order('before reset');
    await client.until('the change', () => client.messages(ROOM).some((message) => (message.data as { after: { customer: string } }).after.customer === 'before reset'));
    const reset = await dozen.api('/broadcast/binlog/reset', { method: 'POST' });
    assert.equal(reset.status, 200, await reset.text());
    const gap = await client.frame('error', ROOM);
    assert.equal(gap.code, 'history_gap', JSON.stringify(gap));
    assert.match(gap.message!, /reset/);
    const history = await dozen.api(`/broadcast/rooms/${ROOM}/history?since=${joined.seq}&epoch=${joined.epoch}`);
    assert.equal(history.status, 410, 'the old position cannot be continued');
    client.close();
  });
});

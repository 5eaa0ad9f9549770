import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { BroadcastClient, type RoomMessage } from '../../src/broadcast/client/broadcast-client.js';
import type { DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';
import { createShop, forwarder, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

interface Change {
  op: string;
  schema: string;
  table: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  ts: number;
  position: { file: string; pos: number; row: number; gtid?: string };
}

describe('binlog source: row changes published into db.<schema>.<table>', { timeout: 150_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  let dozen: DozenProcess;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'cdc_shop');
    dozen = await startCdcDozen(mariadb, 'cdc_shop');
  });
  after(async () => {
    await dozen?.stop();
    await shop?.end();
    await mariadb?.stop();
  });

  it('publishes insert, update, delete and truncate with before/after and the binlog position', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      await client.join('db.cdc_shop.orders');
      await shop.query("INSERT INTO orders (customer, amount) VALUES ('ada', 10.50)");
      await shop.query("UPDATE orders SET amount = 12.00 WHERE customer = 'ada'");
      await shop.query("DELETE FROM orders WHERE customer = 'ada'");
      await shop.query('TRUNCATE TABLE orders');
      await client.until('4 changes', () => client.messages('db.cdc_shop.orders').length === 4);
      const changes = client.messages('db.cdc_shop.orders').map((message) => message.data as Change);
      const strip = ({ ts, position, ...rest }: Change) => rest;
      assert.deepEqual(changes.map(strip), [
        { op: 'insert', schema: 'cdc_shop', table: 'orders', before: null, after: { id: 1, customer: 'ada', amount: '10.50' } },
        { op: 'update', schema: 'cdc_shop', table: 'orders', before: { id: 1, customer: 'ada', amount: '10.50' }, after: { id: 1, customer: 'ada', amount: '12.00' } },
        { op: 'delete', schema: 'cdc_shop', table: 'orders', before: { id: 1, customer: 'ada', amount: '12.00' }, after: null },
        { op: 'truncate', schema: 'cdc_shop', table: 'orders', before: null, after: null },
      ]);
      for (let index = 1; index < changes.length; index++) {
        assert.match(changes[index].position.file, /^binlog\.\d+$/);
        assert.ok(changes[index].position.pos > changes[index - 1].position.pos, 'positions grow');
      }
      assert.ok(Math.abs(changes[0].ts - Date.now()) < 60_000, 'ts is the commit time');
    } finally {
      client.close();
    }
  });

  it('keeps the rows of one transaction together and in order, and the column names current after ALTER TABLE', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      await client.join('db.cdc_shop.orders');
      await shop.query("BEGIN; INSERT INTO orders (customer, amount) VALUES ('t1', 1); INSERT INTO orders (customer, amount) VALUES ('t2', 2), ('t3', 3); COMMIT");
      await shop.query('ALTER TABLE orders ADD COLUMN coupon VARCHAR(20) NULL');
      await shop.query("INSERT INTO orders (customer, amount, coupon) VALUES ('bob', 5, 'SPRING')");
      await shop.query('ALTER TABLE orders DROP COLUMN coupon, ADD COLUMN note VARCHAR(20) NULL');
      await shop.query("INSERT INTO orders (customer, amount, note) VALUES ('cy', 6, 'gift')");
      await client.until('5 inserts', () => client.messages('db.cdc_shop.orders').length === 5);
      const afters = client.messages('db.cdc_shop.orders').map((message) => (message.data as Change).after);
      assert.deepEqual(afters.slice(0, 3).map((row) => row?.customer), ['t1', 't2', 't3']);
      assert.equal(afters[3]?.coupon, 'SPRING');
      assert.equal(afters[4]?.note, 'gift');
      assert.equal('coupon' in afters[4]!, false);
    } finally {
      client.close();
    }
  });

  it('delivers 10,000 inserts exactly once to a subscriber even when dozen is SIGKILLed mid-stream', { timeout: 120_000 }, async () => {
    await shop.query('CREATE TABLE cdc_shop.stream (id INT PRIMARY KEY, note VARCHAR(20))');
    const proxy = await forwarder();
    let current = await startCdcDozen(mariadb, 'cdc_shop');
    proxy.target(Number(new URL(current.url).port));
    const dataDir = current.dataDir;
    const client = new BroadcastClient(proxy.url, { token: current.token, minReconnectMs: 50, maxReconnectMs: 300 });
    const received: RoomMessage<Change>[] = [];
    client.on('message', (message: RoomMessage<Change>) => received.push(message));
    const gaps: unknown[] = [];
    client.on('gap', (gap) => gaps.push(gap));
    client.join('db.cdc_shop.stream');
    await new Promise((resolve) => client.once('joined', resolve));
    const total = 10_000;
    const writer = await mariadb.connect('cdc_shop');
    let inserted = 0;
    const inserting = (async () => {
      // Single inserts and 10-row transactions mixed, so the kill can land inside a transaction.
      while (inserted < total) {
        if ((inserted / 10) % 2 === 0) {
          const values = Array.from({ length: 10 }, (_, index) => `(${inserted + index + 1}, 'batch')`).join(',');
          await writer.query(`BEGIN; INSERT INTO stream VALUES ${values}; COMMIT`);
          inserted += 10;
        } else {
          await writer.query('INSERT INTO stream VALUES (?, ?)', [++inserted, 'single']);
        }
      }
    })();
    try {
      await waitFor('3000 changes before the kill', async () => received.length >= 3000, 60_000, 20);
      await current.stop('SIGKILL');
      const atKill = received.length;
      current = await startCdcDozen(mariadb, 'cdc_shop', { dataDir });
      proxy.target(Number(new URL(current.url).port));
      await inserting;
      // A last row committed after all others is the barrier: changes arrive in commit order, so once it is here
      // every change (and any repeat of one) that will ever arrive has arrived.
      await writer.query('INSERT INTO stream VALUES (?, ?)', [total + 1, 'barrier']);
      const lastId = () => received.at(-1)?.data.after?.id;
      await waitFor('the barrier row', async () => lastId() === total + 1, 60_000, 50).catch(() => undefined);
      const ids = received.map((message) => message.data.after!.id as number);
      const unique = new Set(ids);
      assert.equal(gaps.length, 0, `history gaps: ${JSON.stringify(gaps)}`);
      assert.equal(ids.length, total + 1, `received ${ids.length} (${unique.size} distinct), ${atKill} before the kill\n${current.logs().slice(-2000)}`);
      assert.equal(unique.size, total + 1);
      assert.deepEqual(ids, Array.from({ length: total + 1 }, (_, index) => index + 1), 'in commit order');
      assert.deepEqual(received.map((message) => message.seq), Array.from({ length: total + 1 }, (_, index) => index + 1), 'seqs 1..N without gap or repeat');
    } finally {
      client.close();
      proxy.close();
      await writer.end();
      await current.stop();
    }
  });
});

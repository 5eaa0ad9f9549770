import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';
import { binlogRunning, brokenHealth, createShop, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

describe('binlog source when someone switches binlog_format away from ROW while it reads', { timeout: 120_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  let dozen: DozenProcess;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'format_shop');
    dozen = await startCdcDozen(mariadb, 'format_shop');
  });
  after(async () => {
    await shop?.query("SET GLOBAL binlog_format = 'ROW'").catch(() => undefined);
    await dozen?.stop();
    await shop?.end();
    await mariadb?.stop();
  });

  /** SET GLOBAL applies to sessions opened after it: each write gets a new one. */
  async function insert(customer: string): Promise<void> {
    const connection = await mariadb.connect('format_shop');
    try {
      await connection.query('INSERT INTO orders (customer, amount) VALUES (?, 1)', [customer]);
    } finally {
      await connection.end();
    }
  }

  it('turns the source down with the fix, counts and logs it, and tells the room to reload; reads on once ROW is back', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      const joined = await client.join('db.format_shop.orders');
      await insert('row-1');
      const first = await client.frame('message', 'db.format_shop.orders');
      assert.equal((first.data as { after: { customer: string } }).after.customer, 'row-1');

      await shop.query("SET GLOBAL binlog_format = 'STATEMENT'");
      await insert('statement-1');
      const notice = await client.frame('error', 'db.format_shop.orders', 20_000);
      assert.equal(notice.code, 'history_gap');
      assert.match(notice.message!, /could not be read from the binlog/);

      const health = await brokenHealth(dozen);
      assert.match(health.reason, /insert on format_shop\.orders was logged as a statement/);
      assert.match(health.reason, /set binlog_format=ROW \(SET GLOBAL binlog_format='ROW' and in my\.cnf\)/);
      const metrics = await (await fetch(dozen.url + '/metrics')).text();
      assert.match(metrics, /^dozen_broadcast_binlog_unpublishable_total [1-9]/m);
      const errors = dozen.logs().split('\n').filter((line) => line.includes('"level":50') && line.includes('binlog source losing changes'));
      assert.equal(errors.length, 1, dozen.logs().slice(-2000));

      // A client resuming from before the loss is not let through it.
      const late = await TestClient.connect(dozen.url, dozen.token);
      late.send({ type: 'join', room: 'db.format_shop.orders', since: first.seq, epoch: joined.epoch });
      assert.equal((await late.frame('error', 'db.format_shop.orders')).code, 'history_gap');
      late.close();

      await shop.query("SET GLOBAL binlog_format = 'ROW'");
      await insert('row-2');
      await client.until('the change after the fix', () => client.messages('db.format_shop.orders').some((message) => (message.data as { after: { customer: string } }).after.customer === 'row-2'), 20_000);
      await waitFor('the source to be running again', async () => (await (await dozen.api('/broadcast/health')).json()).status === 'up', 30_000, 200);
      await binlogRunning(dozen);
    } finally {
      client.close();
    }
  });

  it('turns the source down within a recheck when the format changes, even before any row is written', async () => {
    await shop.query("SET GLOBAL binlog_format = 'MIXED'");
    try {
      const health = await brokenHealth(dozen);
      assert.match(health.reason, /binlog_format is MIXED: set binlog_format=ROW/);
    } finally {
      await shop.query("SET GLOBAL binlog_format = 'ROW'");
    }
    await waitFor('the source to be running again', async () => (await (await dozen.api('/broadcast/health')).json()).status === 'up', 30_000, 200);
  });
});

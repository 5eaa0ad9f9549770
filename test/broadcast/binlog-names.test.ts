import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { createShop, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

/** Legal table names and the room each gets: letters of any script and `$` as they are, other characters as %XX of their UTF-8 bytes. */
const TABLES: [string, string][] = [
  ['orders', 'db.names_shop.orders'],
  ['café', 'db.names_shop.café'],
  ['t$1', 'db.names_shop.t$1'],
  ['order-items', 'db.names_shop.order-items'],
  ['order items', 'db.names_shop.order%20items'],
  ['a.b', 'db.names_shop.a%2Eb'],
  ['50%', 'db.names_shop.50%25'],
  ['ti`ck', 'db.names_shop.ti%60ck'],
];

describe('binlog source and tables whose names are more than ASCII letters and digits', { timeout: 120_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  let dozen: DozenProcess;
  const quoted = (table: string) => '`' + table.replaceAll('`', '``') + '`';
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'names_shop');
    await shop.query("SET NAMES utf8mb4");
    for (const [table] of TABLES.slice(1)) await shop.query(`CREATE TABLE ${quoted(table)} (id INT PRIMARY KEY)`);
    dozen = await startCdcDozen(mariadb, 'names_shop');
  });
  after(async () => {
    await dozen?.stop();
    await shop?.end();
    await mariadb?.stop();
  });

  it('gives every table a room a client can join, and publishes TRUNCATE however the name is written', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      for (const [, room] of TABLES) assert.equal((await client.join(room)).type, 'joined', room);
      for (const [table, room] of TABLES.slice(1)) {
        await shop.query(`INSERT INTO ${quoted(table)} VALUES (1)`);
        const message = await client.frame('message', room);
        assert.deepEqual((message.data as { table: string; after: unknown }).after, { id: 1 }, room);
        assert.equal((message.data as { table: string }).table, table);
      }
      const truncates = ['TRUNCATE TABLE `order-items`', 'TRUNCATE café', 'truncate names_shop.t$1', 'TRUNCATE `names_shop`.`order items`;', 'TRUNCATE TABLE `a.b`', 'TRUNCATE `50%`', 'TRUNCATE `ti``ck`'];
      for (const statement of truncates) await shop.query(statement);
      for (const [, room] of TABLES.slice(1)) {
        await client.until(`the truncate of ${room}`, () => client.messages(room).some((message) => (message.data as { op: string }).op === 'truncate'));
      }

      // Over REST the room goes into the path encoded as usual (its `%` becomes %25).
      const history = await (await dozen.api(`/broadcast/rooms/${encodeURIComponent('db.names_shop.order%20items')}/history?since=0`)).json();
      assert.deepEqual(history.messages.map((message: { data: { op: string } }) => message.data.op), ['insert', 'truncate']);
      const cafe = await (await dozen.api(`/broadcast/rooms/${encodeURIComponent('db.names_shop.café')}/history?since=0`)).json();
      assert.equal(cafe.messages.length, 2);
    } finally {
      client.close();
    }
  });
});

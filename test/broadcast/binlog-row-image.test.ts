import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { createShop, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

type Change = { op: string; before: Record<string, unknown> | null; after: Record<string, unknown> | null; partial?: true };

describe('binlog source and a session that logs partial row images (binlog_row_image MINIMAL / NOBLOB)', { timeout: 120_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  let dozen: DozenProcess;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'image_shop');
    await shop.query("CREATE TABLE t (id INT PRIMARY KEY, a INT NULL, b VARCHAR(10) NULL, c INT NULL, note TEXT NULL, status VARCHAR(10) NOT NULL DEFAULT 'new')");
    await shop.query("INSERT INTO t (id, a, b, c, note) VALUES (1, 1, 'x', 1, 'long'), (2, NULL, 'y', 2, 'text')");
    dozen = await startCdcDozen(mariadb, 'image_shop');
  });
  after(async () => {
    await dozen?.stop();
    await shop?.end();
    await mariadb?.stop();
  });

  it('leaves the columns a row image lacks out of before/after and marks the change partial; a real NULL stays null', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      await client.join('db.image_shop.t');
      const next = async () => (await client.frame('message', 'db.image_shop.t')).data as Change;

      await shop.query('UPDATE t SET c = 3 WHERE id = 2');
      const full = await next();
      assert.deepEqual(full.before, { id: 2, a: null, b: 'y', c: 2, note: 'text', status: 'new' }, 'FULL: the NULL in a is data');
      assert.equal(full.partial, undefined);

      await shop.query("SET SESSION binlog_row_image = 'MINIMAL'");
      await shop.query('UPDATE t SET c = 4 WHERE id = 2');
      const minimal = await next();
      assert.deepEqual([minimal.op, minimal.before, minimal.after, minimal.partial], ['update', { id: 2 }, { c: 4 }, true]);

      await shop.query('INSERT INTO t (id, c) VALUES (3, 5)');
      const inserted = await next();
      // MINIMAL logs an insert's given columns only: the defaults (a, b, note null, status 'new') are not in it.
      assert.deepEqual([inserted.op, inserted.after, inserted.partial], ['insert', { id: 3, c: 5 }, true]);

      await shop.query('DELETE FROM t WHERE id = 1');
      const deleted = await next();
      assert.deepEqual([deleted.op, deleted.before, deleted.after, deleted.partial], ['delete', { id: 1 }, null, true]);

      await shop.query("SET SESSION binlog_row_image = 'NOBLOB'");
      await shop.query('UPDATE t SET a = 7 WHERE id = 2');
      const noblob = await next();
      assert.equal(noblob.partial, true);
      assert.ok(!('note' in noblob.before!) && !('note' in noblob.after!), JSON.stringify(noblob));
      assert.deepEqual(noblob.after, { id: 2, a: 7, b: 'y', c: 4, status: 'new' });
      assert.match(dozen.logs(), /binlog row images lack columns/);
    } finally {
      await shop.query("SET SESSION binlog_row_image = 'FULL'");
      client.close();
    }
  });
});

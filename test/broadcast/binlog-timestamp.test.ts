import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { createShop, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

describe('binlog source in a process whose time zone is not UTC', { timeout: 120_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  let dozen: DozenProcess;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'tz_shop');
    await shop.query('CREATE TABLE stamps (id INT PRIMARY KEY, at TIMESTAMP NULL, local_at DATETIME NULL)');
    // The hour New York repeats when summer time ends: a zone-local rendering gives both rows the same time.
    dozen = await startCdcDozen(mariadb, 'tz_shop', { extraEnv: { TZ: 'America/New_York' } });
  });
  after(async () => {
    await dozen?.stop();
    await shop?.end();
    await mariadb?.stop();
  });

  it('publishes TIMESTAMP values in UTC, whatever TZ dozen runs with; DATETIME as stored', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      await client.join('db.tz_shop.stamps');
      await shop.query("SET time_zone = '+00:00'");
      await shop.query("INSERT INTO stamps VALUES (1, '2024-11-03 05:30:00', '2024-11-03 05:30:00'), (2, '2024-11-03 06:30:00', '2024-11-03 06:30:00')");
      const rows = [];
      for (let index = 0; index < 2; index++) rows.push((await client.frame('message', 'db.tz_shop.stamps')).data as { after: { at: string; local_at: string } });
      assert.deepEqual(
        rows.map((row) => [row.after.at, row.after.local_at]),
        [
          ['2024-11-03 05:30:00', '2024-11-03 05:30:00'],
          ['2024-11-03 06:30:00', '2024-11-03 06:30:00'],
        ],
      );
    } finally {
      client.close();
    }
  });
});

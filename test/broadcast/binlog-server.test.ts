import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';
import { binlogRunning, brokenHealth, createShop, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

describe('binlog source against a server that restarts, purges or is set up wrong', { timeout: 180_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  before(async () => {
    mariadb = await startMariaDb({ fresh: true });
    shop = await createShop(mariadb, 'ops_shop');
  });
  after(async () => {
    await shop?.end().catch(() => undefined);
    await mariadb?.stop();
  });

  it('reconnects after a MariaDB restart mid-stream and loses no row change', async () => {
    const dozen = await startCdcDozen(mariadb, 'ops_shop');
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      await client.join('db.ops_shop.orders');
      for (let index = 1; index <= 150; index++) await shop.query('INSERT INTO orders (customer, amount) VALUES (?, 1)', [`before-${index}`]);
      await mariadb.restart();
      shop = await mariadb.connect('ops_shop');
      // The source may be back before anyone polls health, so its log is the witness of the reconnect.
      await waitFor('the source to notice the restart', async () => dozen.logs().includes('binlog source reconnecting'), 20_000);
      assert.match(dozen.logs(), /binlog connection lost|cannot reach MySQL/);
      for (let index = 1; index <= 150; index++) await shop.query('INSERT INTO orders (customer, amount) VALUES (?, 1)', [`after-${index}`]);
      await binlogRunning(dozen);
      await client.until('300 changes', () => client.messages('db.ops_shop.orders').length >= 300, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ids = client.messages('db.ops_shop.orders').map((message) => (message.data as { after: { id: number } }).after.id);
      assert.deepEqual(ids, Array.from({ length: 300 }, (_, index) => index + 1));
    } finally {
      client.close();
      await dozen.stop();
    }
  });

  it('stops the source, not dozen, with a message naming binlog_format and binlog_row_image, and starts once they are fixed', async () => {
    await shop.query("SET GLOBAL binlog_format = 'STATEMENT'; SET GLOBAL binlog_row_image = 'MINIMAL'");
    const dozen = await startCdcDozen(mariadb, 'ops_shop', { waitRunning: false });
    try {
      const health = await brokenHealth(dozen);
      assert.match(health.reason, /binlog_format is STATEMENT: set binlog_format=ROW/);
      assert.match(health.reason, /binlog_row_image is MINIMAL: set binlog_row_image=FULL/);
      const rooms = await dozen.api('/broadcast/rooms');
      assert.equal(rooms.status, 200, 'the rest of dozen runs');
      await shop.query("SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL'");
      await binlogRunning(dozen);
    } finally {
      await shop.query("SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL'");
      await dozen.stop();
    }
  });

  it('names the missing grants of the replication user', async () => {
    await shop.query("CREATE USER IF NOT EXISTS 'nocdc'@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO 'nocdc'@'127.0.0.1'");
    const dozen = await startCdcDozen(mariadb, 'ops_shop', { waitRunning: false, url: `mysql://nocdc:pw@127.0.0.1:${mariadb.port}/` });
    try {
      const health = await brokenHealth(dozen);
      assert.match(health.reason, /user 'nocdc'@'127\.0\.0\.1' lacks REPLICATION SLAVE, REPLICATION CLIENT: GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON \*\.\* TO 'nocdc'@'127\.0\.0\.1'/);
    } finally {
      await dozen.stop();
    }
  });

  it('reports a saved position the server purged, and reads from now after POST /broadcast/binlog/reset', async () => {
    const first = await startCdcDozen(mariadb, 'ops_shop', { serverId: 4242 });
    await shop.query("INSERT INTO orders (customer, amount) VALUES ('purge-1', 1)");
    await waitFor('the change to be published', async () => (await (await first.api('/broadcast/rooms/db.ops_shop.orders/history')).json()).seq >= 1);
    const dataDir = first.dataDir;
    first.child.kill('SIGTERM');
    await new Promise((resolve) => first.child.once('exit', resolve));
    await shop.query('FLUSH BINARY LOGS');
    // MariaDB keeps a file until its binlog checkpoint has passed it; retry the purge until the old file is gone.
    await waitFor('the old binlog to be purged', async () => {
      const [logs] = await shop.query('SHOW BINARY LOGS');
      const names = (logs as { Log_name: string }[]).map((log) => log.Log_name);
      await shop.query(`PURGE BINARY LOGS TO '${names.at(-1)}'`);
      return names.length === 1;
    }, 20_000, 300);
    const dozen = await startCdcDozen(mariadb, 'ops_shop', { serverId: 4242, dataDir, waitRunning: false });
    try {
      const health = await brokenHealth(dozen);
      assert.match(health.reason, /is no longer on the server/);
      assert.match(health.reason, /POST \/broadcast\/binlog\/reset/);
      const reset = await dozen.api('/broadcast/binlog/reset', { method: 'POST' });
      assert.equal(reset.status, 200);
      await binlogRunning(dozen);
      const client = await TestClient.connect(dozen.url, dozen.token);
      await client.join('db.ops_shop.orders');
      await shop.query("INSERT INTO orders (customer, amount) VALUES ('after-reset', 1)");
      const message = await client.frame('message', 'db.ops_shop.orders');
      assert.equal((message.data as { after: { customer: string } }).after.customer, 'after-reset');
      client.close();
    } finally {
      await dozen.stop();
    }
  });
});

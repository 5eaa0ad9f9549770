import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { brokenHealth, createShop, startCdcDozen } from './cdc.js';

describe('binlog source: the account it logs in with', { timeout: 90_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'login_shop');
  });
  after(async () => {
    await shop?.end().catch(() => undefined);
    await mariadb?.stop();
  });

  it('names the user with its host, as the server knows it, in the GRANT it advises', async () => {
    await shop.query("CREATE USER IF NOT EXISTS 'cdcbad'@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO 'cdcbad'@'127.0.0.1'");
    const dozen = await startCdcDozen(mariadb, 'login_shop', { waitRunning: false, url: `mysql://cdcbad:pw@127.0.0.1:${mariadb.port}/` });
    try {
      const health = await brokenHealth(dozen);
      assert.match(health.reason, /user 'cdcbad'@'127\.0\.0\.1' lacks REPLICATION SLAVE, REPLICATION CLIENT: GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON \*\.\* TO 'cdcbad'@'127\.0\.0\.1'/);
      // The advised statement works as written.
      const grant = /GRANT REPLICATION SLAVE[^;]*/.exec(health.reason)![0];
      await shop.query(grant);
    } finally {
      await dozen.stop();
      await shop.query("DROP USER IF EXISTS 'cdcbad'@'127.0.0.1'");
    }
  });

  it('says what to check when the server refuses the password', async () => {
    await shop.query("CREATE USER IF NOT EXISTS 'cdcpw'@'127.0.0.1' IDENTIFIED BY 'right'; GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'cdcpw'@'127.0.0.1'");
    const dozen = await startCdcDozen(mariadb, 'login_shop', { waitRunning: false, url: `mysql://cdcpw@127.0.0.1:${mariadb.port}/`, extraEnv: { DOZEN_BROADCAST_BINLOG_PASSWORD: 'wrong' } });
    try {
      const health = await brokenHealth(dozen);
      assert.match(health.reason, /Access denied for user 'cdcpw'/);
      assert.match(health.reason, /check broadcast\.binlog\.password \(or the password in broadcast\.binlog\.url\)/);
      assert.match(health.reason, /'cdcpw'@<the address dozen connects from>/);
      assert.doesNotMatch(JSON.stringify(health), /wrong/, 'the password is never shown');
    } finally {
      await dozen.stop();
      await shop.query("DROP USER IF EXISTS 'cdcpw'@'127.0.0.1'");
    }
  });
});

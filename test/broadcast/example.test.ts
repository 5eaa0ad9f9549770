import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { DozenProcess } from '../support/dozen-process.js';
import { REPO } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';
import { createShop, startCdcDozen } from './cdc.js';

describe('examples/order-rebates', { timeout: 60_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  let dozen: DozenProcess;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'shop');
    dozen = await startCdcDozen(mariadb, 'shop');
  });
  after(async () => {
    await dozen?.stop();
    await shop?.end();
    await mariadb?.stop();
  });

  it('writes one rebate row for each new order it hears on db.shop.orders', async () => {
    const app = spawn(process.execPath, [join(REPO, 'dist/examples/order-rebates/main.js')], {
      env: { PATH: process.env.PATH, DOZEN_URL: dozen.url, DOZEN_TOKEN: dozen.token, SHOP_MYSQL_URL: `${mariadb.url}shop`, REBATE_PERCENT: '10' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    app.stdout!.on('data', (chunk) => (output += chunk));
    app.stderr!.on('data', (chunk) => (output += chunk));
    try {
      await waitFor('the example to listen', async () => output.includes('listening to db.shop.orders'), 15_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await shop.query("INSERT INTO orders (customer, amount) VALUES ('ada', 100.00), ('bob', 25.50)");
      await shop.query("UPDATE orders SET amount = 1 WHERE customer = 'ada'");
      await shop.query("INSERT INTO orders (customer, amount) VALUES ('cy', 9.99)");
      const rows = await waitFor(
        'three rebates',
        async () => {
          const [result] = await shop.query('SELECT order_id, customer, rebate FROM rebates ORDER BY order_id');
          return (result as unknown[]).length === 3 ? result : false;
        },
        15_000,
      ).catch((error: Error) => assert.fail(`${error.message}\n${output}`));
      assert.deepEqual(rows, [
        { order_id: 1, customer: 'ada', rebate: '10.00' },
        { order_id: 2, customer: 'bob', rebate: '2.55' },
        { order_id: 3, customer: 'cy', rebate: '1.00' },
      ]);
      assert.match(output, /order 2: rebate 2.55 for bob/);
    } finally {
      app.kill('SIGTERM');
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import type { DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { createShop, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

const ROWS = 30_000;
/** Messages per second a "normal pace" subscriber handles: far below what the source can read, far above a stuck one. */
const PACE = 2500;

/** Reads its socket at `perSecond` messages at most, as a subscriber doing some work per message would. */
function pace(client: TestClient, perSecond: number): () => void {
  const socket = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  const started = Date.now();
  const timer = setInterval(() => {
    const allowed = ((Date.now() - started) / 1000) * perSecond;
    if (client.frames.length > allowed) socket.pause();
    else socket.resume();
  }, 5);
  return () => {
    clearInterval(timer);
    socket.resume();
  };
}

describe('binlog source: a bulk UPDATE with the default limits', { timeout: 150_000 }, () => {
  let mariadb: MariaDb;
  let shop: Connection;
  let dozen: DozenProcess;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'bulk_shop');
    await shop.query(`SET SESSION max_recursive_iterations = 100000; CREATE TABLE bulk_shop.items (id INT PRIMARY KEY, note VARCHAR(500) NOT NULL, n INT NOT NULL);
      INSERT INTO bulk_shop.items WITH RECURSIVE numbers AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM numbers WHERE i < ${ROWS}) SELECT i, REPEAT('x', 400), 0 FROM numbers`);
    // Default limits: history, send buffer and pausing as a new user gets them (cdc.ts sets a bigger history otherwise).
    dozen = await startCdcDozen(mariadb, 'bulk_shop', { extraEnv: { DOZEN_BROADCAST_HISTORY_MESSAGES: '100000' } });
  });
  after(async () => {
    await dozen?.stop();
    await shop?.end();
    await mariadb?.stop();
  });

  it('brings all 30,000 row changes to a subscriber reading at a normal pace, and closes only one that reads nothing', async () => {
    const steady = await TestClient.connect(dozen.url, dozen.token);
    const stuck = await TestClient.connect(dozen.url, dozen.token);
    const joined = await steady.join('db.bulk_shop.items');
    await stuck.join('db.bulk_shop.items');
    (stuck.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const unpace = pace(steady, PACE);
    try {
      await shop.query('UPDATE bulk_shop.items SET n = n + 1');
      await steady.until(`${ROWS} changes`, () => steady.messages('db.bulk_shop.items').length >= ROWS || steady.closed !== null, 90_000);
      assert.equal(steady.closed, null, `the steady subscriber was closed: ${JSON.stringify(steady.closed)}`);
      const messages = steady.messages('db.bulk_shop.items');
      assert.deepEqual(
        messages.map((message) => message.seq),
        Array.from({ length: ROWS }, (_, index) => joined.seq! + index + 1),
        'every change once, in order',
      );
      assert.equal(steady.frames.filter((frame) => frame.type === 'error').length, 0);
      // The one reading nothing stopped holding the reader back and was cut off.
      (stuck.socket as unknown as { _socket: { resume(): void } })._socket.resume();
      assert.equal((await stuck.closedWith(20_000)).code, 1013);
      // The whole change is still in the history (sized by bytes and age, not 1,000 messages).
      const history = await dozen.api(`/broadcast/rooms/db.bulk_shop.items/history?since=${joined.seq}`);
      assert.equal(history.status, 200);
      assert.equal((await history.json()).messages.length, ROWS);
    } finally {
      unpace();
      steady.close();
      stuck.close();
    }
  });
});

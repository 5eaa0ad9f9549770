import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { addUser, json, signIn } from '../access/people.js';
import type { DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';
import { createShop, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

const OWN = 'dozen_self';
/** dozen's database account: no SUPER, so `read_only` applies to it. */
const ACCOUNT = { user: 'dozen_self', password: 'dozen-self-password' };

/**
 * dozen's own database on the very MariaDB its binlog source reads (one server for apps and dozen, as a
 * small team runs it): dozen's tables (password hashes, sessions, tokens, its own room history) must never
 * be published, and its own writes must not come back to it as row changes.
 */
describe('binlog source on the server that holds dozen\'s own database', { timeout: 240_000 }, () => {
  let mariadb: MariaDb;
  let root: Connection;
  let shop: Connection;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'self_shop');
    root = await mariadb.connect();
    await root.query(`DROP DATABASE IF EXISTS ${OWN}; CREATE DATABASE ${OWN}`);
    await root.query(`CREATE USER IF NOT EXISTS '${ACCOUNT.user}'@'127.0.0.1' IDENTIFIED BY '${ACCOUNT.password}'`);
    await root.query(`GRANT ALL PRIVILEGES ON ${OWN}.* TO '${ACCOUNT.user}'@'127.0.0.1'`);
  });
  after(async () => {
    await root?.query('SET GLOBAL read_only = 0; DROP TABLE IF EXISTS mysql.dozen_probe');
    await root?.end();
    await shop?.end();
    await mariadb?.stop();
  });

  /** dozen reading every schema of the server (or `include`), its own database on that server. */
  const start = (include = '', extraEnv: Record<string, string> = {}) =>
    startCdcDozen(mariadb, include, {
      extraEnv: {
        DOZEN_DATABASE_URL: `mysql://${ACCOUNT.user}:${ACCOUNT.password}@127.0.0.1:${mariadb.port}/${OWN}`,
        ...extraEnv,
      },
    });

  const count = async (sql: string): Promise<number> => Number(((await root.query(sql))[0] as { n: number }[])[0].n);
  const binlogEnd = async (): Promise<string> => {
    const [rows] = await root.query('SHOW MASTER STATUS');
    const [status] = rows as { File: string; Position: number }[];
    return `${status.File}:${status.Position}`;
  };

  it('never publishes dozen\'s own schema or the system schemas, whatever include says', async () => {
    for (const include of ['', `${OWN},self_shop,mysql`]) {
      const dozen = await start(include);
      const client = await TestClient.connect(dozen.url, dozen.token);
      const leaky = [`db.${OWN}.access_users`, `db.${OWN}.access_sessions`, `db.${OWN}.access_personal_tokens`, `db.${OWN}.broadcast_room_messages`, 'db.mysql.dozen_probe'];
      try {
        for (const room of [...leaky, 'db.self_shop.orders']) await client.join(room);
        // A password hash, a session, a personal token and a room's history: all written to dozen's own tables.
        const name = `leaky-${include ? 'listed' : 'all'}`;
        await addUser(dozen, name, 'viewer');
        const browser = await signIn(dozen, name);
        assert.equal((await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'probe' }) })).status, 201);
        assert.equal((await dozen.api('/broadcast/rooms/chat.self/messages', { method: 'POST', ...json({ data: 'kept in dozen\'s tables' }) })).status, 201);
        await waitFor('the room message saved', async () => (await count(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_room_messages WHERE room = 'chat.self'`)) > 0, 10_000);
        await root.query('CREATE TABLE IF NOT EXISTS mysql.dozen_probe (id INT); INSERT INTO mysql.dozen_probe VALUES (1)');
        // Barrier: changes arrive in commit order, so once this one is here, every earlier one that would be published is.
        await shop.query("INSERT INTO orders (customer, amount) VALUES ('barrier', 1)");
        await client.until('the barrier row', () => client.messages('db.self_shop.orders').length === 1, 20_000);
        for (const room of leaky) assert.deepEqual(client.messages(room), [], `include "${include}": nothing in ${room}`);
        const rooms = (await (await dozen.api('/broadcast/rooms')).json()).rooms as { name: string; seq: number }[];
        assert.deepEqual(rooms.filter((room) => /^db\.(dozen_self|mysql)\./.test(room.name) && room.seq > 0), []);
        const said = dozen.logs().split('\n').find((line) => line.includes('never published'));
        assert.ok(said && said.includes(OWN) && said.includes('performance_schema'), `the log says which schemas are never published:\n${dozen.logs().slice(-3000)}`);
      } finally {
        client.close();
        await dozen.stop();
      }
    }
  });

  it('does not feed on its own writes: with no client traffic the binlog and dozen\'s tables stay still', async () => {
    const dozen = await start('', { DOZEN_BROADCAST_BINLOG_CHECKPOINT_MS: '100' });
    try {
      assert.equal((await dozen.api('/broadcast/rooms/chat.quiet/messages', { method: 'POST', ...json({ data: 'one' }) })).status, 201);
      await waitFor('the message and a binlog position saved', async () => {
        const saved = await count(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_room_messages WHERE room = 'chat.quiet'`);
        return saved === 1 && (await count(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_binlog_checkpoints`)) === 1;
      }, 10_000);
      const messages = await count(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_room_messages`);
      const rooms = await count(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_rooms`);
      const from = await binlogEnd();
      // No client traffic: a source that feeds on its own saves grows the binlog every checkpoint (100 ms), or far faster.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(await binlogEnd(), from, `the binlog did not grow in 30 checkpoint intervals\n${dozen.logs().slice(-2000)}`);
      assert.equal(await count(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_room_messages`), messages);
      assert.equal(await count(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_rooms`), rooms);
    } finally {
      await dozen.stop();
    }
  });

  it('reports the broadcast module down while saving rooms to dozen\'s database fails, and up once it works again', async () => {
    const dozen = await start();
    const health = async () => {
      const response = await dozen.api('/broadcast/health');
      return { code: response.status, ...((await response.json()) as { status: string; reason?: string }) };
    };
    try {
      assert.equal((await health()).status, 'up');
      await root.query('SET GLOBAL read_only = 1');
      assert.equal((await dozen.api('/broadcast/rooms/chat.unsaved/messages', { method: 'POST', ...json({ data: 'live only' }) })).status, 201);
      // A row change too (root is not bound by read_only): its room and the binlog position are saved together, or not at all.
      await shop.query("INSERT INTO orders (customer, amount) VALUES ('while read-only', 1)");
      const down = await waitFor('broadcast health to go down', async () => {
        const now = await health();
        return now.status === 'down' ? now : false;
      }, 10_000);
      assert.equal(down.code, 503);
      assert.match(down.reason!, /sav.*dozen's database/i, JSON.stringify(down));
      assert.match(down.reason!, /read.only/i, 'with the database\'s own words');
      assert.equal((await (await fetch(dozen.url + '/health')).json()).status, 'down');
      await root.query('SET GLOBAL read_only = 0');
      await waitFor('broadcast health to be up again', async () => (await health()).status === 'up', 10_000);
      assert.equal(await count(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_room_messages WHERE room = 'chat.unsaved'`), 1, 'the message waited and was saved');
      // The failed transaction's binlog position is written with the rooms it numbered, not dropped with the attempt.
      const [[room]] = (await root.query(`SELECT seq FROM ${OWN}.broadcast_rooms WHERE name = 'db.self_shop.orders'`)) as unknown as [{ seq: number }[]];
      const [[checkpoint]] = (await root.query(`SELECT room_seqs AS seqs FROM ${OWN}.broadcast_binlog_checkpoints`)) as unknown as [{ seqs: string }[]];
      assert.equal(JSON.parse(checkpoint.seqs)['db.self_shop.orders'], Number(room.seq), `checkpoint ${checkpoint.seqs} and room at seq ${room.seq} agree`);
    } finally {
      await root.query('SET GLOBAL read_only = 0');
      await dozen.stop();
    }
  });
});

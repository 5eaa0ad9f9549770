import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';
import { TestClient } from './ws-client.js';

const OWN = 'dozen_store';

describe('broadcast rooms kept in dozen\'s MySQL/MariaDB database', { timeout: 120_000 }, () => {
  let mariadb: MariaDb;
  let root: Connection;
  let packet: number;
  before(async () => {
    mariadb = await startMariaDb();
    root = await mariadb.connect();
    await root.query(`DROP DATABASE IF EXISTS ${OWN}; CREATE DATABASE ${OWN}`);
    packet = Number(((await root.query('SELECT @@global.max_allowed_packet AS bytes'))[0] as { bytes: number }[])[0].bytes);
  });
  after(async () => {
    await root?.query('SET GLOBAL max_allowed_packet = ?', [packet]);
    await root?.end();
    await mariadb?.stop();
  });

  it('saves a batch larger than the server\'s max_allowed_packet, in pieces', async () => {
    // MySQL 5.7's default; applies to the connections dozen opens from now on.
    await root.query('SET GLOBAL max_allowed_packet = 4194304');
    // One batch for everything: saved every 10 s, and 120 messages stay far below the early-save threshold.
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_DATABASE_URL: `${mariadb.url}${OWN}`, DOZEN_BROADCAST_SAVE_EVERY_MS: '10000' } });
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      const count = 120;
      for (let index = 0; index < count; index++) client.send({ type: 'publish', room: 'chat.big-batch', data: `${index} ${'x'.repeat(60_000)}` });
      client.send({ type: 'ping' });
      await client.frame('pong');
      const saved = async () => Number(((await root.query(`SELECT COUNT(*) AS n FROM ${OWN}.broadcast_room_messages WHERE room = 'chat.big-batch'`))[0] as { n: number }[])[0].n);
      await waitFor(`${count} messages (7 MB) saved`, async () => (await saved()) === count, 30_000, 200).catch((error: Error) => {
        throw new Error(`${error.message}\n${dozen.logs().slice(-2000)}`);
      });
      const health = await (await dozen.api('/broadcast/health')).json();
      assert.equal(health.status, 'up', JSON.stringify(health));
    } finally {
      client.close();
      await dozen.stop();
    }
  });

  it('keeps rooms whose names differ only in case apart (the columns compare byte for byte), and saving goes on', async () => {
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_DATABASE_URL: `${mariadb.url}${OWN}` } });
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      for (const room of ['chat.case', 'chat.CASE', 'chat.Case']) client.send({ type: 'publish', room, data: room });
      client.send({ type: 'publish', room: 'orders.after', data: 'after' });
      client.send({ type: 'ping' });
      await client.frame('pong');
      const rows = async () => (await root.query(`SELECT room, frame FROM ${OWN}.broadcast_room_messages WHERE LOWER(room) = 'chat.case' OR room = 'orders.after' ORDER BY room`))[0] as { room: string; frame: string }[];
      await waitFor('the four messages saved', async () => (await rows()).length === 4, 10_000, 100).catch((error: Error) => {
        throw new Error(`${error.message}\n${dozen.logs().slice(-2000)}`);
      });
      const saved = await rows();
      assert.deepEqual(saved.map((row) => [row.room, JSON.parse(row.frame).data]).sort(), [['chat.CASE', 'chat.CASE'], ['chat.Case', 'chat.Case'], ['chat.case', 'chat.case'], ['orders.after', 'after']]);
      const rooms = (await root.query(`SELECT name FROM ${OWN}.broadcast_rooms WHERE LOWER(name) = 'chat.case' ORDER BY name`))[0] as { name: string }[];
      assert.equal(rooms.length, 3, JSON.stringify(rooms));
      const health = await (await dozen.api('/broadcast/health')).json();
      assert.equal(health.status, 'up', JSON.stringify(health));
    } finally {
      client.close();
      await dozen.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BroadcastClient, type RoomMessage } from '../../src/broadcast/client/broadcast-client.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { forwarder } from './cdc.js';
import { TestClient } from './ws-client.js';

const env = { DOZEN_MODULES: 'broadcast' };

async function publish(dozen: DozenProcess, room: string, data: unknown): Promise<{ seq: number }> {
  const response = await dozen.api(`/broadcast/rooms/${room}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data }) });
  const body = await response.json();
  assert.equal(response.status, 201, JSON.stringify(body));
  return body;
}

/** The seq dozen's database holds for `room` (read beside the running process: SQLite in WAL mode allows it). */
function savedSeq(dozen: DozenProcess, room: string): number {
  const database = new Database(join(dozen.dataDir, 'dozen.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const row = database.prepare('SELECT seq FROM broadcast_rooms WHERE name = ?').get(room) as { seq: number } | undefined;
    return row?.seq ?? 0;
  } catch {
    return 0; // the migration has not created the table yet
  } finally {
    database.close();
  }
}

describe('broadcast rooms across restarts of dozen', { timeout: 120_000 }, () => {
  const running: DozenProcess[] = [];
  const dataDirs: string[] = [];
  // A data dir of the test's own: startDozen removes the one it made itself when the process stops.
  const start = async (dataDir?: string, extra: Record<string, string> = {}) => {
    if (!dataDir) dataDirs.push((dataDir = mkdtempSync(join(tmpdir(), 'dozen-restart-'))));
    const dozen = await startDozen({ env: { ...env, ...extra }, dataDir });
    running.push(dozen);
    return dozen;
  };
  after(async () => {
    for (const dozen of running) await dozen.stop('SIGKILL');
    for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
  });

  it('continues a room after a SIGTERM: same epoch, next seq, history from 0, and the Node client resumes without dropping anything', async () => {
    const proxy = await forwarder();
    let dozen = await start();
    proxy.target(Number(new URL(dozen.url).port));
    const client = new BroadcastClient(proxy.url, { token: dozen.token, minReconnectMs: 50, maxReconnectMs: 300 });
    const received: RoomMessage[] = [];
    const gaps: unknown[] = [];
    client.on('message', (message: RoomMessage) => received.push(message));
    client.on('gap', (gap) => gaps.push(gap));
    try {
      client.join('chat.keep');
      await new Promise((resolve) => client.once('joined', resolve));
      for (let index = 1; index <= 5; index++) await publish(dozen, 'chat.keep', index);
      await waitFor('5 messages', async () => received.length === 5, 10_000);
      const before = client.position('chat.keep')!;
      assert.equal(before.seq, 5);
      assert.equal(await dozen.stop('SIGTERM'), 0);
      dozen = await start(dozen.dataDir);
      proxy.target(Number(new URL(dozen.url).port));

      const history = await dozen.api('/broadcast/rooms/chat.keep/history?since=0');
      const body = await history.json();
      assert.equal(history.status, 200, JSON.stringify(body));
      assert.deepEqual(body.messages.map((message: { seq: number; data: unknown }) => [message.seq, message.data]), [1, 2, 3, 4, 5].map((seq) => [seq, seq]));
      assert.equal(body.epoch, before.epoch, 'a clean restart keeps the epoch');

      await waitFor('the client to rejoin', async () => (await (await dozen.api('/broadcast/rooms')).json()).rooms.some((room: { name: string; subscribers: number }) => room.name === 'chat.keep' && room.subscribers === 1), 10_000);
      assert.equal((await publish(dozen, 'chat.keep', 6)).seq, 6, 'the room continues at its seq');
      await publish(dozen, 'chat.keep', 7);
      await waitFor('7 messages', async () => received.length === 7, 10_000);
      assert.deepEqual(received.map((message) => [message.seq, message.data]), [1, 2, 3, 4, 5, 6, 7].map((seq) => [seq, seq]));
      assert.equal(gaps.length, 0);
    } finally {
      client.close();
      proxy.close();
    }
  });

  it('after a kill -9 between publishes: what was saved resumes under a new epoch, and seqs go on from there', async () => {
    let dozen = await start();
    const listener = await TestClient.connect(dozen.url, dozen.token);
    const joined = await listener.join('chat.crash');
    for (let index = 1; index <= 3; index++) await publish(dozen, 'chat.crash', index);
    await listener.until('3 messages', () => listener.messages('chat.crash').length === 3);
    await waitFor('the room to be saved', async () => savedSeq(dozen, 'chat.crash') === 3, 10_000);
    listener.close();
    await dozen.stop('SIGKILL');
    dozen = await start(dozen.dataDir);

    const client = await TestClient.connect(dozen.url, dozen.token);
    const resumed = await client.join('chat.crash', 3);
    assert.equal(resumed.seq, 3);
    client.send({ type: 'join', room: 'chat.crash', since: 3, epoch: joined.epoch });
    const again = await client.frame('joined', 'chat.crash');
    assert.notEqual(again.epoch, joined.epoch, 'after a crash the room starts a new epoch');
    assert.equal((await publish(dozen, 'chat.crash', 4)).seq, 4);
    await client.until('seq 4', () => client.messages('chat.crash').some((message) => message.seq === 4));
    const history = await (await dozen.api('/broadcast/rooms/chat.crash/history?since=0')).json();
    assert.deepEqual(history.messages.map((message: { seq: number }) => message.seq), [1, 2, 3, 4]);
    client.close();
  });

  it('after a kill -9 in a burst: a client that saw unsaved messages gets a history_gap, never silence, and the Node client carries on', async () => {
    // Saved only every 10 s: the kill certainly lands before the burst is saved.
    let dozen = await start(undefined, { DOZEN_BROADCAST_SAVE_EVERY_MS: '10000' });
    const publisher = await TestClient.connect(dozen.url, dozen.token);
    const listener = await TestClient.connect(dozen.url, dozen.token);
    const joined = await listener.join('chat.burst');
    const count = 3000;
    for (let index = 1; index <= count; index++) publisher.send({ type: 'publish', room: 'chat.burst', data: index });
    await listener.until(`${count} messages`, () => listener.messages('chat.burst').length === count, 30_000);
    await dozen.stop('SIGKILL');
    assert.equal(savedSeq(dozen, 'chat.burst'), 0, 'nothing of the burst was saved');
    dozen = await start(dozen.dataDir);

    const client = new BroadcastClient(dozen.url, { token: dozen.token });
    const received: RoomMessage[] = [];
    const gaps: unknown[] = [];
    client.on('message', (message: RoomMessage) => received.push(message));
    client.on('gap', (gap) => gaps.push(gap));
    try {
      client.join('chat.burst', { since: count, epoch: joined.epoch });
      await new Promise((resolve) => client.once('joined', resolve));
      const next = await publish(dozen, 'chat.burst', 'after');
      await waitFor('the message published after the restart', async () => received.some((message) => message.data === 'after'), 10_000);
      assert.equal(gaps.length, 1, 'seqs 1..3000 of that epoch were lost: the client must be told');
      assert.equal(next.seq, 1, 'the room starts again, under a new epoch');
      const history = await dozen.api(`/broadcast/rooms/chat.burst/history?since=${count}&epoch=${joined.epoch}`);
      assert.equal(history.status, 410, 'the history endpoint says the same');
      assert.equal((await history.json()).error, 'history_gap');
    } finally {
      client.close();
      publisher.close();
      listener.close();
    }
  });
});

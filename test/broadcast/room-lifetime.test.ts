import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { TestClient } from './ws-client.js';

async function roomNames(dozen: DozenProcess): Promise<string[]> {
  return (await (await dozen.api('/broadcast/rooms')).json()).rooms.map((room: { name: string }) => room.name);
}

function publish(dozen: DozenProcess, room: string, data: unknown): Promise<Response> {
  return dozen.api(`/broadcast/rooms/${room}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data }) });
}

/** The row dozen's database holds for `room` (read beside the running process: SQLite in WAL mode allows it). */
function savedRoom(dozen: DozenProcess, room: string): { seq: number; epoch: string } | undefined {
  const database = new Database(join(dozen.dataDir, 'dozen.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return database.prepare('SELECT seq, epoch FROM broadcast_rooms WHERE name = ?').get(room) as { seq: number; epoch: string } | undefined;
  } finally {
    database.close();
  }
}

describe('broadcast rooms come and go with their members and messages', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  const clients: TestClient[] = [];
  const connect = async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    clients.push(client);
    return client;
  };
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_MAX_ROOMS: '2000' } });
  });
  after(async () => {
    for (const client of clients) client.close();
    await dozen?.stop();
  });

  it('answers a history read of a room that does not exist with 404, and creates no room', async () => {
    const response = await dozen.api('/broadcast/rooms/chat.never/history?since=0');
    const body = await response.json();
    assert.equal(response.status, 404, JSON.stringify(body));
    assert.equal(body.error, 'not_found');
    assert.deepEqual(await roomNames(dozen), []);
  });

  it('drops a room that keeps no message when its last member leaves or goes, and keeps one that has messages', async () => {
    const client = await connect();
    await client.join('chat.passing');
    assert.deepEqual(await roomNames(dozen), ['chat.passing']);
    client.send({ type: 'leave', room: 'chat.passing' });
    await client.frame('left', 'chat.passing');
    assert.deepEqual(await roomNames(dozen), []);

    await client.join('chat.kept');
    assert.equal((await publish(dozen, 'chat.kept', 'hello')).status, 201);
    client.send({ type: 'leave', room: 'chat.kept' });
    await client.frame('left', 'chat.kept');
    assert.deepEqual(await roomNames(dozen), ['chat.kept'], 'its history can still be read and resumed');

    // The reviewer's case, smaller: joins of random rooms by a client that then goes.
    const passer = await connect();
    for (let index = 0; index < 1500; index++) passer.send({ type: 'join', room: `chat.random-${index}-${Math.random().toString(36).slice(2)}` });
    await passer.until('1500 joined', () => passer.frames.filter((frame) => frame.type === 'joined').length === 1500);
    assert.equal((await roomNames(dozen)).length, 1501);
    passer.close();
    await waitFor('the rooms of the client that went to be dropped', async () => (await roomNames(dozen)).length === 1, 10_000);
  });

  it('refuses joins past broadcast.maxRooms with too_many_rooms, keeping the connection, until a room frees up', async () => {
    const client = await connect();
    const filler = await connect();
    const open = 2000 - (await roomNames(dozen)).length;
    for (let index = 0; index < open; index++) filler.send({ type: 'join', room: `chat.fill-${index}` });
    await filler.until(`${open} joined`, () => filler.frames.filter((frame) => frame.type === 'joined').length === open);
    client.send({ type: 'join', room: 'chat.one-too-many' });
    const refused = await client.frame('error');
    assert.equal(refused.code, 'too_many_rooms', JSON.stringify(refused));
    assert.equal(refused.room, 'chat.one-too-many');
    assert.match(refused.message!, /2000/);
    const rest = await publish(dozen, 'chat.new-by-rest', 1);
    const body = await rest.json();
    assert.equal(rest.status, 503, JSON.stringify(body));
    assert.equal(body.error, 'too_many_rooms');
    assert.equal((await publish(dozen, 'chat.fill-0', 1)).status, 201, 'a room that exists still takes messages');
    await client.join('chat.fill-1');
    filler.send({ type: 'leave', room: 'chat.fill-2' });
    await filler.frame('left', 'chat.fill-2');
    assert.equal((await client.join('chat.one-too-many')).type, 'joined');
    assert.equal(client.closed, null);
  });
});

describe('broadcast rooms whose history aged out', { timeout: 60_000 }, () => {
  it('are dropped, and a room of the same name starts again in a fresh epoch that dozen\'s database keeps', async () => {
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_HISTORY_SECONDS: '1' } });
    try {
      assert.equal((await publish(dozen, 'chat.aging', 'first')).status, 201);
      await waitFor('the room to be saved', async () => savedRoom(dozen, 'chat.aging')?.seq === 1, 10_000);
      const first = await (await dozen.api('/broadcast/rooms/chat.aging/history?since=0')).json();
      await waitFor('the room to be dropped once its only message is older than historySeconds', async () => !(await roomNames(dozen)).includes('chat.aging'), 15_000);
      await waitFor('the room to be gone from the database too', async () => savedRoom(dozen, 'chat.aging') === undefined, 10_000);
      const again = await publish(dozen, 'chat.aging', 'second');
      assert.equal((await again.json()).seq, 1, 'a new room');
      const history = await (await dozen.api('/broadcast/rooms/chat.aging/history?since=0')).json();
      assert.notEqual(history.epoch, first.epoch, 'a fresh epoch: no position in the old room resumes in this one');
      await waitFor('the new room to be saved', async () => savedRoom(dozen, 'chat.aging')?.epoch === history.epoch, 10_000);
      const health = await (await dozen.api('/broadcast/health')).json();
      assert.equal(health.status, 'up', JSON.stringify(health));
    } finally {
      await dozen.stop();
    }
  });
});

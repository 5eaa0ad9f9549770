import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { TestClient } from './ws-client.js';

describe('broadcast hub on /ws', { timeout: 90_000 }, () => {
  let dozen: DozenProcess;
  const clients: TestClient[] = [];
  const connect = async (token?: string) => {
    const client = await TestClient.connect(dozen.url, token ?? dozen.token);
    clients.push(client);
    return client;
  };
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_HISTORY_MESSAGES: '50', DOZEN_BROADCAST_MAX_FRAME_BYTES: '65536' } });
  });
  after(async () => {
    for (const client of clients) client.close();
    await dozen?.stop();
  });

  it('gives every subscriber the messages of its room in the same order, numbered 1, 2, 3...', async () => {
    const [first, second, publisher] = [await connect(), await connect(), await connect()];
    assert.deepEqual(await first.join('chat.order'), { type: 'joined', room: 'chat.order', seq: 0 });
    await second.join('chat.order');
    for (let index = 0; index < 30; index++) publisher.send({ type: 'publish', room: 'chat.order', data: { index } });
    await first.until('30 messages', () => first.messages('chat.order').length === 30);
    await second.until('30 messages', () => second.messages('chat.order').length === 30);
    for (const client of [first, second]) {
      const messages = client.messages('chat.order');
      assert.deepEqual(messages.map((message) => message.seq), Array.from({ length: 30 }, (_, index) => index + 1));
      assert.deepEqual(messages.map((message) => (message.data as { index: number }).index), Array.from({ length: 30 }, (_, index) => index));
      assert.equal(typeof messages[0].ts, 'number');
    }
    assert.equal(publisher.messages('chat.order').length, 0, 'a publisher that did not join gets nothing');
  });

  it('replays what a client missed when it rejoins with since, then continues live without gap or duplicate', async () => {
    const publisher = await connect();
    let listener = await connect();
    await listener.join('chat.resume');
    for (let index = 1; index <= 5; index++) publisher.send({ type: 'publish', room: 'chat.resume', data: index });
    await listener.until('5 messages', () => listener.messages('chat.resume').length === 5);
    const last = listener.messages('chat.resume').at(-1)!.seq!;
    listener.close();
    for (let index = 6; index <= 10; index++) publisher.send({ type: 'publish', room: 'chat.resume', data: index });
    publisher.send({ type: 'ping' });
    await publisher.frame('pong');
    listener = await connect();
    assert.deepEqual(await listener.join('chat.resume', last), { type: 'joined', room: 'chat.resume', seq: 10 });
    for (let index = 11; index <= 12; index++) publisher.send({ type: 'publish', room: 'chat.resume', data: index });
    await listener.until('7 messages', () => listener.messages('chat.resume').length === 7);
    // Barrier: once the hub answered both pings, every frame it sent the listener before them has arrived.
    publisher.send({ type: 'ping' });
    await publisher.frame('pong');
    listener.send({ type: 'ping' });
    await listener.frame('pong');
    assert.deepEqual(listener.messages('chat.resume').map((message) => [message.seq, message.data]), [6, 7, 8, 9, 10, 11, 12].map((seq) => [seq, seq]));
  });

  it('tells a client whose since is older than the history to reload (history_gap)', async () => {
    const response = await dozen.api('/broadcast/rooms/chat.gap/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"data":0}' });
    assert.equal(response.status, 201);
    for (let index = 1; index < 60; index++) {
      await dozen.api('/broadcast/rooms/chat.gap/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: index }) });
    }
    const client = await connect();
    client.send({ type: 'join', room: 'chat.gap', since: 3 });
    const error = await client.frame('error');
    assert.equal(error.code, 'history_gap');
    assert.equal(error.room, 'chat.gap');
    assert.match(error.message!, /after seq 3 are no longer kept/);
    const inWindow = await client.join('chat.gap', 10);
    assert.equal(inWindow.seq, 60);
    await client.until('50 replayed', () => client.messages('chat.gap').length === 50);
    assert.equal(client.messages('chat.gap')[0].seq, 11);
    const history = await dozen.api('/broadcast/rooms/chat.gap/history?since=2');
    assert.equal(history.status, 410);
    assert.equal((await history.json()).error, 'history_gap');
  });

  it('closes a client that stops reading with 1013 while a fast client still receives everything', async () => {
    const [fast, slow, publisher] = [await connect(), await connect(), await connect()];
    await fast.join('chat.flood');
    await slow.join('chat.flood');
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = 'x'.repeat(30_000);
    const count = 600;
    // Batches paced by the fast client: it never falls 1 MiB behind, the paused one does.
    for (let index = 0; index < count; index++) {
      publisher.send({ type: 'publish', room: 'chat.flood', data: { index, payload } });
      if (index % 10 === 9) await fast.until(`${index + 1} messages`, () => fast.messages('chat.flood').length === index + 1, 10_000);
    }
    assert.deepEqual(fast.messages('chat.flood').map((message) => (message.data as { index: number }).index), Array.from({ length: count }, (_, index) => index));
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await slow.closedWith(20_000);
    assert.equal(closed.code, 1013, JSON.stringify(closed));
    assert.match(closed.reason, /client too slow/);
    assert.ok(slow.messages('chat.flood').length < count, 'the slow client was cut off before the end');
    const metrics = await (await fetch(dozen.url + '/metrics')).text();
    assert.match(metrics, /^dozen_broadcast_slow_clients_total 1$/m);
  });

  it('refuses a frame larger than the limit by closing with 1009', async () => {
    const client = await connect();
    client.send({ type: 'publish', room: 'chat.big', data: 'y'.repeat(70_000) });
    const closed = await client.closedWith();
    assert.equal(closed.code, 1009);
  });

  it('answers ping with pong and a malformed frame with bad_frame, keeping the connection', async () => {
    const client = await connect();
    client.send({ type: 'ping' });
    assert.deepEqual(await client.frame('pong'), { type: 'pong' });
    client.socket.send('not json');
    assert.equal((await client.frame('error')).code, 'bad_frame');
    client.send({ type: 'join', room: 'bad room!' });
    const error = await client.frame('error');
    assert.equal(error.code, 'bad_frame');
    assert.match(error.message!, /room/);
    client.send({ type: 'ping' });
    await client.frame('pong');
  });

  it('publishes over REST once per idempotency key and serves rooms, history and the GraphQL rooms query', async () => {
    const listener = await connect();
    await listener.join('orders.rest');
    const post = () =>
      dozen.api('/broadcast/rooms/orders.rest/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'order-42' }, body: JSON.stringify({ data: { order: 42 } }) });
    const first = await post();
    const firstBody = await first.json();
    assert.equal(first.status, 201, JSON.stringify(firstBody));
    assert.equal(firstBody.seq, 1);
    assert.equal(firstBody.duplicate, false);
    const retry = await post();
    const retryBody = await retry.json();
    assert.equal(retry.status, 200);
    assert.deepEqual(retryBody, { ...firstBody, duplicate: true });
    await listener.until('one message', () => listener.messages('orders.rest').length === 1);
    // Barrier: once the hub answered the ping, every frame it sent the listener before it has arrived.
    listener.send({ type: 'ping' });
    await listener.frame('pong');
    assert.equal(listener.messages('orders.rest').length, 1);

    const bad = await dozen.api('/broadcast/rooms/orders.rest/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).field, 'data');
    const unauthenticated = await fetch(dozen.url + '/broadcast/rooms');
    assert.equal(unauthenticated.status, 401);

    const rooms = await (await dozen.api('/broadcast/rooms')).json();
    assert.deepEqual(rooms.rooms.find((room: { name: string }) => room.name === 'orders.rest'), { name: 'orders.rest', subscribers: 1, seq: 1 });
    const history = await dozen.api('/broadcast/rooms/orders.rest/history?since=0');
    assert.equal(history.status, 200);
    assert.deepEqual((await history.json()).messages.map((message: { seq: number; data: unknown }) => [message.seq, message.data]), [[1, { order: 42 }]]);

    const graphql = await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ rooms { name subscribers seq } }' }) });
    const body = await graphql.json();
    assert.equal(graphql.status, 200, JSON.stringify(body));
    assert.deepEqual(body.data.rooms.find((room: { name: string }) => room.name === 'orders.rest'), { name: 'orders.rest', subscribers: 1, seq: 1 });
  });
});

describe('broadcast idle timeout', { timeout: 30_000 }, () => {
  it('drops a client that answers neither frames nor pings within idleSeconds, and keeps one that does', async () => {
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_PING_SECONDS: '1', DOZEN_BROADCAST_IDLE_SECONDS: '2' } });
    const [silent, alive] = [await TestClient.connect(dozen.url, dozen.token), await TestClient.connect(dozen.url, dozen.token)];
    try {
      await silent.join('chat.idle');
      await alive.join('chat.idle');
      // A paused socket reads no pings, so it cannot answer them.
      (silent.socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const subscribers = async () => (await (await dozen.api('/broadcast/rooms')).json()).rooms.find((room: { name: string }) => room.name === 'chat.idle').subscribers;
      await waitFor('the hub to drop the silent client', async () => (await subscribers()) === 1, 10_000, 100);
      (silent.socket as unknown as { _socket: { resume(): void } })._socket.resume();
      const closed = await silent.closedWith(5000);
      assert.equal(closed.code, 1006, 'terminated without a close frame');
      assert.equal(alive.closed, null, 'the client answering pings stays');
      const rooms = await (await dozen.api('/broadcast/rooms')).json();
      assert.equal(rooms.rooms.find((room: { name: string }) => room.name === 'chat.idle').subscribers, 1);
    } finally {
      silent.close();
      alive.close();
      await dozen.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { Connection, type RoomBackend } from './connection.js';
import { MAX_DATA_DEPTH, nestsDeeperThan } from './frames.js';
import { Hub, type RoomReservation } from './hub.js';
import { ADMIN_ACCESS } from './room-access.js';

/** A socket that records what the connection sends and how it closes it; `bufferedAmount` is what the test says. */
function fakeSocket() {
  const socket = {
    readyState: 1,
    bufferedAmount: 0,
    sent: [] as { type: string; code?: string; message?: string }[],
    closedWith: null as { code: number; reason: string } | null,
    send(frame: Buffer | string) {
      socket.sent.push(JSON.parse(frame.toString()));
    },
    pong() {
      socket.sent.push({ type: 'ws-pong' });
    },
    close(code: number, reason: string) {
      socket.closedWith = { code, reason };
      socket.readyState = 2;
    },
  };
  return socket;
}

function connection(backend: Partial<RoomBackend> = {}, hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 })) {
  const socket = fakeSocket();
  const failures: unknown[] = [];
  const slow: number[] = [];
  const client = new Connection(
    socket as unknown as WebSocket,
    hub,
    ADMIN_ACCESS,
    { sendBufferBytes: 1024, pressureBytes: 512 },
    {
      publish: (room, data, reservation) => {
        hub.publish(room, data);
        reservation.release();
      },
      canRefill: false,
      refill: async () => false,
      ...backend,
    },
    { slow: () => slow.push(socket.bufferedAmount), pressure: () => undefined, failed: (error) => failures.push(error) },
  );
  const receive = (frame: string) => client.receive(Buffer.from(frame), false);
  return { socket, client, failures, slow, receive };
}

describe('Connection', () => {
  it('closes only itself (1011, an internal error frame) when handling a frame throws', () => {
    const { socket, failures, receive } = connection({
      publish: () => {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    receive('{"type":"publish","room":"chat.a","data":1}');
    assert.equal(failures.length, 1);
    assert.equal(socket.sent.at(-1)?.code, 'internal');
    assert.deepEqual(socket.closedWith, { code: 1011, reason: 'internal error' });
    receive('{"type":"ping"}');
    assert.equal(socket.sent.length, 1, 'frames after the close are not handled');
  });

  it('closes only itself too when a join that waited for the bus fails', async () => {
    const hub = new (class extends Hub {
      override join(): never {
        throw new Error('boom');
      }
    })({ messages: 10, seconds: 60, bytes: 1 << 20 });
    let refilled!: () => void;
    const refill = new Promise<boolean>((resolve) => (refilled = () => resolve(true)));
    const { socket, failures, receive } = connection({ canRefill: true, refill: () => refill }, hub);
    receive('{"type":"join","room":"chat.a"}');
    hub.fill('chat.a', 0, []);
    refilled();
    await refill;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(failures.length, 1);
    assert.deepEqual(socket.closedWith, { code: 1011, reason: 'internal error' });
  });

  it('counts joins waiting for the bus against maxRooms, also when the bus fails and they join without it', async () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 }, 2);
    const refills: (() => void)[] = [];
    const refill = () => new Promise<boolean>((_resolve, reject) => refills.push(() => reject(new Error('Redis is away'))));
    const { socket, receive } = connection({ canRefill: true, refill }, hub);
    for (const room of ['chat.a', 'chat.b', 'chat.c']) receive(`{"type":"join","room":"${room}"}`);
    assert.deepEqual(
      socket.sent.map((frame) => [frame.type, frame.code]),
      [['error', 'too_many_rooms']],
      'the third is refused at once: two joins hold the two places',
    );
    assert.equal(refills.length, 2);
    for (const failed of refills) failed();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(hub.names(), ['chat.a', 'chat.b']);
    assert.deepEqual(
      socket.sent.map((frame) => frame.type),
      ['error', 'joined', 'joined'],
    );
  });

  it('counts publishes on their way through the bus against maxRooms, and frees the place of one that failed', async () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 }, 2);
    const pending: { room: string; reservation: RoomReservation }[] = [];
    const { socket, receive } = connection({ publish: (room, _data, reservation) => void pending.push({ room, reservation }) }, hub);
    for (const room of ['chat.a', 'chat.b', 'chat.c', 'chat.a']) receive(`{"type":"publish","room":"${room}","data":1}`);
    assert.deepEqual(pending.map((publish) => publish.room), ['chat.a', 'chat.b', 'chat.a'], 'chat.c refused; chat.a shares its place');
    assert.deepEqual(socket.sent.map((frame) => frame.code), ['too_many_rooms']);
    pending[0].reservation.open();
    pending[1].reservation.release();
    assert.deepEqual(hub.names(), ['chat.a']);
    receive('{"type":"publish","room":"chat.c","data":1}');
    assert.equal(pending.at(-1)?.room, 'chat.c', 'the failed publish gave its place back');
  });

  it('refuses data nested deeper than the limit as bad_frame naming data', () => {
    const { socket, receive } = connection();
    const deep = '['.repeat(MAX_DATA_DEPTH + 1) + ']'.repeat(MAX_DATA_DEPTH + 1);
    receive(`{"type":"publish","room":"chat.a","data":${deep}}`);
    assert.equal(socket.sent[0].code, 'bad_frame');
    assert.match(socket.sent[0].message!, /^data: .*64 levels/);
    assert.equal(socket.closedWith, null);
  });
  it('refuses publishes into db.* rooms even to the admin token', () => {
    const published: string[] = [];
    const { socket, receive } = connection({ publish: (room) => void published.push(room) });
    receive('{"type":"publish","room":"db.shop.orders","data":{"op":"insert"}}');
    assert.equal(socket.sent[0].code, 'forbidden');
    assert.match(socket.sent[0].message!, /only by the binlog source/);
    assert.deepEqual(published, []);
  });
});

describe('Connection send buffer', () => {
  it('bounds replies as it bounds messages: a client that does not read them is closed with 1013', () => {
    const { socket, slow, receive } = connection();
    receive('{"type":"ping"}');
    assert.deepEqual(socket.sent, [{ type: 'pong' }]);
    socket.bufferedAmount = 1010; // the bound is 1024 bytes
    receive('{"type":"ping"}');
    assert.equal(socket.sent.length, 1, 'no pong past the bound');
    assert.deepEqual(socket.closedWith, { code: 1013, reason: 'send buffer over 1024 bytes: client too slow' });
    assert.deepEqual(slow, [1010], 'counted as a slow client');
  });

  it('answers WebSocket pings within the same bound', () => {
    const { socket, client } = connection();
    client.pong(Buffer.alloc(10));
    assert.deepEqual(socket.sent, [{ type: 'ws-pong' }]);
    socket.bufferedAmount = 1020;
    client.pong(Buffer.alloc(10));
    assert.equal(socket.sent.length, 1);
    assert.equal(socket.closedWith?.code, 1013);
  });
});

/** A connection whose socket holds what was sent until `drain()`, as ws does: bufferedAmount grows per send, callbacks run on drain. */
function drainingConnection(hub: Hub) {
  const { socket, client, slow, receive } = connection({}, hub);
  const callbacks: (() => void)[] = [];
  Object.assign(socket, {
    send(frame: Buffer | string, _options: unknown, done?: () => void) {
      socket.sent.push(JSON.parse(frame.toString()));
      socket.bufferedAmount += Buffer.byteLength(frame);
      if (done) callbacks.push(done);
    },
  });
  const drain = () => {
    socket.bufferedAmount = 0;
    for (const done of callbacks.splice(0)) done();
  };
  return { socket, client, slow, receive, drain };
}

describe('Connection with frames over sendBufferBytes', () => {
  it('sends one message larger than the whole bound when nothing is buffered (a LONGBLOB row change)', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
    const { socket, receive, drain } = drainingConnection(hub);
    receive('{"type":"join","room":"chat.a"}');
    drain();
    hub.publish('chat.a', 'x'.repeat(3000)); // the bound is 1024 bytes
    assert.equal(socket.closedWith, null);
    assert.deepEqual(socket.sent.map((frame) => frame.type), ['joined', 'message']);
    hub.publish('chat.a', 'y');
    assert.equal((socket.closedWith as { code: number } | null)?.code, 1013, 'while the big one is unsent, the bound holds');
  });

  it('replays a since backlog many times the bound as the socket drains, with live messages after it in order', () => {
    const hub = new Hub({ messages: 1000, seconds: 60, bytes: 1 << 20 });
    for (let index = 1; index <= 300; index++) hub.publish('chat.a', `message ${index}`);
    const { socket, receive, drain } = drainingConnection(hub);
    receive('{"type":"join","room":"chat.a","since":0}');
    assert.ok(socket.sent.length < 300, 'not all at once');
    hub.publish('chat.a', 'live 301');
    receive('{"type":"ping"}');
    for (let rounds = 0; rounds < 1000 && socket.sent.at(-1)?.type !== 'pong'; rounds++) drain();
    assert.equal(socket.closedWith, null);
    const seqs = socket.sent.filter((frame) => frame.type === 'message').map((frame) => (frame as { seq?: number }).seq);
    assert.deepEqual(seqs, Array.from({ length: 301 }, (_, index) => index + 1));
    assert.deepEqual([socket.sent[0].type, socket.sent.at(-1)?.type], ['joined', 'pong']);
    hub.publish('chat.a', 'live 302');
    assert.equal((socket.sent.at(-1) as { seq?: number }).seq, 302, 'live again once the replay is sent');
  });
});

describe('nestsDeeperThan', () => {
  it('counts arrays and objects, not scalars, and does not recurse itself', () => {
    assert.equal(nestsDeeperThan(1, 0), false);
    assert.equal(nestsDeeperThan({ a: [1] }, 2), false);
    assert.equal(nestsDeeperThan({ a: [1] }, 1), true);
    assert.equal(nestsDeeperThan({ a: 1, b: [{}] }, 2), true);
    assert.equal(nestsDeeperThan(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)), MAX_DATA_DEPTH), true);
  });
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { startRedis, type Redis as TestRedis } from '../support/redis.js';
import { TestClient, type Frame } from './ws-client.js';

// With the Redis bus, a first join and a publish wait for Redis before their room is open on this host: joins and
// publishes sent together must not all pass broadcast.maxRooms before any of them opened its room.
describe('broadcast.maxRooms with the Redis bus', { timeout: 90_000 }, () => {
  const maxRooms = 5;
  const burst = 50;
  const prefixes: string[] = [];
  let redisServer: TestRedis;
  let redis: Redis;
  before(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url);
  });
  after(async () => {
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
    }
    redis?.disconnect();
    await redisServer?.stop();
  });

  /** A host of its own (own key prefix, so no other test's rooms), with maxRooms 5; stopped when `use` ends. */
  async function withHost(use: (dozen: DozenProcess, prefix: string) => Promise<void>): Promise<void> {
    const prefix = `dozen-test:${randomUUID()}:`;
    prefixes.push(prefix);
    const env = { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_REDIS_URL: redisServer.url, DOZEN_BROADCAST_REDIS_PREFIX: prefix, DOZEN_BROADCAST_MAX_ROOMS: String(maxRooms) };
    const dozen = await startDozen({ env });
    try {
      await use(dozen, prefix);
    } finally {
      await dozen.stop();
    }
  }
  const roomNames = async (dozen: DozenProcess): Promise<string[]> => (await (await dozen.api('/broadcast/rooms')).json()).rooms.map((room: { name: string }) => room.name);
  const refusals = (client: TestClient) => client.frames.filter((frame: Frame) => frame.type === 'error' && frame.code === 'too_many_rooms');

  it('opens at most maxRooms rooms for a burst of joins of new rooms, refusing the rest with too_many_rooms', async () => {
    await withHost(async (dozen, prefix) => {
      const client = await TestClient.connect(dozen.url, dozen.token);
      try {
        for (let index = 0; index < burst; index++) client.send({ type: 'join', room: `chat.joined-${index}` });
        const joined = () => client.frames.filter((frame) => frame.type === 'joined');
        await client.until(`${burst} joins answered`, () => joined().length + refusals(client).length === burst);
        const rooms = await roomNames(dozen);
        assert.ok(rooms.length <= maxRooms, `${rooms.length} rooms open: ${rooms.join(' ')}\n${dozen.logs()}`);
        assert.equal(joined().length, maxRooms);
        assert.equal(refusals(client).length, burst - maxRooms);
        assert.equal(client.closed, null, 'the connection stays');
        assert.equal((await redis.keys(`${prefix}epoch:chat.joined-*`)).length, maxRooms, 'refused joins create nothing in Redis');
      } finally {
        client.close();
      }
    });
  });

  it('opens at most maxRooms rooms for a burst of WebSocket publishes into new rooms', async () => {
    await withHost(async (dozen) => {
      const client = await TestClient.connect(dozen.url, dozen.token);
      try {
        for (let index = 0; index < burst; index++) client.send({ type: 'publish', room: `chat.socket-${index}`, data: index });
        // A publish that goes through is not answered, it opens its room; a refused one is answered.
        await waitFor('every publish refused or its room open', async () => refusals(client).length + (await roomNames(dozen)).length >= burst, 10_000);
        const rooms = await roomNames(dozen);
        assert.ok(rooms.length <= maxRooms, `${rooms.length} rooms open: ${rooms.join(' ')}\n${dozen.logs()}`);
        assert.equal(refusals(client).length, burst - maxRooms);
      } finally {
        client.close();
      }
    });
  });

  it('opens at most maxRooms rooms for REST publishes sent together', async () => {
    await withHost(async (dozen) => {
      const responses = await Promise.all(
        Array.from({ length: burst }, (_, index) =>
          dozen.api(`/broadcast/rooms/chat.rest-${index}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: index }) }),
        ),
      );
      const statuses = responses.map((response) => response.status);
      const rooms = await roomNames(dozen);
      assert.ok(rooms.length <= maxRooms, `${rooms.length} rooms open: ${rooms.join(' ')}\n${dozen.logs()}`);
      assert.equal(statuses.filter((status) => status === 201).length, maxRooms, statuses.join(' '));
      assert.equal(statuses.filter((status) => status === 503).length, burst - maxRooms, statuses.join(' '));
    });
  });
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startRedis, type Redis as TestRedis } from '../support/redis.js';
import { TestClient } from './ws-client.js';


describe('broadcast over the Redis bus when Redis loses a room', { timeout: 60_000 }, () => {
  const prefix = `dozen-test:${randomUUID()}:`;
  let redisServer: TestRedis;
  let redis: Redis;
  let dozen: DozenProcess;
  before(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_REDIS_URL: redisServer.url, DOZEN_BROADCAST_REDIS_PREFIX: prefix } });
  });
  after(async () => {
    await dozen?.stop();
    redis?.disconnect();
    await redisServer?.stop();
  });

  const publish = async (data: unknown) => {
    const response = await dozen.api('/broadcast/rooms/chat.redis/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data }) });
    assert.equal(response.status, 201);
    return (await response.json()) as { seq: number };
  };

  it('starts a new epoch, so a client resuming from before the loss gets history_gap, not old seqs again', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      const joined = await client.join('chat.redis');
      for (let index = 1; index <= 3; index++) await publish(index);
      await client.until('3 messages', () => client.messages('chat.redis').length === 3);
      assert.equal(await redis.get(`${prefix}epoch:chat.redis`), joined.epoch, 'the epoch lives in Redis');
      // Redis restarted without persistence: the room's keys are gone.
      await redis.del(`${prefix}seq:chat.redis`, `${prefix}history:chat.redis`, `${prefix}epoch:chat.redis`);
      assert.equal((await publish('after')).seq, 1);
      const late = await TestClient.connect(dozen.url, dozen.token);
      late.send({ type: 'join', room: 'chat.redis', since: 3, epoch: joined.epoch });
      const gap = await late.frame('error', 'chat.redis');
      assert.equal(gap.code, 'history_gap', JSON.stringify(gap));
      late.close();
      const history = await dozen.api(`/broadcast/rooms/chat.redis/history?since=0`);
      const body = await history.json();
      assert.notEqual(body.epoch, joined.epoch);
      assert.deepEqual(body.messages.map((message: { seq: number; data: unknown }) => [message.seq, message.data]), [[1, 'after']]);
    } finally {
      client.close();
    }
  });

  it('starts a new epoch too when Redis lost only one of the room\'s keys (one expired before the others), never a seq twice in one', async () => {
    const room = 'chat.partial';
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      const joined = await client.join(room);
      for (let index = 1; index <= 3; index++) await dozen.api(`/broadcast/rooms/${room}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: index }) });
      await client.until('3 messages', () => client.messages(room).length === 3);
      await redis.del(`${prefix}seq:${room}`);
      const response = await dozen.api(`/broadcast/rooms/${room}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: 'after' }) });
      assert.equal((await response.json()).seq, 1);
      const epoch = await redis.get(`${prefix}epoch:${room}`);
      assert.notEqual(epoch, joined.epoch, 'seq 1 again, so not in the old epoch');
      assert.deepEqual((await redis.lrange(`${prefix}history:${room}`, 0, -1)).map((entry) => JSON.parse(entry).data), ['after'], 'the old epoch\'s history went');
      const history = await (await dozen.api(`/broadcast/rooms/${room}/history?since=0`)).json();
      assert.equal(history.epoch, epoch);
      assert.deepEqual(history.messages.map((message: { seq: number; data: unknown }) => [message.seq, message.data]), [[1, 'after']]);
    } finally {
      client.close();
    }
  });
});

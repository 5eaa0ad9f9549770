import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Connection } from 'mysql2/promise';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';
import { startRedis, type Redis as TestRedis } from '../support/redis.js';
import { createShop, startCdcDozen } from './cdc.js';
import { TestClient } from './ws-client.js';

// The bench's Redis (its own redis-server on a free port), or one of this file's own when run alone.
let redisServer: TestRedis;
before(async () => {
  redisServer = await startRedis();
});
after(async () => {
  await redisServer?.stop();
});

async function clearPrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisServer.url);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

describe('broadcast across two hosts through the Redis bus', { timeout: 90_000 }, () => {
  const prefix = `dozen-test:${randomUUID()}:`;
  let env: Record<string, string>;
  let hostA: DozenProcess;
  let hostB: DozenProcess;
  before(async () => {
    env = { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_REDIS_URL: redisServer.url, DOZEN_BROADCAST_REDIS_PREFIX: prefix };
    hostA = await startDozen({ env });
  });
  after(async () => {
    await hostA?.stop();
    await hostB?.stop();
    await clearPrefix(prefix);
  });

  it('gives clients on both hosts the same messages with the same seqs, and history to a host that started later', async () => {
    for (let index = 1; index <= 3; index++) {
      const response = await hostA.api('/broadcast/rooms/chat.cluster/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: index }) });
      assert.equal(response.status, 201);
      assert.equal((await response.json()).seq, index);
    }
    hostB = await startDozen({ env });
    const onA = await TestClient.connect(hostA.url, hostA.token);
    const onB = await TestClient.connect(hostB.url, hostB.token);
    try {
      await onA.join('chat.cluster');
      assert.deepEqual({ ...(await onB.join('chat.cluster', 1)), epoch: undefined }, { type: 'joined', room: 'chat.cluster', seq: 3, epoch: undefined });
      await onB.until('the two older messages from Redis', () => onB.messages('chat.cluster').length === 2);
      onB.send({ type: 'publish', room: 'chat.cluster', data: 'from B' });
      onA.send({ type: 'publish', room: 'chat.cluster', data: 'from A' });
      await onA.until('2 live', () => onA.messages('chat.cluster').length === 2);
      await onB.until('4 in all', () => onB.messages('chat.cluster').length === 4);
      const view = (client: TestClient) => client.messages('chat.cluster').map((message) => [message.seq, message.data]);
      assert.deepEqual(view(onB).slice(0, 2), [[2, 2], [3, 3]]);
      assert.deepEqual(view(onA), view(onB).slice(2), 'same order and seqs on both hosts');
      assert.deepEqual(view(onA).map(([seq]) => seq), [4, 5]);
      const history = await (await hostB.api('/broadcast/rooms/chat.cluster/history?since=0')).json();
      assert.deepEqual(history.messages.map((message: { seq: number }) => message.seq), [1, 2, 3, 4, 5]);
    } finally {
      onA.close();
      onB.close();
    }
  });
});

describe('a room\'s keys in Redis', { timeout: 90_000 }, () => {
  const prefix = `dozen-test:${randomUUID()}:`;
  let redis: Redis;
  let dozen: DozenProcess;
  before(async () => {
    redis = new Redis(redisServer.url);
    // Keys live historySeconds + 1 s (the idle-room sweep) + idleRoomSeconds = 5 s after the room was last used; a host
    // refreshes its joined rooms every 1.7 s.
    const env = { DOZEN_BROADCAST_REDIS_URL: redisServer.url, DOZEN_BROADCAST_REDIS_PREFIX: prefix, DOZEN_BROADCAST_HISTORY_SECONDS: '1', DOZEN_BROADCAST_REDIS_IDLE_ROOM_SECONDS: '3' };
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', ...env } });
  });
  after(async () => {
    await dozen?.stop();
    redis?.disconnect();
    await clearPrefix(prefix);
  });

  const keys = (room: string) => ['seq', 'history', 'epoch'].map((kind) => `${prefix}${kind}:${room}`);
  const lifetimes = async (room: string) => Promise.all(keys(room).map((key) => redis.pttl(key)));
  const publish = async (room: string, data: unknown) => {
    const response = await dozen.api(`/broadcast/rooms/${room}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data }) });
    assert.equal(response.status, 201);
    return (await response.json()) as { seq: number };
  };
  const gone = (room: string) => waitFor(`the keys of ${room} to expire`, async () => (await redis.exists(...keys(room))) === 0, 20_000, 100);

  it('go once the room is idle, and stay while a client is in it', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      const joined = await client.join('chat.kept');
      await publish('chat.kept', 'first');
      await client.frame('message', 'chat.kept');
      await publish('chat.idle', 'nobody hears this');
      for (const lifetime of await lifetimes('chat.idle')) assert.ok(lifetime > 0 && lifetime <= 5000, `expires within 5 s: ${lifetime}`);
      await gone('chat.idle');
      // Published after chat.kept's message, so once its keys are gone chat.kept's last message is over one lifetime old.
      await publish('chat.idle-later', 'nor this');
      await gone('chat.idle-later');
      assert.deepEqual((await lifetimes('chat.kept')).map((lifetime) => lifetime > 0), [true, true, true], 'the joined room keeps its keys');
      assert.equal(await redis.get(`${prefix}epoch:chat.kept`), joined.epoch);
      assert.equal((await publish('chat.kept', 'second')).seq, 2, 'its seq goes on');
      const second = await client.frame('message', 'chat.kept');
      assert.deepEqual([second.seq, second.data], [2, 'second']);
      // A room joined and never published to: the join made its keys, the client keeps them, leaving lets them go.
      await client.join('chat.quiet');
      assert.deepEqual((await lifetimes('chat.quiet')).map((lifetime) => lifetime > 0), [true, false, true], 'seq and epoch, no history yet');
      client.close();
      await gone('chat.kept');
      await gone('chat.quiet');
    } finally {
      client.close();
    }
  });
});

describe('binlog source with the Redis bus', { timeout: 120_000 }, () => {
  const prefix = `dozen-test:${randomUUID()}:`;
  let mariadb: MariaDb;
  let shop: Connection;
  before(async () => {
    mariadb = await startMariaDb();
    shop = await createShop(mariadb, 'bus_shop');
  });
  after(async () => {
    await shop?.end();
    await mariadb?.stop();
    await clearPrefix(prefix);
  });

  it('publishes each row change once even when dozen is SIGKILLed and replays from its checkpoint', async () => {
    const withBus = { DOZEN_BROADCAST_REDIS_URL: redisServer.url, DOZEN_BROADCAST_REDIS_PREFIX: prefix };
    let dozen = await startCdcDozen(mariadb, 'bus_shop', { extraEnv: withBus });
    const total = 2000;
    try {
      const inserting = (async () => {
        for (let index = 1; index <= total; index++) await shop.query('INSERT INTO orders (customer, amount) VALUES (?, 1)', [`c${index}`]);
      })();
      const redis = new Redis(redisServer.url);
      const published = async () => redis.llen(`${prefix}history:db.bus_shop.orders`);
      await waitFor('500 changes published before the kill', async () => (await published()) >= 500, 60_000, 20);
      const dataDir = dozen.dataDir;
      await dozen.stop('SIGKILL');
      dozen = await startCdcDozen(mariadb, 'bus_shop', { dataDir, extraEnv: withBus });
      await inserting;
      // A last row committed after all others is the barrier: changes are published in commit order, so once it
      // is in the history every change (and any repeat of one) that will ever be published is there.
      await shop.query('INSERT INTO orders (customer, amount) VALUES (?, 1)', ['barrier']);
      const last = async () => JSON.parse((await redis.lindex(`${prefix}history:db.bus_shop.orders`, -1)) ?? 'null')?.data.after.customer;
      await waitFor('the barrier row in the history', async () => (await last()) === 'barrier', 30_000, 50).catch(() => undefined);
      const entries = (await redis.lrange(`${prefix}history:db.bus_shop.orders`, 0, -1)).map((entry) => JSON.parse(entry));
      const lifetimes = await Promise.all(['seq', 'history', 'epoch'].map((kind) => redis.pttl(`${prefix}${kind}:db.bus_shop.orders`)));
      redis.disconnect();
      assert.deepEqual(lifetimes, [-1, -1, -1], 'the binlog rooms keep their keys: their seqs must survive');
      const ids = entries.map((entry) => entry.data.after.id);
      assert.equal(ids.length, total + 1, `${ids.length} published\n${dozen.logs().slice(-1500)}`);
      assert.deepEqual(ids, Array.from({ length: total + 1 }, (_, index) => index + 1));
      assert.deepEqual(entries.map((entry) => entry.seq), Array.from({ length: total + 1 }, (_, index) => index + 1));
    } finally {
      await dozen.stop();
    }
  });
});

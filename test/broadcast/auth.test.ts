import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { TestClient } from './ws-client.js';

const JWT_SECRET = 'broadcast-test-jwt-secret-0123456789abcdef';

function jwt(claims: Record<string, unknown>, secret = JWT_SECRET, expires = '5m'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('order-rebates').setExpirationTime(expires).sign(new TextEncoder().encode(secret));
}

describe('broadcast auth on connect and per frame', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_JWT_SECRET: JWT_SECRET } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('closes a connection without a token, with a wrong token or with an expired JWT (1008, unauthorized)', async () => {
    const expired = await jwt({ join: ['*'] }, JWT_SECRET, '-1m');
    for (const token of [undefined, 'wrong-token', await jwt({ join: ['*'] }, 'another-secret-another-secret-00'), expired]) {
      const client = await TestClient.connect(dozen.url, token);
      const closed = await client.closedWith();
      assert.equal(closed.code, 1008, String(token));
      assert.equal(closed.reason, 'unauthorized');
      assert.equal(client.frames[0]?.code, 'unauthorized');
    }
  });

  it('lets a JWT join and publish only to the room patterns it lists, refusing the rest per frame', async () => {
    const token = await jwt({ join: ['db.shop.*', 'chat.*'], publish: ['chat.*'] });
    const client = await TestClient.connect(dozen.url, token, { query: true });
    try {
      assert.equal((await client.join('db.shop.orders')).seq, 0);
      client.send({ type: 'join', room: 'db.bank.accounts' });
      const refusedJoin = await client.frame('error');
      assert.deepEqual(refusedJoin, { type: 'error', code: 'forbidden', message: 'may not join db.bank.accounts', room: 'db.bank.accounts' });
      client.send({ type: 'publish', room: 'db.shop.orders', data: 'forged' });
      assert.equal((await client.frame('error')).code, 'forbidden');
      await client.join('chat.lobby');
      client.send({ type: 'publish', room: 'chat.lobby', data: 'hello' });
      const message = await client.frame('message', 'chat.lobby');
      assert.equal(message.data, 'hello');
      const history = await (await dozen.api('/broadcast/rooms/db.shop.orders/history')).json();
      assert.equal(history.seq, 0, 'the forged publish was not published');
      assert.equal(client.closed, null, 'refusals keep the connection open');
    } finally {
      client.close();
    }
  });

  it('refuses publishes into db.* rooms to everyone, the admin token included: only the binlog source writes them', async () => {
    const jwtClient = await TestClient.connect(dozen.url, await jwt({ join: ['db.*'], publish: ['db.*', 'chat.*'] }));
    const admin = await TestClient.connect(dozen.url, dozen.token);
    try {
      await admin.join('db.shop.orders');
      for (const client of [jwtClient, admin]) {
        client.send({ type: 'publish', room: 'db.shop.orders', data: { op: 'insert', schema: 'shop', table: 'orders', after: { id: 1 } } });
        const refused = await client.frame('error');
        assert.equal(refused.code, 'forbidden', JSON.stringify(refused));
        assert.equal(refused.room, 'db.shop.orders');
        assert.match(refused.message!, /binlog/);
      }
      const rest = await dozen.api('/broadcast/rooms/db.shop.orders/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"data":{"op":"insert"}}' });
      const body = await rest.json();
      assert.equal(rest.status, 403, JSON.stringify(body));
      assert.equal(body.error, 'forbidden');
      assert.match(body.message, /binlog/);
      // Barrier: the admin client joined db.shop.orders; a ping answered after the refusals means nothing was published there.
      admin.send({ type: 'ping' });
      await admin.frame('pong');
      assert.equal(admin.messages('db.shop.orders').length, 0);
      jwtClient.send({ type: 'publish', room: 'chat.lobby', data: 'still allowed elsewhere' });
      jwtClient.send({ type: 'ping' });
      await jwtClient.frame('pong');
      assert.equal(jwtClient.frames.filter((frame) => frame.type === 'error').length, 0);
    } finally {
      jwtClient.close();
      admin.close();
    }
  });

  it('lets the admin token join any room', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      assert.equal((await client.join('db.bank.accounts')).type, 'joined');
    } finally {
      client.close();
    }
  });
});

describe('broadcast anonymous access', { timeout: 30_000 }, () => {
  it('allows clients without a token only the rooms in broadcast.anonymous', async () => {
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_ANONYMOUS_JOIN: 'public.*' } });
    const client = await TestClient.connect(dozen.url);
    try {
      assert.equal((await client.join('public.news')).type, 'joined');
      client.send({ type: 'join', room: 'private.news' });
      assert.equal((await client.frame('error')).code, 'forbidden');
      client.send({ type: 'publish', room: 'public.news', data: 1 });
      assert.equal((await client.frame('error')).code, 'forbidden');
    } finally {
      client.close();
      await dozen.stop();
    }
  });
});

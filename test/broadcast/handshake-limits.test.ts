import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { TestClient } from './ws-client.js';

const JWT_SECRET = 'broadcast-test-jwt-secret-0123456789abcdef';

/** Sends an upgrade request by hand and reads the answer's head (the socket stays open for a 101). */
async function upgrade(dozen: DozenProcess, head: string): Promise<{ status: number; head: string; socket: Socket }> {
  const { port } = new URL(dozen.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(head);
  let received = '';
  while (!received.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    received += chunk.toString('latin1');
  }
  const answer = received.slice(0, received.indexOf('\r\n\r\n'));
  return { status: Number(answer.split(' ')[1]), head: answer, socket };
}

function upgradeHead(version: string, extra: string[] = []): string {
  return [`GET /ws HTTP/${version}`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...extra, '', ''].join('\r\n');
}

async function metric(dozen: DozenProcess, line: string): Promise<number> {
  const text = await (await fetch(`${dozen.url}/metrics`)).text();
  const found = text.split('\n').find((each) => each.startsWith(line + ' '));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

describe('broadcast handshake rules and limits', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'broadcast',
        DOZEN_BROADCAST_JWT_SECRET: JWT_SECRET,
        DOZEN_BROADCAST_MAX_CONNECTIONS: '4',
        DOZEN_BROADCAST_MAX_CONNECTIONS_PER_ADDRESS: '2',
        DOZEN_ADMIN_TRUSTED_PROXIES: '127.0.0.1',
      },
    });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('closes a JWT socket with 4401 when its token expires, as a user socket whose session ends', async () => {
    const seconds = Math.floor(Date.now() / 1000) + 2;
    const token = await new SignJWT({ join: ['chat.*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('short').setExpirationTime(seconds).sign(new TextEncoder().encode(JWT_SECRET));
    const client = await TestClient.connect(dozen.url, token);
    await client.join('chat.lobby');
    await client.until('the close at expiry', () => client.closed !== null, 10_000);
    assert.deepEqual(client.closed, { code: 4401, reason: 'token expired' });
    assert.ok(Date.now() >= seconds * 1000, 'not before the expiry');
  });

  it('chooses no subprotocol, as the hub speaks none (RFC 6455 4.2.2), and refuses an HTTP/1.0 upgrade', async () => {
    const offered = await upgrade(dozen, upgradeHead('1.1', [`Authorization: Bearer ${dozen.token}`, 'Sec-WebSocket-Protocol: foo, bar']));
    offered.socket.destroy();
    assert.equal(offered.status, 101, offered.head);
    assert.doesNotMatch(offered.head, /sec-websocket-protocol/i);
    const old = await upgrade(dozen, upgradeHead('1.0', [`Authorization: Bearer ${dozen.token}`]));
    old.socket.destroy();
    assert.equal(old.status, 400, old.head);
    assert.equal(await metric(dozen, 'dozen_broadcast_connections_refused_total{reason="http_version"}'), 1);
  });

  it('refuses a third socket from one address with 429 and a fifth on the host with 503, before the handshake', async () => {
    const open: WebSocket[] = [];
    const from = async (address: string) => {
      const socket = new WebSocket(dozen.url.replace(/^http/, 'ws') + '/ws', { headers: { authorization: `Bearer ${dozen.token}`, 'x-forwarded-for': address } });
      socket.on('error', () => undefined);
      const status = await new Promise<number>((resolve) => {
        socket.once('open', () => resolve(101));
        socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      });
      if (status === 101) open.push(socket);
      return status;
    };
    try {
      assert.deepEqual([await from('198.51.100.1'), await from('198.51.100.1'), await from('198.51.100.1')], [101, 101, 429]);
      assert.deepEqual([await from('198.51.100.2'), await from('198.51.100.2'), await from('198.51.100.3')], [101, 101, 503]);
      assert.equal(await metric(dozen, 'dozen_broadcast_connections_refused_total{reason="max_per_address"}'), 1);
      assert.equal(await metric(dozen, 'dozen_broadcast_connections_refused_total{reason="max_connections"}'), 1);
      // A closed socket gives its place back.
      open.shift()!.close();
      await waitFor('a place to free', async () => (await from('198.51.100.1')) === 101, 5_000);
    } finally {
      for (const socket of open) socket.terminate();
    }
  });

  it('cuts a refused socket whose client never answers the close frame within seconds, not ws\'s 30', async () => {
    // The last test's sockets may still be closing: wait for a place.
    const refused = await waitFor('a free place', async () => {
      const attempt = await upgrade(dozen, upgradeHead('1.1', ['Authorization: Bearer wrong-token', 'X-Forwarded-For: 203.0.113.9']));
      if (attempt.status === 101) return attempt;
      attempt.socket.destroy();
      return undefined;
    }, 5_000);
    const started = Date.now();
    // The client reads but never answers: no close frame goes back.
    refused.socket.resume();
    await once(refused.socket, 'close');
    const held = Date.now() - started;
    assert.ok(held < 10_000, `held ${held} ms`);
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { call, ENGINES, startBackend, startProxy, type TestBackend } from './helpers.js';
import { startDozen } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';

/** A TCP connection that sends nothing (on a TLS port, a handshake that has not begun), watched from its start. */
interface IdleConnection {
  socket: Socket;
  /** Resolves when the server closes it: with whether it sent no byte first. */
  closed: Promise<boolean>;
}

async function idleConnection(port: number): Promise<IdleConnection> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => socket.destroy());
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
  const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(bytes === 0)));
  await once(socket, 'connect');
  return { socket, closed };
}

/** The server ends of TCP connections on 127.0.0.1:`port` that are open or closing (ESTABLISHED or CLOSE_WAIT), from the kernel's table. */
function serverConnections(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === local && (fields[3] === '01' || fields[3] === '08')).length;
}

/** Whether the server closed `connection` without sending a byte, within `ms`. */
function closedEmpty(connection: IdleConnection, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([connection.closed, late]).finally(() => clearTimeout(timer));
}

// proxy.maxConnections: what a listener holds at once, handshakes in progress included (the fast engine counts
// those itself, its TLS acceptor taking connections before net does).
describe('proxy.maxConnections', { timeout: 60_000 }, () => {
  let backend: TestBackend;
  before(async () => {
    backend = await startBackend('limited', (_req, res) => res.end('served'));
  });
  after(async () => {
    await backend.close();
  });

  for (const engine of ENGINES) {
    for (const https of [false, true]) {
      it(`closes a connection past the limit as it is accepted, and takes new ones once one has gone (${engine} engine, ${https ? 'TLS' : 'plain'})`, async () => {
        let dropped = 0;
        // Heads and handshakes get 30 s: within the checks' 10 s only the limit closes a connection.
        const timeouts = { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 30_000, clientKeepAlive: 30_000 };
        const proxy = await startProxy({ engine, https, timeouts, maxConnections: 3, onConnectionDropped: () => dropped++ });
        const held: IdleConnection[] = [];
        try {
          proxy.source.set([{ app: 'limited', domains: ['limited.example.net'], backends: [backend.as('limited')] }]);
          for (let index = 0; index < 3; index++) held.push(await idleConnection(proxy.port));
          const extra = await idleConnection(proxy.port);
          // Closed in milliseconds; the 10 s are for a loaded machine (CI runs two Node lines at once).
          assert.equal(await closedEmpty(extra, 10_000), true, 'the fourth connection was closed without a byte');
          assert.equal(dropped, 1);
          held.shift()!.socket.destroy();
          // Once the proxy has seen that one close, a client is served again.
          await waitFor('a request served under the limit', async () => {
            const answer = await call(proxy.port, 'limited.example.net', '/').catch(() => null);
            return answer?.status === 200 && answer.text === 'served';
          }, 10_000, 50);
        } finally {
          for (const connection of held) connection.socket.destroy();
          await proxy.close();
        }
      });
    }
  }
});

describe('proxy.maxConnections in dozen', { timeout: 60_000 }, () => {
  it('is read from the config by each worker, which counts what it closes in /metrics and says so once in its log', async () => {
    const port = await freePort();
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '1', DOZEN_PROXY_LISTEN_PORT: String(port), DOZEN_PROXY_MAX_CONNECTIONS: '2' } });
    const held: IdleConnection[] = [];
    try {
      // The admin API answers before the proxy's workers listen; and the readiness check's /health sends the proxy a
      // probe request, whose connection counts against the limit until the worker has seen it close.
      await waitFor('the proxy workers listening', async () => dozen.logs().includes('"msg":"proxy listening"'), 15_000, 50);
      await waitFor("the health probe's connection gone", async () => serverConnections(port) === 0, 10_000, 20);
      for (let index = 0; index < 2; index++) held.push(await idleConnection(port));
      const extras = [await idleConnection(port), await idleConnection(port)];
      // proxy.timeouts.clientHeaders is 30 s: within 10 s only the limit closes a connection.
      for (const extra of extras) assert.equal(await closedEmpty(extra, 10_000), true, 'a connection past the limit was closed without a byte');
      const dropped = async () => (await (await fetch(dozen.url + '/metrics')).text()).match(/^dozen_proxy_connections_dropped_total (\d+)$/m)?.[1];
      await waitFor('the metric to count both', async () => (await dropped()) === '2', 10_000);
      const warnings = dozen.logs().split('\n').filter((line) => line.includes('"msg":"proxy at proxy.maxConnections: new connections are closed as they are accepted"'));
      assert.equal(warnings.length, 1, 'one warning a minute, not one per connection');
      assert.equal((JSON.parse(warnings[0]) as { maxConnections: number }).maxConnections, 2);
    } finally {
      for (const connection of held) connection.socket.destroy();
      await dozen.stop();
    }
  });
});

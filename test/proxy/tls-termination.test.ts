import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { pendingDeprecationsOn } from '../../src/proxy/http1/direct-write.js';
import { ENGINES, sharedTestCa, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

// Who terminates TLS (the fast engine through TLSWrap, tls/lean-tls.ts; node:tls for the portable one), and
// what either does with connections that never finish a handshake: closed, and the listener serves on.

const DOMAIN = 'web.example.net';

function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function get(port: number): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: DOMAIN, ca: sharedTestCa().caPem });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk));
  socket.end(`GET / HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: close\r\n\r\n`);
  await new Promise((resolve) => socket.once('close', resolve));
  return text;
}

describe('TLS termination', { timeout: 60_000 }, () => {
  let backend: TestBackend;
  before(async () => {
    backend = await startBackend('web', (req, res) => res.end('served'));
  });
  after(async () => {
    await backend.close();
  });

  it('the fast engine terminates TLS through TLSWrap (node:tls with pending deprecations on), the portable one through node:tls', async () => {
    const fast = pendingDeprecationsOn() ? 'node:tls' : 'TLSWrap';
    for (const [engine, terminator] of [['fast', fast], ['portable', 'node:tls']] as const) {
      const proxy = await startProxy({ engine, https: true });
      try {
        assert.equal(proxy.server.report?.tls, terminator, engine);
        proxy.source.set([{ app: 'web', domains: [DOMAIN], backends: [backend.as('web')] }]);
        assert.match(await get(proxy.port), /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nserved$/);
      } finally {
        await proxy.close();
      }
    }
  });

  for (const engine of ENGINES) {
    describe(`${engine} engine`, () => {
      let proxy: TestProxy;
      before(async () => {
        proxy = await startProxy({ engine, https: true, timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 600, clientKeepAlive: 10_000 } });
        proxy.source.set([{ app: 'web', domains: [DOMAIN], backends: [backend.as('web')] }]);
      });
      after(async () => {
        await proxy.close();
      });

      it('closes a connection whose handshake does not begin within the head timeout', async () => {
        const silent = netConnect({ host: '127.0.0.1', port: proxy.port });
        const started = Date.now();
        assert.equal(await closedWithin(silent, 5_000), true, 'a silent client is closed');
        assert.ok(Date.now() - started >= 500, `closed after ${Date.now() - started} ms, before the timeout`);
        assert.match(await get(proxy.port), /\r\n\r\nserved$/);
      });

      it('closes a client that speaks something other than TLS, and serves on', async () => {
        const plain = netConnect({ host: '127.0.0.1', port: proxy.port });
        plain.on('error', () => {});
        plain.write(`GET / HTTP/1.1\r\nHost: ${DOMAIN}\r\n\r\n`);
        let answer = '';
        plain.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
        assert.equal(await closedWithin(plain, 5_000), true);
        assert.doesNotMatch(answer, /served/, 'no plaintext answer on the TLS port');
        assert.match(await get(proxy.port), /\r\n\r\nserved$/);
      });

      it('survives clients that leave at every step of their handshake', async () => {
        // 120 clients, each cut after 0-11 ms: before its ClientHello, mid-handshake, or just after it.
        await Promise.all(
          Array.from({ length: 120 }, (_, index) =>
            new Promise<void>((resolve) => {
              const socket = tlsConnect({ host: '127.0.0.1', port: proxy.port, servername: DOMAIN, ca: sharedTestCa().caPem });
              socket.on('error', () => {});
              socket.once('close', () => resolve());
              setTimeout(() => socket.destroy(), index % 12);
            }),
          ),
        );
        const answers = await Promise.all(Array.from({ length: 10 }, () => get(proxy.port)));
        for (const answer of answers) assert.match(answer, /\r\n\r\nserved$/);
      });
    });
  }
});

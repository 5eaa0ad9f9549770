import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ENGINES, sharedTestCa, startBackend, startProxy, type TestBackend } from './helpers.js';

// TLS connections that end before or right after their handshake: each is closed at once, and a
// listener shutting down does not wait for them (they used to stay open until Node's 120 s handshake timeout).
describe('TLS connections that end early', { timeout: 60_000 }, () => {
  let backend: TestBackend;
  before(async () => {
    backend = await startBackend('half', (req, res) => res.end('answered'));
  });
  after(async () => {
    await backend.close();
  });

  for (const engine of ENGINES) {
    it(`closes a client that leaves mid-handshake, and close() does not wait for it (${engine})`, async () => {
      const proxy = await startProxy({ engine, https: true });
      const raw = netConnect({ host: '127.0.0.1', port: proxy.port });
      await new Promise((resolve) => raw.once('connect', resolve));
      // A ClientHello's first bytes, then the end of the client's stream: the handshake can never finish.
      raw.end(Buffer.from('160301', 'hex'));
      const closed = await Promise.race([new Promise((resolve) => raw.once('close', () => resolve(true))), new Promise((resolve) => setTimeout(() => resolve(false), 5_000))]);
      const started = Date.now();
      await proxy.close();
      assert.equal(closed, true, 'the server closed its side');
      assert.ok(Date.now() - started < 2_000, `close took ${Date.now() - started} ms`);
    });

    it(`closes a client that leaves right after its handshake without a byte (${engine})`, async () => {
      const proxy = await startProxy({ engine, https: true });
      const socket = tlsConnect({ host: '127.0.0.1', port: proxy.port, servername: 'web.example.net', ca: sharedTestCa().caPem });
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      socket.destroy();
      const started = Date.now();
      await proxy.close();
      assert.ok(Date.now() - started < 2_000, `close took ${Date.now() - started} ms`);
    });

    it(`answers a TLS client that half-closes after its request (${engine})`, async () => {
      const proxy = await startProxy({ engine, https: true });
      proxy.source.set([{ app: 'half', domains: ['web.example.net'], backends: [backend.as('half')] }]);
      try {
        const socket = tlsConnect({ host: '127.0.0.1', port: proxy.port, servername: 'web.example.net', ca: sharedTestCa().caPem });
        await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk));
        socket.end('GET / HTTP/1.1\r\nHost: web.example.net\r\n\r\n');
        await new Promise((resolve) => socket.once('close', resolve));
        assert.match(text, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nanswered$/);
      } finally {
        await proxy.close();
      }
    });
  }
});

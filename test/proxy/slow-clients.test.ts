import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../support/ports.js';
import { call, ENGINES, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

/** The grace before a request body is held to 500 bytes a second (timeouts.clientHeaders). */
const GRACE_MS = 1_500;

/** A POST whose head and the first `first` bytes of its `size`-byte body are sent at once; the rest when the test says. */
async function slowPost(port: number, size: number, first: number): Promise<{ socket: Socket; rest(): void; answer: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const answer = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  const body = Buffer.alloc(size, 'p');
  socket.write(`POST /slow HTTP/1.1\r\nHost: slow.test\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
  socket.write(body.subarray(0, first));
  return { socket, rest: () => socket.write(body.subarray(first)), answer };
}

for (const engine of ENGINES) {
  describe(`proxy: clients that send their body slowly (${engine} engine, one backend connection)`, { timeout: 60_000 }, () => {
    let proxy: TestProxy;
    let backend: TestBackend;

    before(async () => {
      backend = await startBackend('slow-1');
      proxy = await startProxy({ engine, upstreamConnections: 1, upstreamMaxConnections: 1, timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: GRACE_MS, clientKeepAlive: 20_000 } });
      proxy.source.set([{ app: 'slow', domains: ['slow.test'], backends: [backend.as('slow')] }]);
    });
    after(async () => {
      await proxy?.close();
      await backend?.close();
    });

    it('reads a small body whole before taking a backend connection: the app serves others while it trickles in', async () => {
      const slow = await slowPost(proxy.port, 1000, 10);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      const other = await call(proxy.port, 'slow.test', '/meanwhile');
      assert.equal(other.status, 200, other.text);
      assert.ok(Date.now() - started < 1_000, `the other request waited ${Date.now() - started} ms`);
      assert.equal(backend.seen.filter((request) => request.url === '/slow').length, 0, 'the backend saw the slow request before its body was whole');
      slow.rest();
      const answer = await slow.answer;
      assert.match(answer, /^HTTP\/1\.1 200 /);
      assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).body, 'p'.repeat(1000), 'the body reached the backend whole');
    });

    it('cuts a client whose body comes slower than 500 bytes a second after the grace, small or large', async () => {
      for (const [size, first] of [[1000, 10], [200 * 1024, 1024]]) {
        const slow = await slowPost(proxy.port, size, first);
        const started = Date.now();
        // A few bytes now and then: never silent, far below the rate (slowhttptest -B).
        const trickle = setInterval(() => slow.socket.write('p'), 200);
        await slow.answer;
        clearInterval(trickle);
        const held = Date.now() - started;
        const allowed = GRACE_MS + (first * 1000) / 500;
        assert.ok(held >= allowed - 200 && held < allowed + 2_500, `${size}-byte body cut after ${held} ms (allowed ${allowed})`);
      }
      await waitFor('the exchanges to end', async () => proxy.records.filter((record) => record.path === '/slow' && record.status === 499).length >= 2, 2_000);
    });

    it('lets a body that keeps the rate through, however long it takes past the grace', async () => {
      const size = 200 * 1024;
      const slow = await slowPost(proxy.port, size, 0);
      let sent = 0;
      // 10 KiB every 100 ms: 100 KB/s for 2 s, past the 1.5 s grace.
      await new Promise<void>((resolve) => {
        const pace = setInterval(() => {
          const next = Math.min(10 * 1024, size - sent);
          slow.socket.write(Buffer.alloc(next, 'p'));
          sent += next;
          if (sent >= size) {
            clearInterval(pace);
            resolve();
          }
        }, 100);
      });
      assert.match(await slow.answer, /^HTTP\/1\.1 200 /);
    });

    it('streams a body over 64 KiB as before: it does not wait for the whole of it', async () => {
      const slow = await slowPost(proxy.port, 200 * 1024, 1024);
      await waitFor('the backend to see the request before its body is whole', async () => backend.seen.some((request) => request.url === '/slow' && request.headers['content-length'] === String(200 * 1024)), 3_000);
      slow.rest();
      assert.match(await slow.answer, /^HTTP\/1\.1 200 /);
    });
  });

  describe(`proxy: slow clients and the backend's connections (${engine} engine, no upstreamMaxConnections)`, { timeout: 30_000 }, () => {
    let proxy: TestProxy;
    let backend: TestBackend;

    before(async () => {
      backend = await startBackend('slow-2');
      // One idle connection kept, no limit on open ones: the defaults' shape (128 and none).
      proxy = await startProxy({ engine, upstreamConnections: 1, timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 5_000, clientKeepAlive: 20_000 } });
      proxy.source.set([{ app: 'slow', domains: ['slow.test'], backends: [backend.as('slow')] }]);
    });
    after(async () => {
      await proxy?.close();
      await backend?.close();
    });

    it('serves others at once while large bodies trickle in, each on a backend connection of its own (with a limit, they waited for all of them)', async () => {
      const slow = await Promise.all([1, 2, 3].map(() => slowPost(proxy.port, 200 * 1024, 1024)));
      await waitFor('the backend to see the three slow requests', async () => backend.seen.filter((request) => request.url === '/slow').length === 3, 3_000);
      const started = Date.now();
      const others = await Promise.all([1, 2, 3].map((n) => call(proxy.port, 'slow.test', `/meanwhile-${n}`)));
      assert.deepEqual(others.map((other) => other.status), [200, 200, 200]);
      assert.ok(Date.now() - started < 1_000, `the other requests waited ${Date.now() - started} ms`);
      for (const client of slow) client.rest();
      for (const client of slow) assert.match(await client.answer, /^HTTP\/1\.1 200 /);
    });

    it('keeps at most upstreamConnections idle connections once the burst is over', async () => {
      await Promise.all([1, 2, 3, 4].map((n) => call(proxy.port, 'slow.test', `/burst-${n}`)));
      const before = backend.seen.length;
      const connections = new Set<number>();
      for (const n of [1, 2, 3]) {
        const answer = await call(proxy.port, 'slow.test', `/after-${n}`);
        assert.equal(answer.status, 200);
      }
      for (const request of backend.seen.slice(before)) connections.add(request.remotePort);
      assert.equal(connections.size, 1, `three requests one after another came on ${connections.size} backend connections`);
    });
  });
}

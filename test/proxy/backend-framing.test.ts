import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { call, ENGINES, startProxy, type TestProxy } from './helpers.js';

/**
 * What a broken backend sends past the end of its response must never reach another exchange: bytes after a
 * Content-Length, a body on a HEAD answer, the start of a response nobody asked for. Each answer here is
 * written in one write, so the proxy reads the response and what follows it together.
 */
const ANSWERS: Record<string, string> = {
  '/extra': 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\ncontent-length: 8\r\nx-poison: 1\r\n\r\nPOISONED',
  '/partial': 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nset-cookie: session=attacker\r\nx-pad: ',
  '/head-body': 'HTTP/1.1 200 OK\r\ncontent-length: 54\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 8\r\nx-poison: 1\r\n\r\n',
  '/status-099': 'HTTP/1.1 099 Odd\r\ncontent-length: 5\r\n\r\nhello',
  '/status-000': 'HTTP/1.1 000 Odd\r\ncontent-length: 44\r\n\r\nHTTP/1.1 200 OK\r\nset-cookie: injected=1\r\n\r\n',
};

/** A keep-alive backend that answers each request (pipelined ones in order) with ANSWERS[path], else a 200 naming the path (chunked for `/chunked...`); `/slow/...` waits 150 ms first. */
async function rawBackend(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    let pending = '';
    let queue = Promise.resolve();
    socket.on('error', () => socket.destroy());
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        const [method, target] = pending.slice(0, end).split(' ');
        pending = pending.slice(end + 4);
        const path = target.replace(/^\/slow/, '');
        // A chunked answer goes through llhttp, where a response's leftover start would be waiting.
        const plain = path.startsWith('/chunked') ? 'transfer-encoding: chunked' : 'content-length: 2';
        const answer = ANSWERS[path] ?? `HTTP/1.1 200 OK\r\n${plain}\r\nx-real: ${method} ${path}\r\n\r\n${plain.startsWith('transfer') ? '2\r\nok\r\n0\r\n\r\n' : 'ok'}`;
        const wait = target.startsWith('/slow') ? 150 : 0;
        queue = queue.then(() => new Promise<void>((resolve) => setTimeout(() => socket.write(answer, 'latin1', () => resolve()), wait)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

for (const engine of ENGINES) {
  describe(`proxy: what a backend sends past its response (${engine} engine, one backend connection)`, { timeout: 60_000 }, () => {
    let proxy: TestProxy;
    let backend: Awaited<ReturnType<typeof rawBackend>>;

    before(async () => {
      backend = await rawBackend();
      // One connection to the backend: every exchange waits for it, as under load when the pool is full.
      proxy = await startProxy({ engine, upstreamConnections: 1, upstreamMaxConnections: 1 });
      proxy.source.set([{ app: 'broken', domains: ['broken.test'], backends: [{ instance: 'b1', app: 'broken', address: '127.0.0.1', port: backend.port, host: 'h', load: null }] }]);
    });
    after(async () => {
      await proxy?.close();
      await new Promise((resolve) => backend?.server.close(resolve));
    });

    /** The next client's answer must be the backend's own answer to it. */
    function assertOwnAnswer(answer: Awaited<ReturnType<typeof call>>, path: string): void {
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.headers['x-real'], `GET ${path}`, JSON.stringify(answer.headers));
      assert.equal(answer.headers['x-poison'], undefined);
      assert.equal(answer.headers['set-cookie'], undefined);
      assert.equal(answer.text, 'ok');
    }

    it('serves a response whole and closes the connection when bytes follow it; a waiting client gets its own answer', async () => {
      const before = backend.connections();
      const [first, waiting] = await Promise.all([call(proxy.port, 'broken.test', '/slow/extra'), call(proxy.port, 'broken.test', '/after-extra')]);
      assert.equal(first.status, 200);
      assert.equal(first.text, 'hello');
      assertOwnAnswer(waiting, '/after-extra');
      assert.ok(backend.connections() >= before + 2, 'the out-of-step connection was not reused');
    });

    it('does not keep the start of a response nobody asked for: a later client, alone, gets its own answer', async () => {
      assert.equal((await call(proxy.port, 'broken.test', '/partial')).text, 'hello');
      assertOwnAnswer(await call(proxy.port, 'broken.test', '/chunked-after-partial'), '/chunked-after-partial');
    });

    it('drops a body sent on a HEAD answer with the connection, before a waiting client', async () => {
      const [head, waiting] = await Promise.all([call(proxy.port, 'broken.test', '/slow/head-body', { method: 'HEAD' }), call(proxy.port, 'broken.test', '/after-head')]);
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      assertOwnAnswer(waiting, '/after-head');
    });

    it('answers 502 for a status under 100 (RFC 9110 15), sending none of its bytes', async () => {
      for (const path of ['/status-099', '/status-000']) {
        const answer = await call(proxy.port, 'broken.test', path);
        assert.equal(answer.status, 502, answer.text);
        assert.equal(answer.json().error, 'bad_gateway');
        assert.doesNotMatch(answer.text, /hello|injected/);
        assert.equal(answer.headers['set-cookie'], undefined);
      }
      assertOwnAnswer(await call(proxy.port, 'broken.test', '/after-status'), '/after-status');
    });
  });
}

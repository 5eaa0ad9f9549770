import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../support/ports.js';
import { ENGINES, sharedTestCa, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

const MB = 1024 * 1024;
const HTTP2_ON = { host: '127.0.0.1', port: 0, http2: true };
const IDLE_MS = 1_500;

/** A session over a TLS socket of the test's own, so the test can cut the connection under it. */
function h2Connect(port: number, servername: string, settings: { initialWindowSize?: number } = {}): Promise<ClientHttp2Session & { tls: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ host: '127.0.0.1', port, servername, ca: sharedTestCa().caPem, ALPNProtocols: ['h2'] });
    const session = connect(`https://127.0.0.1:${port}`, { settings, createConnection: () => tls }, () => resolve(Object.assign(session, { tls })));
    session.once('error', reject);
  });
}

/** A request's answer, or what happened to its stream. */
function answerOf(stream: ClientHttp2Stream): Promise<{ status: number; headers: Record<string, unknown>; body: string } | { error: string }> {
  return new Promise((resolve) => {
    let status = 0;
    let headers: Record<string, unknown> = {};
    let body = '';
    stream.on('response', (head) => {
      status = Number(head[':status']);
      headers = head;
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status, headers, body }));
    stream.on('error', (error: Error) => resolve({ error: error.message }));
    stream.on('close', () => resolve({ error: `closed with code ${stream.rstCode}` }));
  });
}

/** A backend writing `answer` raw on each request (one per connection), or never answering when `answer` is null. */
async function rawBackend(answer: string | null): Promise<{ server: Server; port: number; requests: () => number; closed: () => number }> {
  let requests = 0;
  let closed = 0;
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('close', () => closed++);
    socket.on('data', (data) => {
      if (!data.includes('\r\n\r\n')) return;
      requests++;
      if (answer !== null) socket.write(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, requests: () => requests, closed: () => closed };
}

for (const engine of ENGINES) {
  describe(`HTTP/2 clients that misbehave (${engine} engine)`, { timeout: 60_000 }, () => {
    let proxy: TestProxy;
    let big: TestBackend;
    let stall: Awaited<ReturnType<typeof rawBackend>>;
    let doubled: Awaited<ReturnType<typeof rawBackend>>;

    before(async () => {
      proxy = await startProxy({ engine, https: true, tls: HTTP2_ON, upstreamConnections: 2, upstreamMaxConnections: 2, timeouts: { connect: 1_000, headers: 5_000, idle: IDLE_MS, clientHeaders: 5_000, clientKeepAlive: 10_000 } });
      big = await startBackend('big-1', (req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(req.url === '/big' ? Buffer.alloc(4 * MB, 'b') : 'small'));
      stall = await rawBackend(null);
      doubled = await rawBackend('HTTP/1.1 302 Found\r\nlocation: /a\r\nlocation: /b\r\nhttp2-settings: AAMAAABkAAQAAP__\r\ncontent-length: 0\r\n\r\n');
      proxy.source.set([
        { app: 'big', domains: ['big.example.net'], backends: [big.as('big')] },
        { app: 'stall', domains: ['stall.example.net'], backends: [{ instance: 's1', app: 'stall', address: '127.0.0.1', port: stall.port, host: 'h', load: null }] },
        { app: 'doubled', domains: ['doubled.example.net'], backends: [{ instance: 'd1', app: 'doubled', address: '127.0.0.1', port: doubled.port, host: 'h', load: null }] },
      ]);
    });
    after(async () => {
      await proxy?.close();
      await big?.close();
      for (const backend of [stall, doubled]) await new Promise((resolve) => backend?.server.close(resolve));
    });

    it('ends the exchange (499) and lets the backend connection go when the client drops its connection mid-request', { timeout: 15_000 }, async () => {
      const session = await h2Connect(proxy.port, 'stall.example.net');
      const stream = session.request({ ':authority': 'stall.example.net', ':path': '/never' });
      stream.on('error', () => undefined);
      await waitFor('the request at the backend', async () => stall.requests() === 1, 5_000);
      session.tls.destroy();
      const record = await waitFor('the exchange to end', async () => proxy.records.find((entry) => entry.app === 'stall'), 5_000);
      assert.deepEqual([record.status, record.upstreamError], [499, 'client_closed']);
      await waitFor('the backend connection to close', async () => stall.closed() >= 1, 5_000);
    });

    it('a client that stops reading holds no backend connection past the idle timeout: others of the app are served', { timeout: 15_000 }, async () => {
      // Window 0: the proxy may send nothing of the body; two streams take both of the app's backend connections.
      const stuck = await h2Connect(proxy.port, 'big.example.net', { initialWindowSize: 0 });
      const held = [stuck.request({ ':authority': 'big.example.net', ':path': '/big' }), stuck.request({ ':authority': 'big.example.net', ':path': '/big' })];
      const outcomes = held.map(answerOf);
      const other = await h2Connect(proxy.port, 'big.example.net');
      try {
        const started = Date.now();
        const answer = await answerOf(other.request({ ':authority': 'big.example.net', ':path': '/small' }));
        assert.deepEqual(answer, { status: 200, headers: (answer as { headers: Record<string, unknown> }).headers, body: 'small' });
        assert.ok(Date.now() - started < IDLE_MS * 4, `waited ${Date.now() - started} ms`);
        for (const outcome of await Promise.all(outcomes)) assert.ok('error' in outcome, JSON.stringify(outcome).slice(0, 200));
      } finally {
        other.destroy();
        stuck.destroy();
      }
    });

    it('answers 502 for a backend head HTTP/2 cannot carry (two Location fields, HTTP2-Settings), never a stream that hangs', { timeout: 15_000 }, async () => {
      const session = await h2Connect(proxy.port, 'doubled.example.net');
      try {
        const answer = await answerOf(session.request({ ':authority': 'doubled.example.net', ':path': '/' } as OutgoingHttpHeaders));
        assert.ok('status' in answer, JSON.stringify(answer));
        assert.equal(answer.status, 502, JSON.stringify(answer));
      } finally {
        session.destroy();
      }
    });

    it('grants a stream a 64 KiB window for its request body, so a connection of 128 streams buffers 8 MiB, not 128', { timeout: 15_000 }, async () => {
      const session = await h2Connect(proxy.port, 'big.example.net');
      try {
        await waitFor("the proxy's SETTINGS", async () => session.remoteSettings.maxConcurrentStreams === 128, 5_000);
        assert.equal(session.remoteSettings.initialWindowSize, 65_535);
        assert.equal(session.remoteSettings.maxConcurrentStreams, 128);
      } finally {
        session.destroy();
      }
    });
  });
}

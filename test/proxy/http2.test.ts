import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { launchChromium } from '../support/chromium.js';
import { requireBinary } from '../support/debian.js';
import { freePort } from '../support/ports.js';
import { ENGINES, sharedTestCa, hashingUpload, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

const MB = 1024 * 1024;
/** The TLS listener with HTTP/2 offered (proxy.tls.http2 is off by default). */
const HTTP2_ON = { host: '127.0.0.1', port: 0, http2: true };
/** Requests the gate backend holds until all have arrived: only streams in parallel on one connection get through. */
const GATED = 12;

interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json(): any;
}

function h2Connect(port: number, servername: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { servername, ca: sharedTestCa().caPem }, () => resolve(session));
    session.once('error', reject);
  });
}

/** One request on `session`; `body` is sent without a Content-Length unless the headers name one. */
function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let answer: IncomingHttpHeaders = {};
    stream.on('response', (head) => (answer = head));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const all = Buffer.concat(chunks);
      resolve({ status: Number(answer[':status']), headers: answer, body: all, json: () => JSON.parse(all.toString()) });
    });
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

/** An HTTP/2 frame: 9 bytes of header (length, type, flags, stream), then the payload. */
function h2Frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * Rapid Reset written as frames on a TLS socket (node:http2's client is not used: Node 22's never hears the
 * server close such a session): `count` GET requests, each HEADERS then RST_STREAM (CANCEL) at once. Resolves
 * once the server closed the connection, or 10 s after the last frame, with the error codes of the GOAWAYs that came.
 */
async function rapidReset(port: number, authority: string, count: number): Promise<{ sent: number; closedByServer: boolean; goawayCodes: number[] }> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: authority, ca: sharedTestCa().caPem, ALPNProtocols: ['h2'] });
  await once(socket, 'secureConnect');
  assert.equal(socket.alpnProtocol, 'h2');
  let received = Buffer.alloc(0);
  const goawayCodes: number[] = [];
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    while (received.length >= 9 && received.length >= 9 + received.readUIntBE(0, 3)) {
      const length = received.readUIntBE(0, 3);
      if (received[3] === 0x7) goawayCodes.push(received.readUInt32BE(9 + 4)); // GOAWAY: last stream id, then the error code
      received = received.subarray(9 + length);
    }
  });
  socket.on('error', () => {}); // a reset after the server's GOAWAY
  const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
  // :method GET, :scheme https, :path / (HPACK static table), :authority as a literal without indexing.
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, authority.length]), Buffer.from(authority)]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(constants.NGHTTP2_CANCEL);
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), h2Frame(0x4, 0, 0, Buffer.alloc(0))]));
  let sent = 0;
  for (; sent < count && !socket.destroyed; sent++) {
    const stream = 2 * sent + 1;
    socket.write(Buffer.concat([h2Frame(0x1, 0x5, stream, block), h2Frame(0x3, 0, stream, cancel)])); // END_STREAM | END_HEADERS
    if (sent % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  const closedByServer = await Promise.race([closed, new Promise<boolean>((resolve) => setTimeout(resolve, 10_000, false))]);
  socket.destroy();
  return { sent, closedByServer, goawayCodes };
}

const ROUTES = (web: TestBackend, store: TestBackend, gate: TestBackend, downPort: number) => [
  { app: 'web', domains: ['web.example.net'], backends: [web.as('web')] },
  { app: 'store', domains: ['store.example.net'], backends: [store.as('store')] },
  { app: 'gate', domains: ['gate.example.net'], backends: [gate.as('gate')] },
  { app: 'down', domains: ['down.example.net'], backends: [{ ...web.as('down'), port: downPort }] },
];

// HTTP/2 clients on the TLS listener (ALPN h2): the contract's TLS cases, forwarded over HTTP/1.1.
for (const engine of ENGINES) {
  describe(`proxy over HTTP/2 (${engine} engine)`, { timeout: 60_000 }, () => {
    let proxy: TestProxy;
    let web: TestBackend;
    let store: TestBackend;
    let gate: TestBackend;

    before(async () => {
      proxy = await startProxy({ engine, https: true, tls: HTTP2_ON });
      assert.equal(proxy.server.report?.engine, engine);
      web = await startBackend('web-1');
      store = await startBackend('store-1', hashingUpload(4 * MB));
      const held: ((count: number) => void)[] = [];
      gate = await startBackend('gate-1', (req, res) => {
        held.push((count) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.url} answered with ${count} held`));
        if (held.length === GATED) held.splice(0).forEach((answer) => answer(GATED));
      });
      proxy.source.set(ROUTES(web, store, gate, await freePort()));
    });
    after(async () => {
      await proxy.close();
      await Promise.all([web.close(), store.close(), gate.close()]);
    });

    it('runs streams in parallel on one connection, with the headers an HTTP/1.1 client gets and the backend is told', async () => {
      const session = await h2Connect(proxy.port, 'gate.example.net');
      try {
        assert.equal(session.alpnProtocol, 'h2');
        const paths = Array.from({ length: GATED }, (_, index) => `/g/${index}`);
        const answers = await Promise.all(paths.map((path) => h2Request(session, { ':authority': 'gate.example.net', ':path': path })));
        assert.deepEqual(answers.map((answer) => answer.status), paths.map(() => 200));
        assert.deepEqual(answers.map((answer) => answer.body.toString()), paths.map((path) => `${path} answered with ${GATED} held`));
      } finally {
        session.close();
      }

      const web1 = await h2Connect(proxy.port, 'web.example.net');
      try {
        const answer = await h2Request(web1, { ':authority': 'web.example.net', ':path': '/a?b=1', cookie: ['a=1', 'b=2'], 'x-forwarded-proto': 'http', te: 'trailers' });
        assert.equal(answer.status, 200);
        const seen = answer.json();
        assert.equal(seen.url, '/a?b=1');
        assert.equal(seen.headers.host, 'web.example.net');
        assert.equal(seen.headers.cookie, 'a=1; b=2', 'split cookie fields are one header again over HTTP/1.1');
        assert.equal(seen.headers['x-forwarded-proto'], 'https', 'whatever the client claims');
        assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
        assert.equal(seen.headers['x-forwarded-host'], 'web.example.net');
        assert.equal(seen.headers.te, undefined, 'hop-by-hop');
        assert.match(seen.headers['x-request-id'], /^[\w-]{8,}$/);
        assert.equal(answer.headers['x-request-id'], seen.headers['x-request-id']);
        assert.equal(answer.headers['x-backend'], 'web-1');
        // The backend's hop-by-hop headers stop at the proxy (HTTP/2 forbids some outright).
        assert.equal(answer.headers['keep-alive'], undefined);
        assert.equal(answer.headers['proxy-authenticate'], undefined);

        const record = proxy.records.find((entry) => entry.requestId === seen.headers['x-request-id']);
        assert.deepEqual(record && { app: record.app, host: record.host, method: record.method, path: record.path, status: record.status }, { app: 'web', host: 'web.example.net', method: 'GET', path: '/a?b=1', status: 200 });
      } finally {
        web1.close();
      }
    });

    it('streams a 3 MB upload (with and without Content-Length) and a 4 MB download', async () => {
      const session = await h2Connect(proxy.port, 'store.example.net');
      try {
        const upload = Buffer.alloc(3 * MB, 'x');
        const digest = createHash('sha256').update(upload).digest('hex');
        const sized = await h2Request(session, { ':method': 'PUT', ':authority': 'store.example.net', ':path': '/blob', 'content-length': upload.length }, upload);
        assert.equal(sized.status, 200);
        assert.equal(sized.headers['x-upload'], `${upload.length} ${digest} ${upload.length}`);
        assert.equal(sized.body.length, 4 * MB);
        const streamed = await h2Request(session, { ':method': 'POST', ':authority': 'store.example.net', ':path': '/blob' }, upload);
        assert.equal(streamed.headers['x-upload'], `${upload.length} ${digest} chunked`, 'a body without a length goes on chunked');
        assert.equal(streamed.body.length, 4 * MB);
      } finally {
        session.close();
      }
    });

    it('answers 502 for a backend that refuses, 405 for TRACE, 401 for a missing API key, and adds HSTS', async () => {
      const session = await h2Connect(proxy.port, 'web.example.net');
      try {
        const refused = await h2Request(session, { ':authority': 'down.example.net', ':path': '/' });
        assert.equal(refused.status, 502);
        assert.equal(refused.json().error, 'bad_gateway');
        const trace = await h2Request(session, { ':method': 'TRACE', ':authority': 'web.example.net', ':path': '/' });
        assert.equal(trace.status, 405);
        assert.equal(trace.json().error, 'method_not_allowed');

        proxy.policies({ web: { auth: 'api-key', keys: [], hsts: { maxAge: 600, includeSubDomains: false } } });
        const unauthorized = await h2Request(session, { ':authority': 'web.example.net', ':path': '/' });
        assert.equal(unauthorized.status, 401);
        assert.match(unauthorized.json().message, /API key is required/);
        assert.match(String(unauthorized.headers['www-authenticate']), /^Bearer realm="web"$/);

        proxy.policies({ web: { hsts: { maxAge: 600, includeSubDomains: false } } });
        const secured = await h2Request(session, { ':authority': 'web.example.net', ':path': '/' });
        assert.equal(secured.status, 200);
        assert.equal(secured.headers['strict-transport-security'], 'max-age=600');
      } finally {
        proxy.policies({});
        session.close();
      }
    });

    it('serves curl --http2', async () => {
      const curl = requireBinary('curl', 'curl');
      const url = `https://web.example.net:${proxy.port}/from-curl`;
      const { stdout } = await promisify(execFile)(curl, ['-sS', '--http2', '--cacert', sharedTestCa().caFile, '--resolve', `web.example.net:${proxy.port}:127.0.0.1`, '-w', '\n%{http_version} %{http_code}', url]);
      const [body, outcome] = stdout.split('\n');
      assert.equal(outcome, '2 200');
      assert.equal(JSON.parse(body).url, '/from-curl');
    });

    it('ends a session that resets its streams as fast as it opens them (Rapid Reset, CVE-2023-44487), and serves the next', async () => {
      const [seenBefore, handledBefore] = [web.seen.length, proxy.records.length];
      const attack = await rapidReset(proxy.port, 'web.example.net', 5_000);
      // nghttp2's limit on reset streams (a burst of 1,000, then 33 a second) ends the session: GOAWAY, then the connection closes.
      assert.ok(attack.closedByServer, `the connection was still open 10 s after ${attack.sent} streams were opened and reset (GOAWAY codes seen: ${attack.goawayCodes.join(', ') || 'none'})`);
      assert.ok(attack.goawayCodes.some((code) => code !== constants.NGHTTP2_NO_ERROR), `no GOAWAY naming an error before the close (${attack.goawayCodes.join(', ')})`);
      const handled = proxy.records.length - handledBefore;
      assert.ok(handled < 2_000, `the proxy took ${handled} of ${attack.sent} reset streams`);
      assert.ok(web.seen.length - seenBefore < 100, `${web.seen.length - seenBefore} reset requests reached the backend`);
      const next = await h2Connect(proxy.port, 'web.example.net');
      assert.equal((await h2Request(next, { ':path': '/after-reset', ':authority': 'web.example.net' })).status, 200);
      next.close();
    });

    it('closes a session idle for clientKeepAlive with GOAWAY, never one with a stream still open', async () => {
      const quick = await startProxy({ engine, https: true, tls: HTTP2_ON, timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 5_000, clientKeepAlive: 300 } });
      quick.source.set([{ app: 'gate', domains: ['gate.example.net'], backends: [gate.as('gate')] }, { app: 'web', domains: ['web.example.net'], backends: [web.as('web')] }]);
      try {
        const idle = await h2Connect(quick.port, 'web.example.net');
        assert.equal((await h2Request(idle, { ':path': '/', ':authority': 'web.example.net' })).status, 200);
        const started = Date.now();
        await new Promise((resolve) => idle.once('goaway', resolve));
        assert.ok(Date.now() - started >= 250, `GOAWAY after ${Date.now() - started} ms`);
        idle.close();

        // The gate backend answers once GATED requests wait: the first stream stays open well past 300 ms.
        const busy = await h2Connect(quick.port, 'gate.example.net');
        let goaway = false;
        busy.once('goaway', () => (goaway = true));
        const first = h2Request(busy, { ':path': '/held', ':authority': 'gate.example.net' });
        await new Promise((resolve) => setTimeout(resolve, 900));
        assert.equal(goaway, false, 'a session with an open stream was closed as idle');
        const rest = Array.from({ length: GATED - 1 }, () => h2Request(busy, { ':path': '/held', ':authority': 'gate.example.net' }));
        assert.deepEqual([...new Set((await Promise.all([first, ...rest])).map((answer) => answer.status))], [200]);
        busy.close();
      } finally {
        await quick.close();
      }
    });
  });
}

describe('proxy.tls.http2 off (the default)', { timeout: 30_000 }, () => {
  it('offers only HTTP/1.1 by ALPN, on both engines', async () => {
    for (const engine of ENGINES) {
      const proxy = await startProxy({ engine, https: true });
      try {
        const socket = tlsConnect({ host: '127.0.0.1', port: proxy.port, servername: 'web.example.net', ca: sharedTestCa().caPem, ALPNProtocols: ['h2', 'http/1.1'] });
        await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
        assert.equal(socket.alpnProtocol, 'http/1.1', engine);
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk));
        socket.end('GET / HTTP/1.1\r\nHost: web.example.net\r\nConnection: close\r\n\r\n');
        await new Promise((resolve) => socket.once('close', resolve));
        assert.match(text, /^HTTP\/1\.1 404 /, 'served over HTTP/1.1 (no route)');
      } finally {
        await proxy.close();
      }
    }
  });
});

describe('Chromium over HTTP/2', { timeout: 60_000 }, () => {
  it('loads a page and its assets over h2, and opens a WebSocket (over HTTP/1.1) through the same listener, on both engines', async () => {
    const page = await startBackend('page-1', (req, res) => {
      if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script src="/a.js"></script><link rel="stylesheet" href="/b.css">');
      res.writeHead(200, { 'content-type': req.url!.endsWith('.js') ? 'text/javascript' : 'text/css' }).end('/* asset */');
    });
    const wsPort = await freePort();
    const wss = new WebSocketServer({ host: '127.0.0.1', port: wsPort });
    wss.on('connection', (socket, req) => socket.on('message', (data) => socket.send(`echo ${data} via ${req.headers['x-forwarded-proto']}`)));
    const browser = await launchChromium({ args: ['--host-resolver-rules=MAP *.example.net 127.0.0.1'], trustedRoots: [sharedTestCa().caFile] });
    try {
      for (const engine of ENGINES) {
        const proxy = await startProxy({ engine, https: true, tls: HTTP2_ON });
        try {
          proxy.source.set([
            { app: 'page', domains: ['page.example.net'], backends: [page.as('page')] },
            { app: 'ws', domains: ['page-ws.example.net'], backends: [{ ...page.as('ws'), port: wsPort }] },
          ]);
          const context = await browser.newContext();
          const tab = await context.newPage();
          const response = await tab.goto(`https://page.example.net:${proxy.port}/`);
          assert.equal(response?.status(), 200);
          const timings = await tab.evaluate(() => performance.getEntries().map((entry) => `${entry.name.replace(/^https:\/\/[^/]+/, '')} ${(entry as unknown as { nextHopProtocol: string }).nextHopProtocol}`));
          assert.deepEqual(timings.filter((line) => /^\/(a\.js|b\.css)? /.test(line)).sort(), ['/ h2', '/a.js h2', '/b.css h2'], engine);
          const echoed = await tab.evaluate(
            (url) =>
              new Promise<string>((resolve, reject) => {
                const socket = new WebSocket(url);
                socket.onopen = () => socket.send('hello');
                socket.onmessage = (event) => resolve(String(event.data));
                socket.onerror = () => reject(new Error('the WebSocket failed'));
              }),
            `wss://page-ws.example.net:${proxy.port}/live`,
          );
          assert.equal(echoed, 'echo hello via https', engine);
          await context.close();
        } finally {
          await proxy.close();
        }
      }
    } finally {
      await browser.close();
      wss.close();
      await page.close();
    }
  });
});

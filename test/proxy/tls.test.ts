import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { requireBinary } from '../support/debian.js';
import { freePort } from '../support/ports.js';
import { runToEnd } from '../support/run-to-end.js';
import { call, echoTwice, ENGINES, sharedTestCa, hashingUpload, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

const MB = 1024 * 1024;

/** One HTTPS request on a new TLS 1.3 connection offering `session`: whether the server resumed it, and the tickets it sent. */
function resume(port: number, session: Buffer | undefined): Promise<{ reused: boolean; tickets: Buffer[]; answer: string }> {
  return new Promise((resolve, reject) => {
    const tickets: Buffer[] = [];
    let answer = '';
    let reused = false;
    const socket = connect({ host: '127.0.0.1', port, servername: 'web.example.net', ca: sharedTestCa().caPem, minVersion: 'TLSv1.3', session }, () => {
      reused = socket.isSessionReused();
      socket.write('GET / HTTP/1.1\r\nHost: web.example.net\r\nConnection: close\r\n\r\n');
    });
    socket.on('session', (ticket: Buffer) => tickets.push(ticket));
    socket.on('data', (chunk: Buffer) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ reused, tickets, answer }));
  });
}

/** Writes `bytes` on a new TLS connection and reads until the server closes it: the status lines it answered. */
function statusLines(port: number, bytes: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect({ host: '127.0.0.1', port, servername: 'web.example.net', ca: sharedTestCa().caPem }, () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => (answer += chunk));
    socket.on('error', reject);
    // An answer's status line follows the body before it directly.
    socket.on('close', () => resolve([...answer.matchAll(/HTTP\/1\.1 \d{3} [^\r]*/g)].map(([line]) => line)));
  });
}

// The forwarding, WebSocket and HTTPS-policy parts of the contract, over the TLS listener (routing.test.ts runs whole over TLS too).
for (const engine of ENGINES) {
  describe(`proxy over TLS (${engine} engine)`, { timeout: 60_000 }, () => {
    let proxy: TestProxy;
    let web: TestBackend;
    let store: TestBackend;

    before(async () => {
      proxy = await startProxy({ engine, https: true });
      web = await startBackend('web-1');
      store = await startBackend('store-1', hashingUpload(4 * MB));
      proxy.source.set([
        { app: 'web', domains: ['web.example.net', 'plain.example.net', 'strict.example.net', 'nohttps.example.net'], backends: [web.as('web')] },
        { app: 'store', domains: ['store.example.net'], backends: [store.as('store')] },
      ]);
    });
    after(async () => {
      await proxy.close();
      await Promise.all([web.close(), store.close()]);
    });

    it('streams a 3 MB upload and a 4 MB download, and serves many requests on one kept-alive connection', async () => {
      const upload = Buffer.alloc(3 * MB, 'x');
      const answer = await call(proxy.port, 'store.example.net', '/blob', { method: 'PUT', body: upload });
      assert.equal(answer.status, 200, answer.text.slice(0, 200));
      assert.equal(answer.headers['x-upload'], `${upload.length} ${createHash('sha256').update(upload).digest('hex')} ${upload.length}`);
      assert.equal(answer.text.length, 4 * MB);

      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: sharedTestCa().caPem });
      const sockets = new Set<unknown>();
      try {
        for (let index = 0; index < 20; index++) {
          const body = await new Promise<string>((resolve, reject) => {
            const req = request({ host: '127.0.0.1', port: proxy.port, servername: 'web.example.net', path: `/n/${index}`, headers: { host: 'web.example.net' }, agent }, (res) => {
              sockets.add(res.socket);
              let text = '';
              res.on('data', (chunk: Buffer) => (text += chunk));
              res.on('end', () => resolve(text));
            });
            req.on('error', reject);
            req.end();
          });
          assert.equal(JSON.parse(body).url, `/n/${index}`);
        }
      } finally {
        agent.destroy();
      }
      assert.equal(sockets.size, 1, 'all 20 requests went over one TLS connection');
    });

    it('sends a new session ticket at every resumption, so a TLS 1.3 client (one ticket, one use) keeps resuming', async () => {
      const first = await resume(proxy.port, undefined);
      assert.equal(first.reused, false);
      assert.ok(first.tickets.length > 0, 'tickets after a full handshake');
      let ticket = first.tickets.at(-1);
      for (let round = 0; round < 3; round++) {
        const again = await resume(proxy.port, ticket);
        assert.equal(again.reused, true, `round ${round}: resumed`);
        assert.match(again.answer, /^HTTP\/1\.1 200 /);
        // Node's own ticket callback sends none here (nginx does): this Node no longer lets tls/ticket-renewal.ts hook it.
        assert.equal(again.tickets.length, 1, `round ${round}: a new ticket at resumption`);
        ticket = again.tickets[0];
      }
    });

    it('refuses a TLS 1.2 client\'s renegotiation, as nginx does: each would cost the server a whole handshake (a DoS lever)', async () => {
      const socket = connect({ host: '127.0.0.1', port: proxy.port, servername: 'web.example.net', ca: sharedTestCa().caPem, maxVersion: 'TLSv1.2' });
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      // The refusal reaches the client as the socket's error (OpenSSL: "no renegotiation"), not as renegotiate()'s callback.
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', (error: Error) => resolve(error.message));
        socket.once('close', () => resolve('closed'));
        if (!socket.renegotiate({ rejectUnauthorized: true }, (error) => resolve(error ? error.message : 'renegotiated'))) resolve('renegotiate() refused by the client itself');
      });
      socket.destroy();
      assert.match(outcome, /no renegotiation/i);
    });

    it('answers a request pipelined after another that was answered at once, however bad it is (a second write to TLS before the first completed aborted the worker)', async () => {
      const first = 'GET /one HTTP/1.1\r\nHost: web.example.net\r\n\r\n';
      for (const second of ['GET /two HTTP/7.1\r\nHost: web.example.net\r\n\r\n', 'GET /two HTTP/1.1\r\nHost: web.example.net\r\nContent-Length: x\r\n\r\n', 'GET /two HTTP/1.1\r\nHost: web.example.net\r\nConnection: close\r\n\r\n']) {
        const lines = await statusLines(proxy.port, first + second);
        assert.equal(lines.length, 2, `two answers to ${JSON.stringify(second)}: ${lines.join(' | ')}`);
        assert.equal(lines[0], 'HTTP/1.1 200 OK');
      }
      assert.equal((await call(proxy.port, 'web.example.net', '/after')).status, 200);
    });

    it('ends every connection it closes with TLS close_notify before its FIN, as RFC 8446 section 6.1 requires (openssl s_client reads no truncation)', async () => {
      const openssl = requireBinary('openssl', 'openssl');
      const caFile = sharedTestCa().caFile;
      const closing = { 'Connection: close': 'GET / HTTP/1.1\r\nHost: web.example.net\r\nConnection: close\r\n\r\n', 'a refused request': 'GET / HTTP/7.1\r\nHost: web.example.net\r\n\r\n', 'HTTP/1.0': 'GET / HTTP/1.0\r\nHost: web.example.net\r\n\r\n' };
      for (const version of ['-tls1_3', '-tls1_2']) {
        for (const [what, request] of Object.entries(closing)) {
          const run = await runToEnd(openssl, ['s_client', version, '-connect', `127.0.0.1:${proxy.port}`, '-servername', 'web.example.net', '-CAfile', caFile, '-ign_eof', '-msg'], request);
          const told = `${what} over ${version}: ${run.stdout.slice(-600)}${run.stderr.slice(-300)}`;
          assert.match(run.stdout, /^HTTP\/1\.[01] \d{3} /m, told);
          assert.match(run.stdout, /<<< TLS 1\.[23], Alert \[length 0002\], warning close_notify/, told);
          assert.doesNotMatch(run.stdout + run.stderr, /unexpected eof/i, told);
        }
      }
    });

    it('tells the backend the request came over HTTPS, whatever the client claims', async () => {
      const answer = await call(proxy.port, 'web.example.net', '/', { headers: { 'x-forwarded-proto': 'http' } });
      assert.equal(answer.json().headers['x-forwarded-proto'], 'https');
      const plain = await call(proxy.plainPort, 'web.example.net', '/', { headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(plain.json().headers['x-forwarded-proto'], 'http');
    });

    it('passes a WebSocket upgrade through over wss', async () => {
      const port = await freePort();
      const wss = new WebSocketServer({ host: '127.0.0.1', port });
      wss.on('connection', (socket, req) => socket.on('message', (data) => socket.send(`echo ${data} via ${req.headers['x-forwarded-proto']}`)));
      try {
        proxy.source.set([{ app: 'ws', domains: ['ws.example.net'], backends: [{ instance: 'w1', app: 'ws', address: '127.0.0.1', port, host: 'h', load: null }] }]);
        // ws hands these to https.request: SNI and Host name the app, the socket goes to loopback.
        const wssOptions: ClientOptions & { servername: string } = { ca: sharedTestCa().caPem, servername: 'ws.example.net', headers: { host: 'ws.example.net' } };
        const replies = await echoTwice(new WebSocket(`wss://127.0.0.1:${proxy.port}/live`, wssOptions));
        assert.deepEqual(replies, ['echo hello via https', 'echo again via https']);
      } finally {
        wss.close();
        proxy.source.set([
          { app: 'web', domains: ['web.example.net', 'plain.example.net', 'strict.example.net', 'nohttps.example.net'], backends: [web.as('web')] },
          { app: 'store', domains: ['store.example.net'], backends: [store.as('store')] },
        ]);
      }
    });

    it('redirects plain HTTP to the TLS port for redirectHttp apps (the ACME path excepted), adds HSTS over TLS only, and refuses HTTPS for tls off', async () => {
      proxy.policies({ web: { redirectHttp: true, hsts: { maxAge: 31_536_000, includeSubDomains: true } } });
      const moved = await call(proxy.plainPort, 'web.example.net:8080', '/a/b?c=1');
      assert.equal(moved.status, 301, moved.text);
      assert.equal(moved.headers.location, `https://web.example.net:${proxy.port}/a/b?c=1`);
      const challenge = await call(proxy.plainPort, 'web.example.net', '/.well-known/acme-challenge/unknown-token');
      assert.equal(challenge.status, 404, 'the challenge path is answered, never redirected');
      const secure = await call(proxy.port, 'web.example.net', '/');
      assert.equal(secure.status, 200);
      assert.equal(secure.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');

      proxy.policies({ web: { hsts: { maxAge: 600, includeSubDomains: false } } });
      const plain = await call(proxy.plainPort, 'web.example.net', '/');
      assert.equal(plain.status, 200);
      assert.equal(plain.headers['strict-transport-security'], undefined, 'no HSTS on plain HTTP');
      assert.equal((await call(proxy.port, 'web.example.net', '/')).headers['strict-transport-security'], 'max-age=600');

      proxy.policies({ web: { tls: 'off' } });
      const refused = await call(proxy.port, 'web.example.net', '/');
      assert.equal(refused.status, 421);
      assert.deepEqual(refused.json(), { error: 'misdirected_request', message: 'web is not served over HTTPS' });
      assert.equal((await call(proxy.plainPort, 'web.example.net', '/')).status, 200);
      proxy.policies({});
    });
  });
}

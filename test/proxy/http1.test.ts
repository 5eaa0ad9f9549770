import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ENGINES, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';
import { waitFor } from '../support/ports.js';

/** Writes `bytes` to the proxy on one connection and returns all it answers until it closes; `halfClose` then shuts down the sending side. */
async function raw(port: number, bytes: string | string[], pauseMs = 0, halfClose = false): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {}); // the proxy may close before the last write (408, 400): what it answered is what counts
  const closed = once(socket, 'close');
  for (const part of Array.isArray(bytes) ? bytes : [bytes]) {
    socket.write(part, 'latin1');
    if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  if (halfClose) socket.end();
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`the proxy did not close the connection; got so far:\n${text}`)), 10_000))]);
  return text;
}

/** Splits what a connection received into responses: status, lowercased headers, body (chunked bodies decoded). */
function responses(text: string): { status: number; headers: Record<string, string>; body: string }[] {
  const out = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `no complete head in: ${JSON.stringify(rest)}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    rest = rest.slice(end + 4);
    const status = Number(statusLine.split(' ')[1]);
    let body = '';
    if (headers['content-length'] !== undefined) {
      body = rest.slice(0, Number(headers['content-length']));
      rest = rest.slice(body.length);
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, lineEnd), 16);
        rest = rest.slice(lineEnd + 2);
        if (size === 0) {
          rest = rest.slice(2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else if (status !== 100 && status !== 204 && status !== 304) {
      body = rest;
      rest = '';
    }
    out.push({ status, headers, body });
  }
  return out;
}

/** A backend on a raw socket, for answers node:http would never send. */
async function rawBackend(answer: (request: string, socket: Socket) => void): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => {
    let request = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      request += chunk;
      if (request.includes('\r\n\r\n')) answer(request, socket);
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, server };
}

for (const engine of ENGINES) {
  describe(`proxy HTTP/1.1 on the wire (${engine} engine)`, { timeout: 60_000 }, () => {
    let proxy: TestProxy;
    let echo: TestBackend;
    let plain: TestBackend;
    let rawOnes: Server[] = [];
    let backendConnections = 0;
    let chattyConnections = 0;
    let keptConnections = 0;
    let bigServed = 0;
    let closingConnections = 0;

    before(async () => {
      proxy = await startProxy({ engine, timeouts: { connect: 1_000, headers: 2_000, idle: 2_000, clientHeaders: 500, clientKeepAlive: 10_000 } });
      echo = await startBackend('echo-1');
      echo.server.on('connection', () => backendConnections++);
      plain = await startBackend('plain-1', (req, res) => {
        if (req.url === '/empty') return res.writeHead(204).end();
        if (req.url === '/same') return res.writeHead(304, { etag: '"x"' }).end();
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' }).end(req.method === 'HEAD' ? undefined : 'hello');
      });
      const closeDelimited = await rawBackend((_request, socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil the end'));
      const earlyHints = await rawBackend((_request, socket) => socket.write('HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
      const broken = await rawBackend((_request, socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\nok'));
      const halting = await rawBackend((_request, socket) => {
        socket.write('HTTP/1.1 200 OK\r\nx-first: 1\r\nx-sec');
        setTimeout(() => socket.write('ond: 2\r\ncontent-length: 2\r\n\r\nok'), 50);
      });
      // Answers, then sends a second response nobody asked for while its connection rests in the pool.
      const chatty = await rawBackend((_request, socket) => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        setTimeout(() => socket.writable && socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstray'), 100);
      });
      chatty.server.on('connection', () => chattyConnections++);
      // A whole response in one write, as an HTTP/1.0 server that keeps connections alive sends it.
      const kept = await rawBackend((_request, socket) =>
        socket.write('HTTP/1.0 201 Created\r\nX-Odd:  spaced\t \r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\nX-Request-Id: backend\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\n\r\nhello'),
      );
      kept.server.on('connection', () => keptConnections++);
      const closing = await rawBackend((_request, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'));
      closing.server.on('connection', () => closingConnections++);
      // After a 103 in the same write, a body that reads like a response arrives on its own.
      const lookalike = await rawBackend((_request, socket) => {
        socket.write('HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 38\r\n\r\n');
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'), 50);
      });
      const bigBody = 'b'.repeat(64_000);
      // One answer per request head, however the heads fall into reads (rawBackend answers one request per connection).
      const big = await rawBackend((request, socket) => {
        const answered = (socket as Socket & { answered?: number }).answered ?? 0;
        const heads = request.split('\r\n\r\n').length - 1;
        for (let index = answered; index < heads; index++) {
          bigServed++;
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${bigBody.length}\r\n\r\n${bigBody}`);
        }
        (socket as Socket & { answered?: number }).answered = heads;
      });
      rawOnes = [big.server, closeDelimited.server, earlyHints.server, broken.server, halting.server, chatty.server, kept.server, closing.server, lookalike.server];
      const at = (name: string, port: number) => ({ instance: name, app: name, address: '127.0.0.1', port, host: 'test', load: null });
      proxy.source.set([
        { app: 'echo', domains: ['echo.test'], backends: [echo.as('echo')] },
        { app: 'plain', domains: ['plain.test'], backends: [plain.as('plain')] },
        { app: 'eof', domains: ['eof.test'], backends: [at('eof', closeDelimited.port)] },
        { app: 'hints', domains: ['hints.test'], backends: [at('hints', earlyHints.port)] },
        { app: 'broken', domains: ['broken.test'], backends: [at('broken', broken.port)] },
        { app: 'halting', domains: ['halting.test'], backends: [at('halting', halting.port)] },
        { app: 'chatty', domains: ['chatty.test'], backends: [at('chatty', chatty.port)] },
        { app: 'big', domains: ['big.test'], backends: [at('big', big.port)] },
        { app: 'kept', domains: ['kept.test'], backends: [at('kept', kept.port)] },
        { app: 'closing', domains: ['closing.test'], backends: [at('closing', closing.port)] },
        { app: 'lookalike', domains: ['lookalike.test'], backends: [at('lookalike', lookalike.port)] },
      ]);
    });
    after(async () => {
      await proxy.close();
      await Promise.all([echo.close(), plain.close()]);
      for (const server of rawOnes) server.close();
    });

    it('answers pipelined requests in order on one connection, over few backend connections', async () => {
      const before = backendConnections;
      const requests = ['/a', '/b', '/c'].map((path, index) => `GET ${path} HTTP/1.1\r\nHost: echo.test\r\n${index === 2 ? 'Connection: close\r\n' : ''}\r\n`);
      const answers = responses(await raw(proxy.port, requests.join('')));
      assert.deepEqual(answers.map((answer) => [answer.status, JSON.parse(answer.body).url]), [[200, '/a'], [200, '/b'], [200, '/c']]);
      assert.equal(answers[2].headers.connection, 'close');
      assert.ok(backendConnections - before <= 1, `three sequential requests opened ${backendConnections - before} backend connections`);
    });

    it('serves a pipelining client that does not read only as far as the kernel takes the answers, then all of them in order', async () => {
      const count = 400;
      const socket = connect(proxy.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.pause();
      const before = bigServed;
      socket.write(Array.from({ length: count }, (_, index) => `GET /${index} HTTP/1.1\r\nHost: big.test\r\n\r\n`).join(''));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const servedWhileStalled = bigServed - before;
      // The kernel holds a few MB (tcp_wmem, the client's receive window): some tens of 64 KB answers, not 400 (25 MB).
      assert.ok(servedWhileStalled > 0 && servedWhileStalled < count / 2, `${servedWhileStalled} answers were made for a client that read none`);
      let received = 0;
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        text += chunk;
        received += chunk.length;
      });
      socket.resume();
      const expected = count * (64_000 + 'HTTP/1.1 200 OK\r\ncontent-length: 64000\r\nx-request-id: '.length);
      await waitFor(`${expected} bytes of answers`, async () => received >= expected, 30_000, 20).catch(() => undefined);
      socket.destroy();
      assert.equal(text.split('HTTP/1.1 200 OK\r\n').length - 1, count);
      assert.equal(bigServed - before, count);
    });

    it('answers every request of a client that half-closes after sending them, then closes', async () => {
      const requests = ['/x', '/y'].map((path) => `GET ${path} HTTP/1.1\r\nHost: echo.test\r\n\r\n`);
      const answers = responses(await raw(proxy.port, requests.join(''), 0, true));
      assert.deepEqual(answers.map((answer) => [answer.status, JSON.parse(answer.body).url]), [[200, '/x'], [200, '/y']]);
    });

    it('ends its side of a connection once, whichever side closes first', async () => {
      // Node's end() on a socket already ended builds an error (a stack trace) only to drop it: at every Connection: close, that was a worker's CPU.
      const original = Socket.prototype.end;
      let again = 0;
      const ended = new Set<Socket>();
      Socket.prototype.end = function (this: Socket, ...args: unknown[]) {
        if (this.localPort === proxy.port && this.writableEnded) again++;
        if (this.localPort === proxy.port) ended.add(this);
        return (original as (...all: unknown[]) => Socket).apply(this, args);
      } as typeof original;
      try {
        const close = 'GET /close HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n';
        const kept = 'GET /kept HTTP/1.1\r\nHost: echo.test\r\n\r\n';
        // The proxy ends first (Connection: close), the client answers the FIN with its own; then the client ends first (half-close).
        const answers = [...responses(await raw(proxy.port, close)), ...responses(await raw(proxy.port, kept, 0, true)), ...responses(await raw(proxy.port, close, 0, true))];
        assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200]);
        // The proxy's sockets see the client's 'end' in a later turn: wait for them to be closed before counting.
        await waitFor('the proxy to close its sockets', async () => ended.size === 3 && [...ended].every((socket) => socket.destroyed), 5_000, 10);
        assert.equal(again, 0, 'end() was called on an ended socket');
      } finally {
        Socket.prototype.end = original;
      }
    });

    it('cuts a client that half-closes in the middle of a body (its request can never be whole)', async () => {
      const text = await raw(proxy.port, 'POST /cut HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 10\r\n\r\nhalf!', 0, true);
      assert.equal(text, '');
    });

    it('passes a chunked request body whole, and reads the next request after it', async () => {
      const body = 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n';
      const text = await raw(proxy.port, [`POST /upload HTTP/1.1\r\nHost: echo.test\r\n${body.slice(0, 40)}`, body.slice(40), 'GET /after HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n'], 50);
      const [upload, next] = responses(text);
      assert.equal(upload.status, 200);
      assert.equal(JSON.parse(upload.body).body, 'hello, world');
      assert.equal(JSON.parse(upload.body).headers['transfer-encoding'], 'chunked');
      assert.equal(JSON.parse(next.body).url, '/after');
    });

    it('refuses smuggling shapes and oversized heads with 400 / 431 JSON, and closes', async () => {
      const seen = echo.seen.length;
      const both = responses(await raw(proxy.port, 'POST / HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
      assert.equal(both[0].status, 400);
      assert.equal(JSON.parse(both[0].body).error, 'bad_request');
      const twoHosts = responses(await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: echo.test\r\nHost: plain.test\r\n\r\n'));
      assert.equal(twoHosts[0].status, 400);
      assert.match(JSON.parse(twoHosts[0].body).message, /one Host header/);
      const huge = responses(await raw(proxy.port, `GET / HTTP/1.1\r\nHost: echo.test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
      assert.equal(huge[0].status, 431);
      const connectMethod = responses(await raw(proxy.port, 'CONNECT echo.test:443 HTTP/1.1\r\nHost: echo.test:443\r\n\r\n'));
      assert.equal(connectMethod[0].status, 405);
      assert.equal(echo.seen.length, seen, 'a refused request reached the backend');
    });

    it('gives HEAD, 204 and 304 no body and keeps the connection usable after them', async () => {
      const text = await raw(proxy.port, [
        'HEAD /x HTTP/1.1\r\nHost: plain.test\r\n\r\n',
        'GET /empty HTTP/1.1\r\nHost: plain.test\r\n\r\n',
        'GET /same HTTP/1.1\r\nHost: plain.test\r\n\r\n',
        'GET /x HTTP/1.1\r\nHost: plain.test\r\nConnection: close\r\n\r\n',
      ].join(''));
      const heads = text.split('\r\n\r\n');
      assert.match(heads[0], /^HTTP\/1.1 200 OK\r\n/);
      assert.match(heads[0], /content-length: 5/i, 'HEAD keeps the length the GET would have');
      assert.match(heads[1], /^HTTP\/1.1 204 /);
      assert.match(heads[2], /^HTTP\/1.1 304 /);
      assert.match(heads[3], /^HTTP\/1.1 200 OK\r\n/);
      assert.equal(heads[4], 'hello', 'the only body on the wire is the last GET\'s');
    });

    it('re-frames a body delimited by the backend closing: chunked to a 1.1 client, close-delimited to a 1.0 client', async () => {
      const [one] = responses(await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: eof.test\r\nConnection: close\r\n\r\n'));
      assert.equal(one.headers['transfer-encoding'], 'chunked');
      assert.equal(one.body, 'until the end');
      const [old] = responses(await raw(proxy.port, 'GET / HTTP/1.0\r\nHost: eof.test\r\n\r\n'));
      assert.equal(old.headers['transfer-encoding'], undefined);
      assert.equal(old.headers.connection, 'close');
      assert.equal(old.body, 'until the end');
    });

    it('answers Expect: 100-continue itself, and sends the backend the body without Expect', async () => {
      const socket = connect(proxy.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.setEncoding('latin1');
      let text = '';
      socket.on('data', (chunk: string) => (text += chunk));
      socket.write('PUT /big HTTP/1.1\r\nHost: echo.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n');
      await waitUntil(() => text.includes('\r\n\r\n'), 'the 100 Continue');
      assert.equal(text, 'HTTP/1.1 100 Continue\r\n\r\n', 'before the body, the client gets 100 Continue and nothing else');
      socket.write('data');
      await once(socket, 'close');
      const [, final] = responses(text);
      assert.equal(final.status, 200);
      assert.equal(JSON.parse(final.body).body, 'data');
      assert.equal(JSON.parse(final.body).headers.expect, undefined);
    });

    it('reads request and response heads that arrive over several reads, and heads of more than 32 headers', async () => {
      // llhttp hands over the first 32 fields of a longer head early, apart from the rest.
      const many = Array.from({ length: 40 }, (_, index) => `X-Many-${index}: ${index}\r\n`).join('');
      const [request] = responses(await raw(proxy.port, ['GET /split?q=1 HTTP/1.1\r\nHost: ech', `o.test\r\n${many}X-Sp`, 'lit: yes\r\nConnection: close\r\n\r\n'], 50));
      assert.equal(request.status, 200);
      const seen = JSON.parse(request.body);
      assert.equal(seen.url, '/split?q=1');
      assert.equal(seen.headers['x-split'], 'yes');
      assert.deepEqual([seen.headers['x-many-0'], seen.headers['x-many-39']], ['0', '39']);
      const [response] = responses(await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: halting.test\r\nConnection: close\r\n\r\n'));
      assert.deepEqual([response.status, response.headers['x-first'], response.headers['x-second'], response.body], [200, '1', '2', 'ok']);
    });

    it('closes a backend connection that sends bytes between exchanges, so they never reach the next client', async () => {
      const ask = async () => responses(await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: chatty.test\r\nConnection: close\r\n\r\n'));
      const first = await ask();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = await ask();
      assert.deepEqual([...first, ...second].map((answer) => `${answer.status} ${answer.body}`), ['200 ok', '200 ok']);
      assert.equal(chattyConnections, 2, 'the connection that spoke out of turn was reused');
    });

    it('passes a whole response as the backend wrote its lines, without hop-by-hop lines, and reuses its connection as it says', async () => {
      const request = (host: string, close = false) => `GET / HTTP/1.1\r\nHost: ${host}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
      const keptBefore = keptConnections;
      const text = await raw(proxy.port, [request('kept.test'), request('kept.test', true)], 100);
      const [first, second] = text.split('HTTP/1.1 201 Created\r\n').slice(1);
      assert.ok(first.startsWith('X-Odd:  spaced\t \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\nx-request-id: '), first);
      assert.ok(first.endsWith('\r\n\r\nhello'), first);
      assert.doesNotMatch(first, /keep-alive|backend|connection/i);
      assert.match(second, /\r\nconnection: close\r\n\r\nhello$/);
      assert.equal(keptConnections - keptBefore, 1, 'an HTTP/1.0 backend that said Keep-Alive serves both requests on one connection');

      const closingBefore = closingConnections;
      const answers = responses(await raw(proxy.port, [request('closing.test'), request('closing.test', true)], 100));
      assert.deepEqual(answers.map((answer) => [answer.status, answer.body, answer.headers.connection]), [[200, 'ok', undefined], [200, 'ok', 'close']]);
      assert.equal(closingConnections - closingBefore, 2, 'a backend that said Connection: close gets a new connection for the next request');
    });

    it('reads a body that looks like a response as body, when it comes in a later read than its head', async () => {
      const [answer] = responses(await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: lookalike.test\r\nConnection: close\r\n\r\n'));
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });

    it('drops a backend 103 Early Hints and passes the final answer', async () => {
      const answers = responses(await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: hints.test\r\nConnection: close\r\n\r\n'));
      assert.deepEqual(answers.map((answer) => [answer.status, answer.body]), [[200, 'ok']]);
    });

    it('answers a backend response that is not valid HTTP with 502 JSON', async () => {
      const [answer] = responses(await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: broken.test\r\nConnection: close\r\n\r\n'));
      assert.equal(answer.status, 502);
      assert.match(JSON.parse(answer.body).message, /bad_response/);
      assert.equal(proxy.records.at(-1)?.upstreamError, 'bad_response');
    });

    it('cuts a client whose head does not arrive within the client headers timeout with 408', async () => {
      const [answer] = responses(await raw(proxy.port, ['GET / HTTP/1.1\r\nHost: echo.test\r\n', 'X-Slow: 1\r\n'], 1_600));
      assert.equal(answer.status, 408);
    });
  });
}

async function waitUntil(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 5_000) throw new Error(`waited 5 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const engine of ENGINES) {
  describe(`proxy client keep-alive timeout (${engine} engine)`, { timeout: 30_000 }, () => {
    it('closes a client connection idle past proxy.timeouts.clientKeepAlive, not one in use', async () => {
      const proxy = await startProxy({ engine, timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 5_000, clientKeepAlive: 400 } });
      const slow = await startBackend('slow-1', (_req, res) => setTimeout(() => res.writeHead(200, { 'content-length': '2' }).end('ok'), 900));
      proxy.source.set([{ app: 'slow', domains: ['slow.test'], backends: [slow.as('slow')] }]);
      try {
        const socket = connect(proxy.port, '127.0.0.1');
        await once(socket, 'connect');
        let text = '';
        socket.setEncoding('latin1');
        socket.on('data', (chunk: string) => (text += chunk));
        const closed = once(socket, 'close');
        const started = Date.now();
        // The backend takes longer than the keep-alive timeout: waiting on it is not idleness.
        socket.write('GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n');
        await closed;
        const lived = Date.now() - started;
        assert.match(text, /^HTTP\/1.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
        assert.ok(lived >= 900 + 400 && lived < 900 + 400 + 1_500, `closed after ${lived} ms`);
      } finally {
        await proxy.close();
        await slow.close();
      }
    });
  });
}

for (const engine of ENGINES) {
  describe(`proxy client headers timeout between requests (${engine} engine)`, { timeout: 30_000 }, () => {
    it('lets a keep-alive connection idle between requests past the headers timeout (only a started head is timed)', async () => {
      const proxy = await startProxy({ engine, timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 300, clientKeepAlive: 5_000 } });
      const quick = await startBackend('quick-1', (_req, res) => res.writeHead(200, { 'content-length': '2' }).end('ok'));
      proxy.source.set([{ app: 'quick', domains: ['quick.test'], backends: [quick.as('quick')] }]);
      try {
        // Idle 900 ms after the first answer (three headers timeouts, past the sweep's grace), then ask again.
        const text = await raw(proxy.port, ['GET /1 HTTP/1.1\r\nHost: quick.test\r\n\r\n', 'GET /2 HTTP/1.1\r\nHost: quick.test\r\nConnection: close\r\n\r\n'], 900);
        assert.deepEqual(responses(text).map((answer) => `${answer.status} ${answer.body}`), ['200 ok', '200 ok']);
      } finally {
        await proxy.close();
        await quick.close();
      }
    });
  });
}

for (const engine of ENGINES) {
  describe(`proxy backend timeouts after a quiet spell (${engine} engine)`, { timeout: 30_000 }, () => {
    it('times a new backend connection from now, not from when the last one closed', async () => {
      const proxy = await startProxy({ engine, timeouts: { connect: 1_000, headers: 300, idle: 300, clientHeaders: 5_000, clientKeepAlive: 10_000 } });
      // Every answer closes its connection, so between requests no backend connection is left;
      // answers take half the headers timeout.
      const closing = await startBackend('closing-1', (_req, res) => setTimeout(() => res.writeHead(200, { 'content-length': '2', connection: 'close' }).end('ok'), 150));
      proxy.source.set([{ app: 'closing', domains: ['closing.test'], backends: [closing.as('closing')] }]);
      try {
        const ask = async () => responses(await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: closing.test\r\nConnection: close\r\n\r\n'))[0];
        assert.equal((await ask()).status, 200);
        await new Promise((resolve) => setTimeout(resolve, 800));
        const later = await ask();
        assert.equal(later.status, 200, later.body);
      } finally {
        await proxy.close();
        await closing.close();
      }
    });
  });
}

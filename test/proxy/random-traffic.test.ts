/**
 * Random traffic from outside: requests good and bad, pipelined, cut at
 * random places, over TLS and plain TCP, with clients that leave early,
 * half-close or stop reading. What it guards is the process: a fault in how
 * the engine drives Node's handles aborts it (as a second write to TLSWrap
 * before the first completed once did: `Assertion failed: !current_write_`),
 * and here the proxy runs in the test's own process, so an abort fails the
 * file. After the traffic both listeners still answer.
 */
import assert from 'node:assert/strict';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { seededRandom } from '../support/mutation.js';
import { call, ENGINES, sharedTestCa, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

const CONNECTIONS = 240;
const AT_ONCE = 40;
/** A client that waits for the server to close gives up after this long (a kept-alive connection stays open). */
const PATIENCE_MS = 150;

const PIECES = [
  'GET / HTTP/1.1\r\nHost: web.example.net\r\n\r\n',
  'GET /big HTTP/1.1\r\nHost: big.example.net\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: web.example.net\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: web.example.net\r\nConnection: close\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: web.example.net\r\nContent-Length: 5\r\n\r\nhello',
  'POST / HTTP/1.1\r\nHost: web.example.net\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: web.example.net\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
  'GET / HTTP/1.1\r\nHost: web.example.net\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: web.example.net\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: nowhere.example.org\r\n\r\n',
  'GET / HTTP/7.1\r\nHost: web.example.net\r\n\r\n',
  'GET * HTTP/1.1\r\nHost: web.example.net\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: web.example.net\r\nContent-Length: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: web.example.net\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'TRACE / HTTP/1.1\r\nHost: web.example.net\r\n\r\n',
  'BAD\r\n\r\n',
  `GET / HTTP/1.1\r\nHost: web.example.net\r\nX-Long: ${'y'.repeat(17_000)}\r\n\r\n`,
];

/** One client: some pieces, written in a few cuts with pauses, then it leaves in one of six ways. Resolves once its socket closed. */
function oneClient(port: number, secure: boolean, pick: (below: number) => number): Promise<void> {
  let bytes = '';
  for (let count = 1 + pick(4); count > 0; count--) bytes += PIECES[pick(PIECES.length)];
  const cuts = pick(4);
  const leave = pick(6);
  return new Promise((resolve) => {
    const socket: Socket = secure ? connectTls({ host: '127.0.0.1', port, servername: 'web.example.net', ca: sharedTestCa().caPem }) : connectTcp(port, '127.0.0.1');
    const patience = setTimeout(() => socket.destroy(), PATIENCE_MS);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(patience);
      resolve();
    });
    socket.once(secure ? 'secureConnect' : 'connect', async () => {
      let at = 0;
      for (let cut = 0; cut <= cuts && at < bytes.length && !socket.destroyed; cut++) {
        const end = cut === cuts ? bytes.length : at + pick(bytes.length - at + 1);
        socket.write(bytes.slice(at, end));
        at = end;
        if (pick(3) === 0) await new Promise((wait) => setTimeout(wait, pick(5)));
      }
      if (leave === 0) socket.destroy();
      else if (leave === 1) setTimeout(() => socket.destroy(), pick(20));
      else if (leave === 2) socket.end();
      else if (leave === 3) {
        socket.pause();
        setTimeout(() => socket.destroy(), 50);
      }
      // Else it waits for the server to close, or for its patience to run out.
    });
  });
}

for (const engine of ENGINES) {
  describe(`proxy under random traffic (${engine} engine)`, { timeout: 120_000 }, () => {
    let proxy: TestProxy;
    let web: TestBackend;
    let big: TestBackend;

    before(async () => {
      proxy = await startProxy({ engine, https: true });
      web = await startBackend('web-1');
      // An answer larger than one read or write: it streams, and a client that stops reading holds it up.
      const body = Buffer.alloc(300_000, 'x');
      big = await startBackend('big-1', (req, res) => {
        req.resume();
        res.end(body);
      });
      proxy.source.set([
        { app: 'web', domains: ['web.example.net'], backends: [web.as('web')] },
        { app: 'big', domains: ['big.example.net'], backends: [big.as('big')] },
      ]);
    });
    after(async () => {
      await proxy.close();
      await Promise.all([web.close(), big.close()]);
    });

    it(`lives through ${CONNECTIONS} random clients on each listener, and still answers`, async () => {
      const seed = Number(process.env.DOZEN_TEST_SEED ?? Date.now() % 1_000_000);
      // A failure names its seed, and the same seed replays the same traffic.
      const next = seededRandom(seed);
      const pick = (below: number) => Math.floor(next() * below);
      for (const [listener, port, secure] of [['TLS', proxy.port, true], ['plain', proxy.plainPort, false]] as const) {
        for (let started = 0; started < CONNECTIONS; started += AT_ONCE) {
          await Promise.all(Array.from({ length: AT_ONCE }, () => oneClient(port, secure, pick)));
        }
        const answer = await call(port, 'web.example.net', '/after');
        assert.equal(answer.status, 200, `${listener} listener after the traffic (DOZEN_TEST_SEED=${seed} replays it)`);
      }
    });
  });
}

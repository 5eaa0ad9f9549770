import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { newApiKey } from '../../src/proxy/auth/api-key.js';
import { ENGINES, startProxy, type TestProxy } from './helpers.js';
import { RawClient, startRecordingBackend, type RecordingBackend } from './recording-backend.js';

const SECRET = 'a-long-enough-hs256-secret-for-tests';

/** Issue #12: what an attacker tried from outside, each over raw sockets, against a backend that records every byte it gets. */
for (const engine of ENGINES) {
  describe(`proxy wire security (${engine} engine)`, { timeout: 90_000 }, () => {
    let proxy: TestProxy;
    let backend: RecordingBackend;
    let other: RecordingBackend;
    /** Answers every handshake with 200 (no switch), or 101 to a protocol nobody asked for on /wrong. */
    let refusing: RecordingBackend;
    const key = newApiKey();
    let readToken: string;

    before(async () => {
      proxy = await startProxy({ engine, upstreamConnections: 2, upstreamMaxConnections: 2 });
      backend = await startRecordingBackend();
      other = await startRecordingBackend();
      refusing = await startRecordingBackend((message, socket) => {
        if (message.url === '/wrong') socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n');
        // As an h2c-capable backend (Go's h2c handler, say) answers an h2c upgrade.
        else if (message.url === '/h2c' && message.header('upgrade')) socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n');
        else return false;
        return true;
      });
      const at = (name: string, port: number) => ({ instance: name, app: name, address: '127.0.0.1', port, host: 'test', load: null });
      proxy.source.set([
        { app: 'smug', domains: ['smug.test'], backends: [at('smug', backend.port)] },
        { app: 'other', domains: ['other.test'], backends: [at('other', other.port)] },
        { app: 'ws', domains: ['ws.test'], backends: [at('ws', refusing.port)] },
        { app: 'scoped', domains: ['scoped.test'], backends: [at('scoped', backend.port)] },
        { app: 'exact', domains: ['exact.test'], backends: [at('exact', backend.port)] },
      ]);
      proxy.policies({
        ws: { auth: 'api-key', keys: [{ id: 'k', digest: key.digest }] },
        scoped: { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET, scopes: { '/admin': ['admin'] } } },
        exact: { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET, scopes: { '/admin': ['admin'] }, exactCase: true } },
      });
      readToken = await new SignJWT({ scope: 'read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('reader').setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
    });
    after(async () => {
      await proxy.close();
      await Promise.all([backend.close(), other.close(), refusing.close()]);
    });

    /** Sends `bytes` on a new connection and reads `count` responses. */
    async function exchange(bytes: string, count = 1): Promise<{ client: RawClient; answers: (Awaited<ReturnType<RawClient['next']>>)[] }> {
      const client = await RawClient.open(proxy.port);
      client.send(bytes);
      const answers = [];
      for (let index = 0; index < count; index++) answers.push(await client.next());
      return { client, answers };
    }

    const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: smug.test\r\n\r\n';
    const attack = (connectionList: string) =>
      `POST /attack HTTP/1.1\r\nHost: smug.test\r\nConnection: ${connectionList}\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`;

    it('a Connection header naming Content-Length, Transfer-Encoding or Host removes none of them: the body stays a body', async () => {
      const before = backend.messages.length;
      const { client, answers } = await exchange(attack('keep-alive, Content-Length'));
      assert.equal(answers[0]?.status, 200);
      assert.equal(JSON.parse(answers[0]!.body).url, '/attack');
      const chunked = `POST /chunked HTTP/1.1\r\nHost: smug.test\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
      client.send(chunked);
      assert.equal((await client.next())?.status, 200);
      client.send('GET /named-host HTTP/1.1\r\nHost: smug.test\r\nConnection: Host\r\n\r\n');
      assert.equal((await client.next())?.status, 200);
      client.close();
      const seen = backend.messages.slice(before);
      assert.deepEqual(seen.map((message) => [message.method, message.url, message.body.length]), [['POST', '/attack', SMUGGLED.length], ['POST', '/chunked', SMUGGLED.length], ['GET', '/named-host', 0]], backend.text());
      assert.equal(seen[2].header('host'), 'smug.test');
      assert.ok(!backend.messages.some((message) => message.url === '/smuggled'), 'the body ran as a request at the backend');
    });

    it('one attacker behind a shared backend pool: every victim gets its own answer and the smuggled request never runs', async () => {
      const before = backend.messages.length;
      const victims = await Promise.all(Array.from({ length: 8 }, () => RawClient.open(proxy.port)));
      const attacker = await RawClient.open(proxy.port);
      const rounds = 5;
      for (let round = 0; round < rounds; round++) {
        attacker.send(attack('keep-alive, Content-Length'));
        victims.forEach((victim, index) => victim.send(`GET /victim-${index}-${round} HTTP/1.1\r\nHost: smug.test\r\nAuthorization: Bearer victim-${index}\r\n\r\n`));
        const answers = await Promise.all(victims.map((victim) => victim.next()));
        answers.forEach((answer, index) => {
          assert.equal(answer?.status, 200, `victim ${index} round ${round}`);
          assert.equal(JSON.parse(answer!.body).url, `/victim-${index}-${round}`, `victim ${index} got another's answer in round ${round}`);
        });
        const mine = await attacker.next();
        assert.equal(JSON.parse(mine!.body).url, '/attack');
      }
      for (const client of [...victims, attacker]) client.close();
      const urls = backend.messages.slice(before).map((message) => message.url);
      assert.ok(!urls.includes('/smuggled'), `the backend ran a smuggled request: ${urls.join(' ')}`);
      assert.equal(urls.length, rounds * 9);
    });

    it('a failed Upgrade is answered as a response and the connection stays HTTP: the next request is parsed, authenticated and logged', async () => {
      const before = refusing.messages.length;
      const records = proxy.records.length;
      const client = await RawClient.open(proxy.port);
      client.send(
        `GET /chat HTTP/1.1\r\nHost: ws.test\r\nX-Api-Key: ${key.key}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n` +
          'GET /admin/secrets HTTP/1.1\r\nHost: ws.test\r\nX-Dozen-Subject: root\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n',
      );
      const handshake = await client.next();
      assert.equal(handshake?.status, 200, 'the backend did not switch: the client gets its 200');
      const next = await client.next();
      assert.equal(next?.status, 401, 'the request after a failed upgrade skipped authentication');
      client.send(`GET /after HTTP/1.1\r\nHost: ws.test\r\nX-Api-Key: ${key.key}\r\nX-Dozen-Subject: root\r\n\r\n`);
      assert.equal((await client.next())?.status, 200);
      client.close();
      const seen = refusing.messages.slice(before);
      assert.deepEqual(seen.map((message) => message.url), ['/chat', '/after'], refusing.text());
      assert.equal(seen[1].header('x-dozen-subject'), 'api-key:k');
      assert.equal(seen[1].header('x-forwarded-for'), '127.0.0.1');
      assert.deepEqual(proxy.records.slice(records).map((record) => [record.path, record.status]), [['/chat', 200], ['/admin/secrets', 401], ['/after', 200]]);
    });

    it('a 101 to a protocol the client did not ask for is 502, and no tunnel opens', async () => {
      const client = await RawClient.open(proxy.port);
      client.send(`GET /wrong HTTP/1.1\r\nHost: ws.test\r\nX-Api-Key: ${key.key}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
      assert.equal((await client.next())?.status, 502);
      client.send('GET /after-wrong HTTP/1.1\r\nHost: ws.test\r\n\r\n');
      assert.equal((await client.next())?.status, 401);
      client.close();
    });

    it('passes no Upgrade but WebSocket: an h2c upgrade goes on as a plain request, so no HTTP/2 reaches the backend past the proxy', async () => {
      const before = refusing.messages.length;
      const client = await RawClient.open(proxy.port);
      client.send(
        `GET /h2c HTTP/1.1\r\nHost: ws.test\r\nX-Api-Key: ${key.key}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n` +
          'GET /admin/secrets HTTP/1.1\r\nHost: ws.test\r\n\r\n',
      );
      assert.equal((await client.next())?.status, 200, 'the backend switched to h2c behind the proxy');
      assert.equal((await client.next())?.status, 401, 'the request after the h2c upgrade skipped authentication');
      client.close();
      const seen = refusing.messages.slice(before);
      assert.deepEqual(seen.map((message) => message.url), ['/h2c'], refusing.text());
      assert.equal(seen[0].header('upgrade'), undefined);
      assert.equal(seen[0].header('http2-settings'), undefined);
      // Asking for WebSocket beside h2c does not make a switch to h2c acceptable.
      const both = await RawClient.open(proxy.port);
      both.send(`GET /h2c HTTP/1.1\r\nHost: ws.test\r\nX-Api-Key: ${key.key}\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n`);
      assert.equal((await both.next())?.status, 502, 'the backend switched to h2c behind the proxy');
      both.close();
    });

    it('refuses TRACE with 405, as nginx does, before routing: nothing reaches the backend to echo', async () => {
      const before = backend.messages.length;
      const { client, answers } = await exchange('TRACE / HTTP/1.1\r\nHost: smug.test\r\nCookie: session=secret\r\n\r\nGET /after-trace HTTP/1.1\r\nHost: smug.test\r\n\r\n', 2);
      client.close();
      assert.equal(answers[0]?.status, 405);
      assert.deepEqual(JSON.parse(answers[0]!.body), { error: 'method_not_allowed', message: 'this proxy does not pass TRACE requests' });
      assert.equal(answers[1]?.status, 200, 'the connection goes on after the refusal');
      assert.deepEqual(backend.messages.slice(before).map((message) => message.url), ['/after-trace']);
    });

    it('refuses an Upgrade request with a body: 400, and nothing of it reaches the backend', async () => {
      const received = Buffer.concat(refusing.bytes.flat()).length;
      const { client, answers } = await exchange(`POST /chat HTTP/1.1\r\nHost: ws.test\r\nX-Api-Key: ${key.key}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`);
      assert.equal(answers[0]?.status, 400);
      await client.closed();
      assert.equal(Buffer.concat(refusing.bytes.flat()).length, received, 'a byte of the refused handshake reached the backend');
    });

    it('checks JWT scopes on the path as a backend reads it, refuses targets that cannot be normalised, and forwards what it checked', async () => {
      const before = backend.messages.length;
      const auth = `Authorization: Bearer ${readToken}\r\n`;
      for (const target of ['/admin', '/ADMIN', '/Admin', 'http://scoped.test/admin', '//admin', '/./admin', '/x/../admin', '/%61dmin', '/%2E%2E/admin']) {
        const { client, answers } = await exchange(`GET ${target} HTTP/1.1\r\nHost: scoped.test\r\n${auth}\r\n`);
        assert.equal(answers[0]?.status, 403, `${target} passed the scope check`);
        client.close();
      }
      // A literal backslash: WHATWG URL parsers (Node's `new URL`, browsers' routers) read `/x\..\admin` as `/admin`.
      for (const target of ['/a%2fdmin', '/x%2F..%2Fadmin', '/x%00', '/x\\..\\admin/users', '/x/..\\admin/users', 'http://scoped.test/x\\..\\admin']) {
        const { client, answers } = await exchange(`GET ${target} HTTP/1.1\r\nHost: scoped.test\r\n${auth}\r\n`);
        assert.equal(answers[0]?.status, 400, target);
        client.close();
      }
      assert.equal(backend.messages.length, before, 'a refused target reached the backend');
      const { client, answers } = await exchange(`GET /x/..//public/./page?q=/../admin HTTP/1.1\r\nHost: scoped.test\r\n${auth}\r\n`);
      assert.equal(answers[0]?.status, 200);
      client.close();
      assert.equal(backend.messages.at(-1)?.url, '/public/page?q=/../admin');
      // An app whose backend tells case apart asks for exact case: /ADMIN is then not under /admin.
      const exact = await exchange(`GET /ADMIN HTTP/1.1\r\nHost: exact.test\r\n${auth}\r\n`);
      assert.equal(exact.answers[0]?.status, 200);
      exact.client.close();
      const lower = await exchange(`GET /x/../admin HTTP/1.1\r\nHost: exact.test\r\n${auth}\r\n`);
      assert.equal(lower.answers[0]?.status, 403);
      lower.client.close();
    });

    it('routes an absolute-form target by its authority and sends origin form on', async () => {
      const before = other.messages.length;
      const { client, answers } = await exchange('GET http://other.test/abs?x=1 HTTP/1.1\r\nHost: smug.test\r\n\r\n');
      assert.equal(answers[0]?.status, 200);
      client.close();
      const seen = other.messages.slice(before);
      assert.equal(seen.length, 1, 'the absolute-form target went to the app its Host names');
      assert.equal(seen[0].url, '/abs?x=1');
      assert.equal(seen[0].header('host'), 'other.test');
    });

    it('drops a chunked request trailer: nothing of it reaches the next request', async () => {
      const before = backend.messages.length;
      const { client, answers } = await exchange(
        'POST /public HTTP/1.1\r\nHost: smug.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: leaked\r\n\r\n' + 'GET /admin HTTP/1.1\r\nHost: smug.test\r\n\r\n',
        2,
      );
      assert.deepEqual(answers.map((answer) => JSON.parse(answer!.body).url), ['/public', '/admin']);
      client.close();
      const seen = backend.messages.slice(before);
      assert.deepEqual(seen.map((message) => [message.url, message.body.toString()]), [['/public', 'abc'], ['/admin', '']]);
      assert.equal(seen[1].header('x-trailer'), undefined);
      assert.doesNotMatch(backend.text(), /leaked/);
    });

    it('answers a good request, then 400 for a malformed one that followed in the same read, and closes', async () => {
      const client = await RawClient.open(proxy.port);
      client.send('GET /first HTTP/1.1\r\nHost: smug.test\r\n\r\nGET /x HTTP/1.1\r\nHost: smug.test\r\nbad line\r\n\r\n');
      const first = await client.next();
      assert.equal(first?.status, 200);
      assert.equal(JSON.parse(first!.body).url, '/first');
      assert.equal((await client.next())?.status, 400);
      await client.closed();
    });

    it('refuses Transfer-Encoding it cannot forward before any byte reaches the backend, and answers a malformed chunked body with 400', async () => {
      for (const coding of ['xchunked', 'identity', 'chunked, gzip', 'chunked, chunked', 'foo, chunked']) {
        const received = Buffer.concat(backend.bytes.flat()).length;
        const { client, answers } = await exchange(`POST /te HTTP/1.1\r\nHost: smug.test\r\nTransfer-Encoding: ${coding}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
        assert.equal(answers[0]?.status, 400, coding);
        await client.closed();
        assert.equal(Buffer.concat(backend.bytes.flat()).length, received, `a head for ${coding} reached the backend`);
      }
      const { client, answers } = await exchange('POST /bad-chunk HTTP/1.1\r\nHost: smug.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n');
      assert.equal(answers[0]?.status, 400, 'a malformed chunk got no answer');
      await client.closed();
    });

    it('keeps the gzip coding of Transfer-Encoding: gzip, chunked', async () => {
      const before = backend.messages.length;
      const { client, answers } = await exchange('POST /gz HTTP/1.1\r\nHost: smug.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /after-gz HTTP/1.1\r\nHost: smug.test\r\n\r\n');
      assert.equal(answers[0]?.status, 200);
      client.close();
      assert.equal(backend.messages[before].header('transfer-encoding'), 'gzip, chunked');
    });

    it('answers an HTTP/1.1 request without a Host, or with an empty one, and any with a Host that is not a host[:port], with 400', async () => {
      const notHosts = ['evil@smug.test', 'smug.test x', 'smug.test/admin', 'smug.test:80:80', 'smug.test:8o'];
      for (const head of ['GET / HTTP/1.1\r\n\r\n', 'GET / HTTP/1.1\r\nHost:\r\n\r\n', 'GET http://smug.test/ HTTP/1.1\r\n\r\n', ...notHosts.map((host) => `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`), 'GET / HTTP/1.0\r\nHost: a b\r\n\r\n']) {
        const { client, answers } = await exchange(head);
        assert.equal(answers[0]?.status, 400, JSON.stringify(head));
        assert.equal(answers[0]?.headers['content-type'], 'application/json');
        client.close();
      }
      for (const host of ['smug.test', 'SMUG.test.', 'smug.test:8080', '127.0.0.1:8080', '[::1]:8080', 'xn--bcher-kva.example']) {
        const { client, answers } = await exchange(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        assert.notEqual(answers[0]?.status, 400, host);
        client.close();
      }
    });

    it('answers a version other than HTTP/1.0 and 1.1 with 505 and the target * on anything but OPTIONS with 400, and passes OPTIONS *', async () => {
      const before = backend.messages.length;
      for (const [head, status] of [
        ['GET / HTTP/2.0\r\nHost: smug.test\r\n\r\n', 505],
        ['GET / HTTP/3.1\r\nHost: smug.test\r\n\r\n', 505],
        ['GET / HTTP/0.9\r\nHost: smug.test\r\n\r\n', 505],
        ['GET / HTTP/1.2\r\nHost: smug.test\r\n\r\n', 505],
        ['GET * HTTP/1.1\r\nHost: smug.test\r\n\r\n', 400],
        ['DELETE * HTTP/1.1\r\nHost: smug.test\r\n\r\n', 400],
      ] as const) {
        const { client, answers } = await exchange(head);
        assert.equal(answers[0]?.status, status, JSON.stringify(head));
        assert.equal(answers[0]?.headers['content-type'], 'application/json');
        client.close();
      }
      assert.equal(backend.messages.length, before, 'a refused request reached the backend');
      for (const head of ['OPTIONS * HTTP/1.1\r\nHost: smug.test\r\n\r\n', 'GET /one-oh HTTP/1.0\r\nHost: smug.test\r\n\r\n']) {
        const { client, answers } = await exchange(head);
        assert.equal(answers[0]?.status, 200, JSON.stringify(head));
        client.close();
      }
      assert.deepEqual(backend.messages.slice(before).map((message) => message.url), ['*', '/one-oh']);
    });

    it('drops underscore spellings of the headers the proxy sets or forbids', async () => {
      const before = backend.messages.length;
      const { client, answers } = await exchange('GET /under HTTP/1.1\r\nHost: smug.test\r\nX_Dozen_Subject: root\r\nTransfer_Encoding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\nX_Custom: kept\r\n\r\n');
      assert.equal(answers[0]?.status, 200);
      client.close();
      const names = backend.messages[before].headers.filter((_, index) => index % 2 === 0);
      assert.deepEqual(names.filter((name) => name.includes('_')), ['X_Custom']);
    });
  });
}

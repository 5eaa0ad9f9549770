import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, ENGINES, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

// Each suite runs on the plain listener and again over TLS (SNI from the Host, the shared test CA's certificate).
for (const [engine, tls] of ENGINES.flatMap((engine) => [[engine, false], [engine, true]] as const)) {
  describe(`proxy routing by Host (${engine} engine${tls ? ', over TLS' : ''})`, { timeout: 30_000 }, () => {
    let proxy: TestProxy;
    let chat: TestBackend;
    let shop: TestBackend;
    let tenants: TestBackend;

    before(async () => {
      proxy = await startProxy({ engine, https: tls });
      chat = await startBackend('chat-1');
      shop = await startBackend('shop-1');
      tenants = await startBackend('tenants-1');
      proxy.source.set([
        { app: 'chat', domains: ['chat.app.example.net'], backends: [chat.as('chat')] },
        { app: 'shop', domains: ['shop.example.net', 'www.shop.example.net'], backends: [shop.as('shop')] },
        { app: 'tenants', domains: ['*.tenants.example.net'], backends: [tenants.as('tenants')] },
        { app: 'stopped', domains: ['stopped.example.net'], backends: [] },
      ]);
    });
    after(async () => {
      await proxy.close();
      await Promise.all([chat.close(), shop.close(), tenants.close()]);
    });

    it('sends an exact host to its app, whatever the case, port or trailing dot', async () => {
      for (const host of ['chat.app.example.net', 'CHAT.app.Example.net:8080', 'chat.app.example.net.']) {
        const answer = await call(proxy.port, host, '/rooms?x=1');
        assert.equal(answer.status, 200, answer.text);
        assert.equal(answer.json().backend, 'chat-1');
        assert.equal(answer.json().url, '/rooms?x=1');
      }
      assert.equal((await call(proxy.port, 'www.shop.example.net')).json().backend, 'shop-1');
    });

    it('sends any one-label subdomain to a wildcard app, but not two labels deep', async () => {
      const one = await call(proxy.port, 'acme.tenants.example.net');
      assert.equal(one.status, 200, one.text);
      assert.equal(one.json().backend, 'tenants-1');
      const two = await call(proxy.port, 'a.acme.tenants.example.net');
      assert.equal(two.status, 404, two.text);
      const bare = await call(proxy.port, 'tenants.example.net');
      assert.equal(bare.status, 404, bare.text);
    });

    it('answers an unknown host with 404 JSON', async () => {
      const answer = await call(proxy.port, 'nobody.example.org');
      assert.equal(answer.status, 404);
      assert.match(answer.headers['content-type'] ?? '', /application\/json/);
      assert.deepEqual(answer.json(), { error: 'not_found', message: 'no app serves the host "nobody.example.org"' });
    });

    it('answers an app without healthy instances with 503 JSON and Retry-After', async () => {
      const answer = await call(proxy.port, 'stopped.example.net');
      assert.equal(answer.status, 503);
      assert.equal(answer.headers['retry-after'], '5');
      assert.deepEqual(answer.json(), { error: 'unavailable', message: 'stopped has no healthy instance right now' });
    });

    it('keeps Host, sets X-Forwarded-* and X-Request-Id, and drops hop-by-hop and client-set identity headers', async () => {
      const answer = await call(proxy.port, 'chat.app.example.net', '/who', {
        headers: {
          'x-dozen-subject': 'admin',
          'x-dozen-scopes': 'everything',
          'x-forwarded-for': '6.6.6.6',
          'x-forwarded-proto': tls ? 'http' : 'https',
          connection: 'keep-alive, x-secret-hop',
          'x-secret-hop': 'do not forward',
          'proxy-authorization': 'Basic abc',
          'x-custom': 'kept',
        },
      });
      assert.equal(answer.status, 200, answer.text);
      const seen = answer.json().headers;
      assert.equal(seen.host, 'chat.app.example.net');
      assert.equal(seen['x-forwarded-for'], '127.0.0.1', 'an untrusted peer cannot add to X-Forwarded-For');
      assert.equal(seen['x-forwarded-proto'], tls ? 'https' : 'http');
      assert.equal(seen['x-forwarded-host'], 'chat.app.example.net');
      assert.match(seen['x-request-id'], /^[0-9a-f-]{36}$/);
      assert.equal(answer.headers['x-request-id'], seen['x-request-id']);
      assert.equal(seen['x-dozen-subject'], undefined);
      assert.equal(seen['x-dozen-scopes'], undefined);
      assert.equal(seen['x-secret-hop'], undefined);
      assert.equal(seen['proxy-authorization'], undefined);
      assert.equal(seen['x-custom'], 'kept');
      assert.equal(answer.headers['proxy-authenticate'], undefined, 'hop-by-hop response headers are dropped');
      assert.equal(answer.headers['x-backend'], 'chat-1');
    });

    it('keeps a client X-Request-Id that is a plain token', async () => {
      const answer = await call(proxy.port, 'chat.app.example.net', '/', { headers: { 'x-request-id': 'trace-42' } });
      assert.equal(answer.json().headers['x-request-id'], 'trace-42');
      assert.equal(answer.headers['x-request-id'], 'trace-42');
    });

    it('follows a route change at once: a new domain appears, a drained instance gets no more requests', async () => {
      const next = await startBackend('chat-2');
      try {
        proxy.source.set([
          { app: 'chat', domains: ['chat.app.example.net', 'talk.example.net'], backends: [next.as('chat')] },
          { app: 'shop', domains: ['shop.example.net'], backends: [shop.as('shop')] },
        ]);
        const moved = await call(proxy.port, 'talk.example.net');
        assert.equal(moved.status, 200, moved.text);
        assert.equal(moved.json().backend, 'chat-2');
        const before = chat.seen.length;
        for (let index = 0; index < 10; index++) assert.equal((await call(proxy.port, 'chat.app.example.net')).json().backend, 'chat-2');
        assert.equal(chat.seen.length, before, 'the drained instance saw a request after it left the table');
        assert.equal((await call(proxy.port, 'www.shop.example.net')).status, 404);
      } finally {
        await next.close();
      }
    });
  });
}

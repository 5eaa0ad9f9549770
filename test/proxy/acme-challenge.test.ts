import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CertificateBook } from '../../src/proxy/tls/certificate-book.js';
import { BadCertificate } from '../../src/proxy/tls/pem.js';
import type { ToWorker } from '../../src/proxy/worker-messages.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';
import { call, ENGINES, forkWorker, startBackend, startProxy, type ForkedWorker, type TestBackend, type TestProxy } from './helpers.js';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

for (const engine of ENGINES) {
  describe(`ACME HTTP-01 answers on the plain listener (${engine} engine)`, { timeout: 30_000 }, () => {
    let proxy: TestProxy;
    let backend: TestBackend;
    const book = new CertificateBook();

    before(async () => {
      proxy = await startProxy({ engine });
      book.watch((change) => proxy.server.applyCertificates(change));
      backend = await startBackend('chat-1');
      proxy.source.set([{ app: 'chat', domains: ['chat.example.net'], backends: [backend.as('chat')] }]);
      // Auth on the app must not stand in the CA's way.
      proxy.policies({ chat: { auth: 'api-key' } });
    });
    after(async () => {
      await proxy.close();
      await backend.close();
    });

    it('answers a pending token with its key authorization, for a routed host and for a host no app serves', async () => {
      book.putChallenge(TOKEN, KEY_AUTHORIZATION);
      for (const host of ['chat.example.net', 'not-yet-routed.example.org']) {
        const answer = await call(proxy.port, host, `/.well-known/acme-challenge/${TOKEN}`);
        assert.equal(answer.status, 200, answer.text);
        assert.equal(answer.text, KEY_AUTHORIZATION);
        assert.match(answer.headers['content-type'] ?? '', /^text\/plain/);
      }
      assert.equal(backend.seen.length, 0, 'the challenge never reaches a backend');
    });

    it('answers 404 JSON for an unknown token, and for a token once removed', async () => {
      const unknown = await call(proxy.port, 'chat.example.net', '/.well-known/acme-challenge/nope');
      assert.equal(unknown.status, 404);
      assert.deepEqual(unknown.json(), { error: 'not_found', message: 'no ACME challenge is pending for this token' });
      book.removeChallenge(TOKEN);
      const removed = await call(proxy.port, 'chat.example.net', `/.well-known/acme-challenge/${TOKEN}`);
      assert.equal(removed.status, 404);
      // Everything else still goes through routing and the app's auth.
      assert.equal((await call(proxy.port, 'chat.example.net', '/rooms')).status, 401);
    });
  });
}

describe('the certificate book reaches a proxy worker over IPC', { timeout: 30_000 }, () => {
  let worker: ForkedWorker;
  let ca: TestCa;
  const book = new CertificateBook();

  before(async () => {
    ca = makeTestCa();
    // Held before the worker starts: the worker gets the book's replay, then every change.
    book.putChallenge('early', 'early.key-authorization');
    worker = await forkWorker();
    worker.send({ type: 'certificates', changes: book.replay() } satisfies ToWorker);
    book.watch((change) => worker.send({ type: 'certificates', changes: [change] } satisfies ToWorker));
  });
  after(async () => {
    await worker.close();
    ca.remove();
  });

  it('answers challenges put before and after the worker started', async () => {
    book.putChallenge('late', 'late.key-authorization');
    assert.equal((await call(worker.port, 'a.example.net', '/.well-known/acme-challenge/early')).text, 'early.key-authorization');
    assert.equal((await call(worker.port, 'a.example.net', '/.well-known/acme-challenge/late')).text, 'late.key-authorization');
    book.removeChallenge('early');
    assert.equal((await call(worker.port, 'a.example.net', '/.well-known/acme-challenge/early')).status, 404);
  });

  it('lists certificates by domain and refuses a key that is not the certificate\'s', () => {
    const chat = ca.issue(['chat.example.net', 'www.chat.example.net']);
    const other = ca.issue(['other.example.net']);
    assert.throws(() => book.put({ domains: ['chat.example.net'], certPem: chat.certPem, keyPem: other.keyPem, source: 'files' }), (error: unknown) => error instanceof BadCertificate && /does not match/.test(error.message));
    assert.throws(() => book.put({ domains: ['chat.example.net'], certPem: 'hello', keyPem: chat.keyPem, source: 'files' }), BadCertificate);
    book.put({ domains: ['chat.example.net', 'WWW.chat.example.net.'], certPem: chat.certPem, keyPem: chat.keyPem, source: 'files' });
    book.setError('shop.example.net', 'the CA refused: rateLimited');
    const list = book.list();
    assert.deepEqual(list.map((info) => [info.domain, info.issuer, info.source, info.lastError]), [
      ['chat.example.net', 'dozen test CA', 'files', null],
      ['shop.example.net', null, 'acme', 'the CA refused: rateLimited'],
      ['www.chat.example.net', 'dozen test CA', 'files', null],
    ]);
    assert.ok(Date.parse(list[0].notAfter!) > Date.now() + 29 * 86_400_000);
    // A later put for one of the names takes only that name; the replay says so.
    book.put({ domains: ['www.chat.example.net'], certPem: other.certPem, keyPem: other.keyPem, source: 'acme' });
    const puts = book.replay().filter((change) => change.kind === 'put');
    assert.deepEqual(puts.map((change) => change.kind === 'put' && change.entry.domains), [['chat.example.net'], ['www.chat.example.net']]);
  });
});

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { freePort } from '../support/ports.js';
import { acmeEnv, curlHttps, pemFile, registerApp, waitForCertificates } from './acme-helpers.js';
import { startBackend, type TestBackend } from './helpers.js';

/**
 * `proxy.tls.acme.challenge: tls-alpn-01` against pebble: the CA validates with a TLS handshake
 * offering `acme-tls/1` on the port it was told (pebble's tlsPort), where dozen's TLS listener is;
 * port 80 (pebble's httpPort) is held by a listener that records and refuses, so HTTP-01 could not
 * have passed.
 */
describe('certificates over ACME with TLS-ALPN-01 (RFC 8737), from pebble', { timeout: 180_000 }, () => {
  let pebble: Pebble;
  let dozen: DozenProcess;
  let backend: TestBackend;
  const stops: (() => void)[] = [];
  const httpProbes: string[] = [];
  const closeHttp: (() => void)[] = [];

  before(async () => {
    pebble = await startPebble();
    backend = await startBackend('alpn-1');
    // Whatever asks on pebble's HTTP-01 port is noted and cut: no HTTP-01 validation can pass.
    const http = createServer((socket) => {
      socket.once('data', (chunk: Buffer) => httpProbes.push(chunk.toString('latin1').split('\r\n')[0]));
      socket.destroy();
    });
    await new Promise<void>((resolve) => http.listen(pebble.httpPort, '127.0.0.1', resolve));
    closeHttp.push(() => http.close());
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'proxy,registry',
        DOZEN_PROXY_WORKERS: '2',
        DOZEN_PROXY_LISTEN_PORT: String(await freePort()),
        DOZEN_PROXY_TLS_LISTEN_HOST: '127.0.0.1',
        DOZEN_PROXY_TLS_LISTEN_PORT: String(pebble.tlsPort),
        ...acmeEnv(pebble, { DOZEN_PROXY_TLS_ACME_CHALLENGE: 'tls-alpn-01' }),
      },
    });
  });
  after(async () => {
    for (const stop of stops) stop();
    await dozen?.stop();
    for (const close of closeHttp) close();
    await backend?.close();
    await pebble?.stop();
  });

  it('an app\'s two domains get certificates validated at the TLS listener, and curl loads the app over HTTPS', async () => {
    const domains = ['alpn.acme.test', 'www.alpn.acme.test'];
    stops.push(await registerApp(dozen, 'alpn', backend.port, domains));
    const rows = await waitForCertificates(dozen, domains, pebble.tlsPort, pebble.rootCaPem, 90_000);
    assert.deepEqual(rows.map((row) => [row.domain, row.failures, row.lastError]).sort(), domains.map((domain) => [domain, 0, null]).sort());
    assert.deepEqual(httpProbes, [], 'pebble must not have validated over HTTP-01');
    const rootFile = pemFile(pebble.rootCaPem);
    for (const domain of domains) {
      const answer = await curlHttps(domain, pebble.tlsPort, '/over-alpn', rootFile);
      assert.equal(answer.status, 200, answer.body);
      assert.equal((JSON.parse(answer.body) as { backend: string }).backend, 'alpn-1');
    }
  });

  it('a bad challenge setting is a config error naming it', async () => {
    const bad = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_TLS_LISTEN_PORT: String(await freePort()), ...acmeEnv(pebble, { DOZEN_PROXY_TLS_ACME_CHALLENGE: 'dns-01' }) } }).then(
      () => assert.fail('dozen started with challenge dns-01'),
      (error: Error) => error.message,
    );
    assert.match(bad, /^dozen: bad config: proxy\.tls\.acme\.challenge = "dns-01": expected http-01 or tls-alpn-01$/m);
  });
});

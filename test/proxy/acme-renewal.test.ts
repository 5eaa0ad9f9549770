import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { freePort, waitFor } from '../support/ports.js';
import { acmeEnv, peerCertificate, registerApp, waitForCertificates } from './acme-helpers.js';
import { startBackend, type TestBackend } from './helpers.js';

/** GET https://<domain>/ at 127.0.0.1:`port`, trusting `ca`; resolves with the status. */
function get(port: number, domain: string, ca: string, agent: Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername: domain, headers: { host: domain }, path: '/', ca, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('renewal over ACME', { timeout: 180_000 }, () => {
  let pebble: Pebble;
  let dozen: DozenProcess;
  let backend: TestBackend;
  let tlsPort: number;
  let stopBeats: () => void = () => {};

  before(async () => {
    // A pebble of this file's own whose certificates live 30 s: renewal is due when a third is left, 20 s after issue.
    pebble = await startPebble({ certificateValiditySeconds: 30 });
    backend = await startBackend('news-1');
    tlsPort = await freePort();
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'proxy,registry',
        DOZEN_PROXY_WORKERS: '2',
        DOZEN_PROXY_LISTEN_PORT: String(pebble.httpPort),
        DOZEN_PROXY_TLS_LISTEN_HOST: '127.0.0.1',
        DOZEN_PROXY_TLS_LISTEN_PORT: String(tlsPort),
        ...acmeEnv(pebble),
      },
    });
  });
  after(async () => {
    stopBeats();
    await dozen?.stop();
    await backend?.close();
    await pebble?.stop();
  });

  it('a certificate near its end is renewed, and no request fails meanwhile, on kept-alive or new connections', async (t) => {
    const domain = 'news.acme.test';
    stopBeats = await registerApp(dozen, 'news', backend.port, [domain]);
    await waitForCertificates(dozen, [domain], tlsPort, pebble.rootCaPem);
    const first = await peerCertificate(tlsPort, domain, pebble.rootCaPem);

    const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 });
    const statuses = new Map<number, number>();
    const errors: string[] = [];
    let renewed: Awaited<ReturnType<typeof peerCertificate>> | undefined;
    try {
      renewed = await waitFor('the renewed certificate', async () => {
        // Each round: two requests on kept-alive connections and one on a new handshake.
        const results = await Promise.allSettled([get(tlsPort, domain, pebble.rootCaPem, keepAlive), get(tlsPort, domain, pebble.rootCaPem, keepAlive), get(tlsPort, domain, pebble.rootCaPem, false)]);
        for (const result of results) {
          if (result.status === 'fulfilled') statuses.set(result.value, (statuses.get(result.value) ?? 0) + 1);
          else errors.push((result.reason as Error).message);
        }
        const now = await peerCertificate(tlsPort, domain, pebble.rootCaPem);
        return now.serial !== first.serial ? now : undefined;
      }, 60_000, 50);
    } finally {
      keepAlive.destroy();
    }
    t.diagnostic(`requests across the renewal: ${JSON.stringify(Object.fromEntries(statuses))}, errors: ${errors.length}`);
    assert.deepEqual(errors, [], 'no request failed');
    assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
    assert.ok(statuses.get(200)! > 30, `requests sent across the renewal: ${statuses.get(200)}`);
    assert.equal(renewed!.names, `DNS:${domain}`);
    assert.match(dozen.logs(), /ACME certificate issued[\s\S]*ACME certificate issued/, 'two orders: the first and the renewal');
  });
});

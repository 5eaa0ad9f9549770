import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { freePort, waitFor } from '../support/ports.js';
import { acmeEnv, acmeStatus, registerApp, waitForCertificates } from './acme-helpers.js';
import { startBackend, type TestBackend } from './helpers.js';

/** A CA that binds accounts to an existing customer (ZeroSSL, Google Trust Services): pebble requiring EAB. */
describe('ACME with external account binding', { timeout: 180_000 }, () => {
  const eab = { kid: 'kid-dozen', hmacKey: randomBytes(32).toString('base64url') };
  let pebble: Pebble;
  let backend: TestBackend;
  let dataDir: string;
  const running: DozenProcess[] = [];
  const stops: (() => void)[] = [];

  /** dozen on the shared data dir (one SQLite database across its restarts). */
  async function start(tlsPort: number, env: Record<string, string>): Promise<DozenProcess> {
    const dozen = await startDozen({
      dataDir,
      env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '1', DOZEN_PROXY_LISTEN_PORT: String(pebble.httpPort), DOZEN_PROXY_TLS_LISTEN_HOST: '127.0.0.1', DOZEN_PROXY_TLS_LISTEN_PORT: String(tlsPort), ...acmeEnv(pebble), ...env },
    });
    running.push(dozen);
    return dozen;
  }

  before(async () => {
    pebble = await startPebble({ eab });
    dataDir = mkdtempSync(join(tmpdir(), 'dozen-acme-eab-'));
    backend = await startBackend('bound-1');
  });
  after(async () => {
    for (const stop of stops) stop();
    for (const dozen of running) await dozen.stop();
    await backend?.close();
    await pebble?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('without the binding the account is refused and the error shown; with it, the certificate comes', async () => {
    const tlsPort = await freePort();
    const unbound = await start(tlsPort, {});
    stops.push(await registerApp(unbound, 'bound', backend.port, ['bound.acme.test']));
    const refused = await waitFor('the refused account', async () => (await acmeStatus(unbound)).domains.find((row) => row.domain === 'bound.acme.test' && row.failures >= 1), 60_000, 200);
    assert.match(refused.lastError!, /externalAccountBinding/);
    assert.equal(refused.notAfter, null);
    stops.pop()!();
    await unbound.stop();

    // The same database, the binding configured: the next attempt registers the account and orders.
    const bound = await start(tlsPort, { DOZEN_PROXY_TLS_ACME_EAB_KID: eab.kid, DOZEN_PROXY_TLS_ACME_EAB_HMAC_KEY: eab.hmacKey });
    stops.push(await registerApp(bound, 'bound', backend.port, ['bound.acme.test']));
    const [row] = await waitForCertificates(bound, ['bound.acme.test'], tlsPort, pebble.rootCaPem);
    assert.equal(row.failures, 0);
    assert.ok(!bound.logs().includes(eab.hmacKey), 'the HMAC key is never logged');
  });
});

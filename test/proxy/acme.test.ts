import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { launchChromium } from '../support/chromium.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { freePort, waitFor } from '../support/ports.js';
import { acmeEnv, acmeStatus, certificates, type AcmeStatus, curlHttps, peerCertificate, pemFile, registerApp, waitForCertificates } from './acme-helpers.js';
import { startBackend, type TestBackend } from './helpers.js';

describe('certificates over ACME from pebble, one host', { timeout: 180_000 }, () => {
  let pebble: Pebble;
  let dozen: DozenProcess;
  let backend: TestBackend;
  let tlsPort: number;
  let rootFile: string;
  const stops: (() => void)[] = [];

  before(async () => {
    pebble = await startPebble();
    rootFile = pemFile(pebble.rootCaPem);
    backend = await startBackend('shop-1');
    tlsPort = await freePort();
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'proxy,registry',
        DOZEN_PROXY_WORKERS: '1',
        // The CA validates HTTP-01 on the port pebble was told (its config httpPort): the proxy's plain listener.
        DOZEN_PROXY_LISTEN_PORT: String(pebble.httpPort),
        DOZEN_PROXY_TLS_LISTEN_HOST: '127.0.0.1',
        DOZEN_PROXY_TLS_LISTEN_PORT: String(tlsPort),
        ...acmeEnv(pebble),
      },
    });
  });
  after(async () => {
    for (const stop of stops) stop();
    await dozen?.stop();
    await backend?.close();
    await pebble?.stop();
  });

  it('an app with two domains gets a certificate for each; curl loads the app over HTTPS trusting pebble\'s root; SNI picks each one', async () => {
    const domains = ['shop.acme.test', 'www.shop.acme.test'];
    stops.push(await registerApp(dozen, 'shop', backend.port, domains));
    const rows = await waitForCertificates(dozen, domains, tlsPort, pebble.rootCaPem);
    for (const row of rows) assert.ok(row.issuedBy, JSON.stringify(row));
    const served = (await certificates(dozen)).filter((row) => domains.includes(row.domain));
    assert.deepEqual(served.map((row) => [row.domain, row.source, row.lastError]), domains.map((domain) => [domain, 'acme', null]));
    for (const row of served) assert.match(row.issuer ?? '', /Pebble/i);

    for (const domain of domains) {
      const answer = await curlHttps(domain, tlsPort, '/hello', rootFile);
      assert.equal(answer.status, 200, answer.body);
      const echoed = JSON.parse(answer.body) as { backend: string; url: string; headers: Record<string, string> };
      assert.equal(echoed.backend, 'shop-1');
      assert.equal(echoed.url, '/hello');
      assert.equal(echoed.headers['x-forwarded-proto'], 'https');
    }
    const [shop, www] = await Promise.all(domains.map((domain) => peerCertificate(tlsPort, domain, pebble.rootCaPem)));
    assert.match(shop.issuer, /Pebble/i);
    assert.equal(shop.names, 'DNS:shop.acme.test');
    assert.equal(www.names, 'DNS:www.shop.acme.test');
    assert.notEqual(shop.serial, www.serial);
  });

  it('POST /proxy/certificates/:domain/renew orders a new certificate now, serves it, and is in the audit trail', async () => {
    const domain = 'shop.acme.test';
    const old = await peerCertificate(tlsPort, domain, pebble.rootCaPem);
    const renewed = await dozen.api(`/proxy/certificates/${domain}/renew`, { method: 'POST' });
    const state = (await renewed.json()) as { domain: string; lastError: string | null; failures: number; issuedBy: string | null };
    assert.equal(renewed.status, 200, JSON.stringify(state));
    assert.deepEqual([state.domain, state.lastError, state.failures], [domain, null, 0]);
    const fresh = await waitFor('the new certificate served', async () => {
      const served = await peerCertificate(tlsPort, domain, pebble.rootCaPem);
      return served.serial !== old.serial ? served : undefined;
    }, 10_000, 100);
    assert.match(fresh.issuer, /Pebble/i);
    assert.equal(fresh.names, `DNS:${domain}`);

    const { events } = (await (await dozen.api('/audit?module=proxy')).json()) as { events: { action: string; target: string; outcome: string }[] };
    assert.ok(events.some((event) => event.action === 'POST /proxy/certificates/:domain/renew' && event.target === domain && event.outcome === 'ok'), JSON.stringify(events));

    const unknown = await dozen.api('/proxy/certificates/nobody.acme.test/renew', { method: 'POST' });
    assert.equal(unknown.status, 404, await unknown.text());
    const bad = await dozen.api('/proxy/certificates/not_a_domain!/renew', { method: 'POST' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'domain');
  });

  it('GraphQL renewProxyCertificate does the same, audited with the domain; a bad domain is refused naming the field', async () => {
    const domain = 'www.shop.acme.test';
    const old = await peerCertificate(tlsPort, domain, pebble.rootCaPem);
    const renew = async (name: string) =>
      (await (await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'mutation($d: String!) { renewProxyCertificate(domain: $d) { domain failures lastError issuedBy } }', variables: { d: name } }) })).json()) as {
        data?: { renewProxyCertificate: { domain: string; failures: number; lastError: string | null; issuedBy: string | null } };
        errors?: unknown[];
      };
    const renewed = await renew(domain);
    assert.equal(renewed.errors, undefined, JSON.stringify(renewed.errors));
    assert.deepEqual([renewed.data!.renewProxyCertificate.domain, renewed.data!.renewProxyCertificate.failures, renewed.data!.renewProxyCertificate.lastError], [domain, 0, null]);
    await waitFor('the new certificate served', async () => ((await peerCertificate(tlsPort, domain, pebble.rootCaPem)).serial !== old.serial ? true : undefined), 10_000, 100);
    const { events } = (await (await dozen.api('/audit?module=proxy')).json()) as { events: { action: string; target: string; outcome: string }[] };
    assert.ok(events.some((event) => event.action === 'Mutation.renewProxyCertificate' && event.target === domain && event.outcome === 'ok'), JSON.stringify(events));
    const bad = await renew('not_a_domain!');
    assert.match((bad.errors as { message: string }[])[0].message, /^domain: /);
  });

  it('Chromium loads the app over HTTPS, trusting pebble\'s root (added to its NSS database, no certificate errors ignored)', async () => {
    const browser = await launchChromium({ args: ['--host-resolver-rules=MAP *.acme.test 127.0.0.1'], trustedRoots: [rootFile] });
    try {
      const page = await browser.newPage();
      const response = await page.goto(`https://shop.acme.test:${tlsPort}/from-chromium`);
      assert.equal(response?.status(), 200);
      const echoed = JSON.parse(await response!.text()) as { backend: string; url: string };
      assert.equal(echoed.backend, 'shop-1');
      assert.equal(echoed.url, '/from-chromium');
      const security = await response!.securityDetails();
      assert.equal(security?.subjectName, 'shop.acme.test');
      assert.match(security?.issuer ?? '', /Pebble/i);
    } finally {
      await browser.close();
    }
  });

  it('the certificate keys and the account key are sealed in the database, never in clear', () => {
    const database = new Database(join(dozen.dataDir, 'dozen.sqlite'), { readonly: true });
    try {
      const rows = database.prepare('SELECT domain, cert_pem, key_sealed FROM proxy_acme_certificates WHERE cert_pem IS NOT NULL').all() as { domain: string; cert_pem: string; key_sealed: string }[];
      assert.ok(rows.length >= 2);
      for (const row of rows) {
        assert.match(row.cert_pem, /^-----BEGIN CERTIFICATE-----/);
        assert.match(row.key_sealed, /^v1\./);
        assert.doesNotMatch(row.key_sealed, /PRIVATE KEY/);
      }
      const accounts = database.prepare('SELECT directory, key_sealed, url FROM proxy_acme_accounts').all() as { directory: string; key_sealed: string; url: string }[];
      assert.equal(accounts.length, 1);
      assert.equal(accounts[0].directory, pebble.directory);
      assert.match(accounts[0].key_sealed, /^v1\./);
      assert.match(accounts[0].url, /^https:\/\/127\.0\.0\.1:\d+\//);
    } finally {
      database.close();
    }
  });

  it('a validation that fails (the mock DNS answers SERVFAIL) is retried with backoff and shown; once DNS answers, the certificate comes', async () => {
    const domain = 'broken.acme.test';
    await pebble.dns.fail(domain);
    stops.push(await registerApp(dozen, 'broken', backend.port, [domain]));
    const failing = await waitFor('two failed orders shown', async () => {
      const row = (await acmeStatus(dozen)).domains.find((entry) => entry.domain === domain);
      return row && row.failures >= 2 ? row : undefined;
    }, 60_000, 200).catch((error: Error) => assert.fail(`${error.message}\n${dozen.logs().slice(-4000)}`));
    assert.equal(failing.notAfter, null, 'no certificate yet');
    assert.match(failing.lastError!, /could not resolve|SERVFAIL|DNS/i);
    assert.ok(failing.nextAttemptAt && Date.parse(failing.nextAttemptAt) > Date.now() - 10_000, `a next attempt is planned: ${failing.nextAttemptAt}`);
    // GraphQL proxyAcme shows what GET /proxy/acme does.
    const query = '{ proxyAcme { ordering wanted lockHolder domains { domain notBefore notAfter issuedBy failures lastError nextAttemptAt } } }';
    const graphql = await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    const byGraphql = ((await graphql.json()) as { data: { proxyAcme: AcmeStatus } }).data.proxyAcme;
    const byRest = await acmeStatus(dozen);
    assert.deepEqual([byGraphql.ordering, byGraphql.wanted], [byRest.ordering, byRest.wanted]);
    const row = byGraphql.domains.find((entry) => entry.domain === domain);
    assert.ok(row, JSON.stringify(byGraphql));
    assert.equal(row.notAfter, null);
    assert.ok(row.failures >= 2, JSON.stringify(row));
    assert.match(row.lastError!, /could not resolve|SERVFAIL|DNS/i);
    // GET /proxy/certificates shows the error, how many orders failed and when the next one is.
    const shown = await waitFor('the error in GET /proxy/certificates', async () => (await certificates(dozen)).find((row) => row.domain === domain && row.lastError), 10_000, 100);
    assert.equal(shown.source, 'acme');
    assert.match(shown.lastError!, /could not resolve|SERVFAIL|DNS/i);
    assert.match(shown.lastError!, /\(\d+ failed orders? in a row; next attempt at \d{4}-\d\d-\d\dT[^)]+\)$/);
    const metrics = await (await dozen.api('/metrics')).text();
    const failures = Number(/dozen_proxy_certificate_renewal_failures_total\{domain="broken\.acme\.test"\} (\d+)/.exec(metrics)?.[1]);
    assert.ok(failures >= 2, metrics.split('\n').filter((line) => line.includes('renewal_failures')).join('\n'));
    await pebble.dns.heal(domain);
    await waitForCertificates(dozen, [domain], tlsPort, pebble.rootCaPem);
    assert.equal((await curlHttps(domain, tlsPort, '/', rootFile)).status, 200);
  });

  it('a wildcard or a domain of an app whose policy is not auto is never ordered', async () => {
    stops.push(await registerApp(dozen, 'wild', backend.port, ['*.wild.acme.test']));
    const policy = await dozen.api('/proxy/apps/quiet/policy', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tls: 'off' }) });
    assert.equal(policy.status, 200, await policy.text());
    stops.push(await registerApp(dozen, 'quiet', backend.port, ['quiet.acme.test']));
    // An app registered after them is ordered: by the time it has its certificate, the planner has passed the two above over.
    stops.push(await registerApp(dozen, 'later', backend.port, ['later.acme.test']));
    await waitForCertificates(dozen, ['later.acme.test'], tlsPort, pebble.rootCaPem);
    const status = await acmeStatus(dozen);
    assert.ok(status.wanted.includes('later.acme.test'));
    const listed = [...status.wanted, ...status.domains.map((row) => row.domain)];
    assert.ok(!listed.some((domain) => domain.includes('wild') || domain === 'quiet.acme.test'), listed.join(', '));
    assert.doesNotMatch(dozen.logs(), /ACME order started.*(wild|quiet)\.acme\.test|(wild|quiet)\.acme\.test.*ACME order started/);
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConsulStandin } from '../support/consul-standin.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { freePort } from '../support/ports.js';
import { acmeEnv, acmeStatus, curlHttps, peerCertificate, pemFile, registerApp, waitForCertificates } from './acme-helpers.js';
import { startBackend, type TestBackend } from './helpers.js';

/**
 * Three hosts on one catalog (the Consul stand-in) and one database (MariaDB).
 * Hosts B and C order (ACME configured there), host A does not; the CA can
 * reach only host A (pebble validates on A's plain port). So an order
 * succeeds only if A answers B's or C's challenge from the catalog, and A
 * serves the certificates they stored in the database.
 */
describe('ACME across hosts sharing the catalog and the database', { timeout: 180_000 }, () => {
  let pebble: Pebble;
  let mariadb: MariaDb;
  let standin: ConsulStandin;
  let backend: TestBackend;
  let hostA: DozenProcess;
  let hostB: DozenProcess;
  let hostC: DozenProcess;
  const tlsPorts = { a: 0, b: 0, c: 0 };
  let stopBeats: () => void = () => {};

  before(async () => {
    [pebble, mariadb, standin, backend] = await Promise.all([startPebble(), startMariaDb(), ConsulStandin.start(), startBackend('team-1')]);
    const connection = await mariadb.connect();
    await connection.query('DROP DATABASE IF EXISTS dozen_acme_cluster; CREATE DATABASE dozen_acme_cluster');
    await connection.end();
    tlsPorts.a = await freePort();
    tlsPorts.b = await freePort();
    tlsPorts.c = await freePort();
    const shared = {
      DOZEN_MODULES: 'proxy,registry',
      DOZEN_PROXY_WORKERS: '1',
      DOZEN_REGISTRY_CATALOG: 'consul',
      DOZEN_REGISTRY_CONSUL_URL: standin.url,
      DOZEN_DATABASE_URL: `${mariadb.url}dozen_acme_cluster`,
      // Every host of a cluster shares the secrets key: the certificate keys are sealed with it.
      DOZEN_DEPLOY_SECRETS_KEY: randomBytes(32).toString('base64'),
      DOZEN_PROXY_TLS_LISTEN_HOST: '127.0.0.1',
    };
    hostA = await startDozen({ env: { ...shared, DOZEN_HOST_NAME: 'host-a', DOZEN_PROXY_LISTEN_PORT: String(pebble.httpPort), DOZEN_PROXY_TLS_LISTEN_PORT: String(tlsPorts.a) } });
    [hostB, hostC] = await Promise.all(['b', 'c'].map((name) => startDozen({ env: { ...shared, DOZEN_HOST_NAME: `host-${name}`, DOZEN_PROXY_TLS_LISTEN_PORT: String(tlsPorts[name as 'b' | 'c']), ...acmeEnv(pebble) } })));
  });
  after(async () => {
    stopBeats();
    await Promise.all([hostA?.stop(), hostB?.stop(), hostC?.stop()]);
    await Promise.all([standin?.stop(), backend?.close(), pebble?.stop(), mariadb?.stop()]);
  });

  it('host A, which does not order, answers the challenge of the order another host placed, then serves the certificate it stored', async (t) => {
    const domain = 'team.cluster.acme.test';
    stopBeats = await registerApp(hostB, 'team', backend.port, [domain]);
    const [row] = await waitForCertificates(hostB, [domain], tlsPorts.b, pebble.rootCaPem);
    assert.match(row.issuedBy ?? '', /^host-[bc]$/);
    await waitForCertificates(hostA, [domain], tlsPorts.a, pebble.rootCaPem, 20_000);
    assert.equal((await acmeStatus(hostA)).ordering, false);
    assert.doesNotMatch(hostA.logs(), /ACME order started/, 'host A has no ACME config: it never orders');
    const issuedAt = logTime(row.issuedBy === 'host-b' ? hostB.logs() : hostC.logs(), 'ACME certificate issued', domain);
    const loadedOnA = logTime(hostA.logs(), 'ACME certificate loaded', domain);
    t.diagnostic(`issued on ${row.issuedBy} -> loaded on host-a: ${loadedOnA - issuedAt} ms`);
    // The host that did not order serves it too.
    await waitForCertificates(row.issuedBy === 'host-b' ? hostC : hostB, [domain], row.issuedBy === 'host-b' ? tlsPorts.c : tlsPorts.b, pebble.rootCaPem, 20_000);

    const [onA, onB] = await Promise.all([peerCertificate(tlsPorts.a, domain, pebble.rootCaPem), peerCertificate(tlsPorts.b, domain, pebble.rootCaPem)]);
    assert.equal(onA.serial, onB.serial, 'the same certificate on both hosts');
    assert.equal(onA.names, `DNS:${domain}`);
    const answer = await curlHttps(domain, tlsPorts.a, '/from-a', pemFile(pebble.rootCaPem));
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).backend, 'team-1');
  });

  it('two ordering hosts take turns: one order at a time in the cluster, each domain ordered once', async (t) => {
    const domains = ['a.turns.acme.test', 'b.turns.acme.test', 'c.turns.acme.test', 'd.turns.acme.test'];
    const stop = await registerApp(hostC, 'turns', backend.port, domains);
    try {
      const rows = await waitForCertificates(hostA, domains, tlsPorts.a, pebble.rootCaPem);
      const orders = [hostB, hostC].flatMap((host) => orderSpans(host.logs())).filter((span) => domains.includes(span.domain)).sort((x, y) => x.start - y.start);
      assert.deepEqual(orders.map((span) => span.domain).sort(), domains, `each domain ordered once: ${JSON.stringify(orders)}`);
      t.diagnostic(`orders: ${orders.map((span) => `${span.domain} ${span.end - span.start} ms`).join(', ')}; wall ${orders[orders.length - 1].end - orders[0].start} ms`);
      for (let index = 1; index < orders.length; index++) {
        assert.ok(orders[index].start >= orders[index - 1].end, `orders overlap: ${JSON.stringify(orders)}`);
      }
      assert.ok(rows.every((row) => row.issuedBy === 'host-b' || row.issuedBy === 'host-c'), JSON.stringify(rows));
    } finally {
      stop();
    }
  });
});

/** When a host logged `msg` for `domain` (ms since epoch, the first such line). */
function logTime(logs: string, msg: string, domain: string): number {
  const line = logs.split('\n').find((candidate) => candidate.includes(`"msg":"${msg}"`) && candidate.includes(`"domain":"${domain}"`));
  if (!line) throw new Error(`no "${msg}" for ${domain} in the log`);
  return (JSON.parse(line) as { time: number }).time;
}

/** Each order a host's log shows: domain, when it started and when it ended (issued or failed), ms. */
function orderSpans(logs: string): { domain: string; start: number; end: number }[] {
  const spans: { domain: string; start: number; end: number }[] = [];
  const open = new Map<string, number>();
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"msg":"ACME ')) continue;
    const entry = JSON.parse(line) as { msg: string; domain: string; time: number };
    if (entry.msg === 'ACME order started') open.set(entry.domain, entry.time);
    else if ((entry.msg === 'ACME order failed' || entry.msg === 'ACME certificate issued') && open.has(entry.domain)) {
      spans.push({ domain: entry.domain, start: open.get(entry.domain)!, end: entry.time });
      open.delete(entry.domain);
    }
  }
  return spans;
}

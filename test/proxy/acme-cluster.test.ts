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
 * Two hosts on one catalog (the Consul stand-in) and one database (MariaDB).
 * Only host B orders (ACME configured there); the CA can reach only host A
 * (pebble validates on A's plain port). So the order succeeds only if A
 * answers B's challenge from the catalog, and A serves the certificate B
 * stored in the database.
 */
describe('ACME across two hosts sharing the catalog and the database', { timeout: 180_000 }, () => {
  let pebble: Pebble;
  let mariadb: MariaDb;
  let standin: ConsulStandin;
  let backend: TestBackend;
  let hostA: DozenProcess;
  let hostB: DozenProcess;
  const tlsPorts = { a: 0, b: 0 };
  let stopBeats: () => void = () => {};

  before(async () => {
    [pebble, mariadb, standin, backend] = await Promise.all([startPebble(), startMariaDb(), ConsulStandin.start(), startBackend('team-1')]);
    const connection = await mariadb.connect();
    await connection.query('DROP DATABASE IF EXISTS dozen_acme_cluster; CREATE DATABASE dozen_acme_cluster');
    await connection.end();
    tlsPorts.a = await freePort();
    tlsPorts.b = await freePort();
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
    hostB = await startDozen({ env: { ...shared, DOZEN_HOST_NAME: 'host-b', DOZEN_PROXY_TLS_LISTEN_PORT: String(tlsPorts.b), ...acmeEnv(pebble) } });
  });
  after(async () => {
    stopBeats();
    await Promise.all([hostA?.stop(), hostB?.stop()]);
    await Promise.all([standin?.stop(), backend?.close(), pebble?.stop(), mariadb?.stop()]);
  });

  it('host A answers the challenge of the order host B placed, then serves the certificate B stored', async () => {
    const domain = 'team.cluster.acme.test';
    stopBeats = await registerApp(hostB, 'team', backend.port, [domain]);
    const [row] = await waitForCertificates(hostB, [domain], tlsPorts.b, pebble.rootCaPem);
    assert.equal(row.issuedBy, 'host-b');
    await waitForCertificates(hostA, [domain], tlsPorts.a, pebble.rootCaPem, 20_000);
    assert.equal((await acmeStatus(hostA)).ordering, false);
    assert.doesNotMatch(hostA.logs(), /ACME order started/, 'host A has no ACME config: it never orders');

    const [onA, onB] = await Promise.all([peerCertificate(tlsPorts.a, domain, pebble.rootCaPem), peerCertificate(tlsPorts.b, domain, pebble.rootCaPem)]);
    assert.equal(onA.serial, onB.serial, 'the same certificate on both hosts');
    assert.equal(onA.names, `DNS:${domain}`);
    const answer = await curlHttps(domain, tlsPorts.a, '/from-a', pemFile(pebble.rootCaPem));
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).backend, 'team-1');
  });
});

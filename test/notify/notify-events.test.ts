import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { acmeEnv, acmeStatus, registerApp } from '../proxy/acme-helpers.js';
import { ConsulStandin } from '../support/consul-standin.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { notificationReceiver, type NotificationReceiver } from '../support/notification-receiver.js';
import { freePort, waitFor } from '../support/ports.js';

describe('host.silent: a host of the cluster that stops renewing is told once, by a host still up', { timeout: 90_000 }, () => {
  let standin: ConsulStandin;
  let hook: NotificationReceiver;
  let hostA: DozenProcess;
  let hostB: DozenProcess;

  before(async () => {
    standin = await ConsulStandin.start();
    hook = await notificationReceiver();
    const channels = [{ name: 'ops', type: 'webhook', url: hook.url, events: ['host.silent', 'instance.lost'] }];
    const env = (name: string) => ({
      DOZEN_MODULES: 'registry', DOZEN_HOST_NAME: name, DOZEN_REGISTRY_CATALOG: 'consul', DOZEN_REGISTRY_CONSUL_URL: standin.url,
      DOZEN_REGISTRY_HOST_TTL_SECONDS: '2', DOZEN_NOTIFY_CHANNELS: JSON.stringify(channels),
    });
    [hostA, hostB] = await Promise.all([startDozen({ env: env('host-a') }), startDozen({ env: env('host-b') })]);
  });
  after(async () => {
    await Promise.all([hostA?.stop(), hostB?.stop()]);
    await standin?.stop();
    hook?.close();
  });

  it('host B killed: host A tells that host B went silent, and that the instance on host B was lost', async () => {
    const registered = await hostB.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'on-b-1', app: 'onb', address: '127.0.0.1', port: 3000, ttl: 3 }) });
    assert.equal(registered.status, 201);
    const beat = () => hostB.api('/registry/instances/on-b-1/heartbeat', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
    const beats = setInterval(() => void beat(), 500);
    // Both hosts see each other live before B goes.
    const renewed = (host: string) => standin.requests.some((request) => request.includes('/check/pass/') && request.includes(`dozen-${host}`));
    await waitFor('both hosts renewing in the catalog', async () => renewed('host-a') && renewed('host-b'), 10_000);
    await hostB.stop('SIGKILL');
    clearInterval(beats);
    const silent = await waitFor('host.silent about host-b', async () => hook.notified.find((message) => message.event === 'host.silent' && message.subject === 'host-b'), 20_000);
    assert.equal(silent.host, 'host-a', 'told by the host still up');
    assert.match(silent.message, /no renewal nor load report from host-b for 2 s/);
    const lost = await waitFor('instance.lost about on-b-1', async () => hook.notified.find((message) => message.event === 'instance.lost' && message.subject === 'on-b-1'), 20_000);
    assert.deepEqual([lost.host, lost.detail.app, lost.detail.host], ['host-a', 'onb', 'host-b']);
    assert.equal(hook.notified.filter((message) => message.subject === 'host-b').length, 1, 'one message, from one host');
  });
});

describe('certificate.renewal_failed: a failed ACME order is told, and its retries are held in the quiet window', { timeout: 120_000 }, () => {
  let pebble: Pebble;
  let hook: NotificationReceiver;
  let dozen: DozenProcess;
  const stops: (() => void)[] = [];

  before(async () => {
    pebble = await startPebble();
    hook = await notificationReceiver();
    const channels = [{ name: 'certs', type: 'webhook', url: hook.url, events: ['certificate.renewal_failed'] }];
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '1',
        DOZEN_PROXY_LISTEN_PORT: String(pebble.httpPort), DOZEN_PROXY_TLS_LISTEN_HOST: '127.0.0.1', DOZEN_PROXY_TLS_LISTEN_PORT: String(await freePort()),
        DOZEN_NOTIFY_CHANNELS: JSON.stringify(channels), ...acmeEnv(pebble),
      },
    });
  });
  after(async () => {
    for (const stop of stops) stop();
    await dozen?.stop();
    await pebble?.stop();
    hook?.close();
  });

  it('the mock DNS answers SERVFAIL: one message however often the order is retried', async () => {
    const domain = 'unlucky.acme.test';
    await pebble.dns.fail(domain);
    stops.push(await registerApp(dozen, 'unlucky', await freePort(), [domain]));
    await waitFor('two failed orders', async () => ((await acmeStatus(dozen)).domains.find((entry) => entry.domain === domain)?.failures ?? 0) >= 2, 60_000, 200)
      .catch((error: Error) => assert.fail(`${error.message}\n${dozen.logs().slice(-4000)}`));
    const told = await waitFor('the certificate.renewal_failed message', async () => hook.notified.find((message) => message.event === 'certificate.renewal_failed'), 10_000);
    assert.equal(told.subject, domain);
    assert.match(told.message, /could not resolve|SERVFAIL|DNS/i);
    assert.equal(told.detail.failures, 1);
    assert.equal(hook.notified.length, 1, 'the retries are held back');
    const held = /^dozen_notify_messages_total\{channel="certs",outcome="held"\} (\d+)/m.exec(await (await dozen.api('/metrics')).text());
    assert.ok(Number(held?.[1]) >= 1, 'the repeat was counted as held');
  });
});

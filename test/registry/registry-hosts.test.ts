import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsulStandin } from '../support/consul-standin.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

interface Route {
  app: string;
  backends: { instance: string; host: string; load: { cpu: number } | null }[];
}

describe('two hosts on one Consul: load figures travel host to host, not through Consul', { timeout: 60_000 }, () => {
  let standin: ConsulStandin;
  let hostA: DozenProcess;
  let hostB: DozenProcess;
  before(async () => {
    standin = await ConsulStandin.start();
    const env = (name: string) => ({ DOZEN_MODULES: 'registry', DOZEN_HOST_NAME: name, DOZEN_REGISTRY_CATALOG: 'consul', DOZEN_REGISTRY_CONSUL_URL: standin.url });
    [hostA, hostB] = await Promise.all([startDozen({ env: env('host-a') }), startDozen({ env: env('host-b') })]);
  });
  after(async () => {
    await Promise.all([hostA?.stop(), hostB?.stop()]);
    await standin?.stop();
  });

  it("host B's routes carry the load of an instance that reports to host A", async () => {
    const created = await hostA.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'chat-a1', app: 'chat', address: '127.0.0.1', port: 3000, domains: ['chat.example.net'] }) });
    assert.equal(created.status, 201);
    const writesBefore = standin.requests.filter((request) => request.startsWith('PUT')).length;
    const beat = () => hostA.api('/registry/instances/chat-a1/heartbeat', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ load: { cpu: 42, memory: 1000, processes: 1, inflight: 5 } }) });
    assert.equal((await beat()).status, 200);
    const beats = setInterval(() => void beat(), 500);
    try {
      const route = await waitFor("the load on host B", async () => {
        const snapshot = await (await hostB.api('/registry/routes')).json();
        const chat = snapshot.apps.find((entry: Route) => entry.app === 'chat') as Route | undefined;
        return chat?.backends[0]?.load ? chat : undefined;
      }, 10_000, 100);
      assert.equal(route.backends[0].host, 'host-a');
      assert.equal(route.backends[0].load!.cpu, 42);
    } finally {
      clearInterval(beats);
    }
    // Heartbeats renew the TTL check (a PUT each) but write no figures to Consul: no KV, no service re-registration.
    const writes = standin.requests.filter((request) => request.startsWith('PUT')).slice(writesBefore);
    assert.ok(writes.every((request) => request.startsWith('PUT /v1/agent/check/pass/')), writes.join(', '));

    const loadB = await (await hostB.api('/registry/load')).json();
    assert.equal(loadB.instances.length, 0, 'host B serves only the figures of its own instances');
    const services = await (await hostB.api('/registry/services')).json();
    assert.deepEqual(services.map((service: { app: string }) => service.app), ['chat'], 'the hosts themselves are not listed as an app');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsulStandin } from '../support/consul-standin.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const put = (body: unknown): RequestInit => ({ ...json(body), method: 'PUT' });

interface Route {
  app: string;
  domains: string[];
  backends: { instance: string; load: { cpu: number } | null }[];
}

for (const catalog of ['embedded', 'consul'] as const) {
  describe(`registry REST on the ${catalog} catalog`, { timeout: 60_000 }, () => {
    let dozen: DozenProcess;
    let standin: ConsulStandin | undefined;
    before(async () => {
      const env: Record<string, string> = { DOZEN_MODULES: 'registry', DOZEN_HOST_NAME: 'host-a' };
      if (catalog === 'consul') {
        standin = await ConsulStandin.start({ deregisterMinimumMs: 0, reapIntervalMs: 100 });
        Object.assign(env, { DOZEN_REGISTRY_CATALOG: 'consul', DOZEN_REGISTRY_CONSUL_URL: standin.url, DOZEN_REGISTRY_CONSUL_WAIT_SECONDS: '2' });
      }
      dozen = await startDozen({ env });
    });
    after(async () => {
      await dozen?.stop();
      await standin?.stop();
    });

    /** The route of `app` once `ready` says it is as expected (the consul adapter sees changes through its watch). */
    const routeOf = (app: string, ready: (route: Route | undefined) => boolean) =>
      waitFor(`route of ${app}`, async () => {
        const snapshot = await (await dozen.api('/registry/routes')).json();
        const route = snapshot.apps.find((entry: Route) => entry.app === app);
        return ready(route) ? { snapshot, route: route as Route } : undefined;
      }, 5000, 20);

    it('a registered instance shows up in the routes of its domains, and leaves them when deregistered', async () => {
      const created = await dozen.api('/registry/instances', json({ app: 'chat', address: '127.0.0.1', port: 3000, domains: ['Chat.App.Example.net', '*.chat.example.net'] }));
      const instance = await created.json();
      assert.equal(created.status, 201, JSON.stringify(instance));
      assert.match(instance.id, /^chat-[0-9a-f]{12}$/);
      assert.equal(instance.host, 'host-a');
      assert.deepEqual(instance.domains, ['chat.app.example.net', '*.chat.example.net']);
      assert.equal(instance.status, 'passing');

      const { snapshot: routes, route: chat } = await routeOf('chat', (route) => Boolean(route?.backends.length));
      assert.deepEqual(chat.domains, ['*.chat.example.net', 'chat.app.example.net']);
      assert.deepEqual(chat.backends, [{ instance: instance.id, app: 'chat', address: '127.0.0.1', port: 3000, host: 'host-a', load: null }]);

      const removed = await dozen.api(`/registry/instances/${instance.id}`, { method: 'DELETE' });
      assert.equal(removed.status, 204);
      const { snapshot: after } = await routeOf('chat', (route) => route === undefined);
      assert.ok(after.version > routes.version);
    });

    it('a heartbeat renews the instance and its load shows in routes, services and /registry/load', async () => {
      const instance = await (await dozen.api('/registry/instances', json({ id: 'blog-1', app: 'blog', address: '127.0.0.1', port: 3001, domains: ['blog.example.net'] }))).json();
      assert.equal(instance.id, 'blog-1');
      await routeOf('blog', (route) => Boolean(route?.backends.length));
      const beat = await dozen.api('/registry/instances/blog-1/heartbeat', put({ load: { cpu: 12.5, memory: 1048576, processes: 3, inflight: 2 } }));
      const beatBody = await beat.json();
      assert.equal(beat.status, 200, JSON.stringify(beatBody));
      assert.equal(beatBody.status, 'passing');
      assert.equal(beatBody.load.cpu, 12.5);

      const { route: blog } = await routeOf('blog', (route) => Boolean(route?.backends[0]?.load));
      assert.deepEqual({ ...blog.backends[0].load, at: 0 }, { cpu: 12.5, memory: 1048576, processes: 3, inflight: 2, at: 0 });

      const service = await (await dozen.api('/registry/services/blog')).json();
      assert.equal(service.instances[0].status, 'passing');
      assert.equal(service.instances[0].load.processes, 3);
      const services = await (await dozen.api('/registry/services')).json();
      assert.ok(services.some((entry: { app: string }) => entry.app === 'blog'));

      const load = await (await dozen.api('/registry/load')).json();
      assert.equal(load.host, 'host-a');
      assert.equal(load.instances.find((entry: { instance: string }) => entry.instance === 'blog-1').load.memory, 1048576);
      // A heartbeat without a body renews the TTL only.
      const bare = await dozen.api('/registry/instances/blog-1/heartbeat', { method: 'PUT' });
      assert.equal(bare.status, 200, await bare.clone().text());
      assert.equal((await bare.json()).load, null);
    });

    it('a second app claiming a domain is refused with 409 and the domain named', async () => {
      await dozen.api('/registry/instances', json({ app: 'shop', address: '127.0.0.1', port: 3002, domains: ['shop.example.net'] }));
      await routeOf('shop', (route) => Boolean(route?.backends.length));
      const again = await dozen.api('/registry/instances', json({ app: 'shop', address: '127.0.0.1', port: 3003, domains: ['shop.example.net'] }));
      assert.equal(again.status, 201, 'the same app may add instances on its domain');
      const thief = await dozen.api('/registry/instances', json({ app: 'other', address: '127.0.0.1', port: 3004, domains: ['SHOP.example.net'] }));
      const body = await thief.json();
      assert.equal(thief.status, 409);
      assert.deepEqual(body, { error: 'domain_taken', message: 'domain "shop.example.net" is already served by app "shop"', field: 'domains' });
    });

    it('refuses an id taken by another app\'s instance or by a dozen host (it would replace theirs) with 409 naming id', async () => {
      assert.equal((await dozen.api('/registry/instances', json({ id: 'mail-1', app: 'mail', address: '127.0.0.1', port: 3005 }))).status, 201);
      // The check reads the catalog as this host's watch last saw it (Consul's agent answers writes before its watches).
      await waitFor('mail-1 to be listed', async () => (await dozen.api('/registry/services/mail')).status === 200, 5_000);
      const cases = [
        [{ id: 'mail-1', app: 'spam', address: '127.0.0.1', port: 3006 }, 'instance id "mail-1" is taken by an instance of app "mail"'],
        [{ id: 'dozen-host-a', app: 'spam', address: '127.0.0.1', port: 3006 }, 'instance id "dozen-host-a" is taken by a dozen host'],
      ] as const;
      for (const [registration, message] of cases) {
        const refused = await dozen.api('/registry/instances', json(registration));
        assert.equal(refused.status, 409);
        assert.deepEqual(await refused.json(), { error: 'id_taken', message, field: 'id' });
      }
      const again = await dozen.api('/registry/instances', json({ id: 'mail-1', app: 'mail', address: '127.0.0.1', port: 3007 }));
      assert.equal(again.status, 201, 'the same app may register its instance again');
    });

    it('answers 404 for an unknown instance or app', async () => {
      for (const [path, init] of [
        ['/registry/instances/nope-1/heartbeat', { method: 'PUT' }],
        ['/registry/instances/nope-1', { method: 'DELETE' }],
        ['/registry/services/nope', {}],
      ] as const) {
        const response = await dozen.api(path, init);
        const body = await response.json();
        assert.equal(response.status, 404, path);
        assert.equal(body.error, 'not_found', path);
      }
    });

    it('an instance without heartbeats turns critical (no backend) after its TTL and is gone after the deregister delay', async () => {
      const created = await dozen.api('/registry/instances', json({ app: 'lapse', address: '127.0.0.1', port: 3005, domains: ['lapse.example.net'], ttl: 1, deregisterAfter: 1 }));
      const { id } = await created.json();
      await routeOf('lapse', (route) => route?.backends.length === 1);
      const { route } = await routeOf('lapse', (entry) => entry?.backends.length === 0);
      assert.deepEqual(route.domains, ['lapse.example.net'], 'a critical instance keeps its domain in the table, with no backend');
      const service = await (await dozen.api('/registry/services/lapse')).json();
      assert.equal(service.instances[0].status, 'critical');
      await routeOf('lapse', (entry) => entry === undefined);
      const gone = await dozen.api(`/registry/instances/${id}/heartbeat`, { method: 'PUT' });
      assert.equal(gone.status, 404);
      const metrics = await (await fetch(dozen.url + '/metrics')).text();
      assert.match(metrics, /^dozen_registry_instances\{status="critical"\} 0$/m);
      assert.match(metrics, /^dozen_registry_route_snapshots_total \d+$/m);
    });

    it('the load stream pushes this host\'s figures every second, and figures older than 3 s become null', async () => {
      const { id } = await (await dozen.api('/registry/instances', json({ app: 'streamed', address: '127.0.0.1', port: 3006, ttl: 30 }))).json();
      await waitFor('listed', async () => (await (await dozen.api('/registry/load')).json()).instances.some((entry: { instance: string }) => entry.instance === id), 5000, 20);
      const beat = await dozen.api(`/registry/instances/${id}/heartbeat`, put({ load: { cpu: 50, memory: 2048, processes: 2, inflight: 0 } }));
      assert.equal(beat.status, 200);
      const beatAt = Date.now();
      const response = await dozen.api('/registry/load/stream');
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/event-stream');
      const events: { receivedAt: number; load: unknown }[] = [];
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      while (Date.now() - beatAt < 5000) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!/^event: load$/m.test(block) || !data) continue;
          const figures = JSON.parse(data);
          events.push({ receivedAt: Date.now(), load: figures.instances.find((entry: { instance: string }) => entry.instance === id)?.load });
        }
      }
      await reader.cancel();
      assert.ok(events.length >= 4, `${events.length} events in 5 s`);
      for (let index = 2; index < events.length; index++) {
        const gap = events[index].receivedAt - events[index - 1].receivedAt;
        assert.ok(gap > 700 && gap < 1300, `gap of ${gap} ms between events`);
      }
      const fresh = events.filter((event) => event.receivedAt - beatAt < 2800);
      const stale = events.filter((event) => event.receivedAt - beatAt > 3300);
      assert.ok(fresh.length && stale.length, JSON.stringify(events));
      for (const event of fresh) assert.equal((event.load as { cpu: number }).cpu, 50);
      for (const event of stale) assert.equal(event.load, null);
      const { route } = await routeOf('streamed', (entry) => entry?.backends[0]?.load === null);
      assert.equal(route.backends.length, 1);
    });

    it('answers HEAD on the load stream with its head alone', async () => {
      const response = await dozen.api('/registry/load/stream', { method: 'HEAD', signal: AbortSignal.timeout(5000) });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/event-stream');
      assert.equal(await response.text(), '');
    });
  });
}

describe('registry on a Consul agent that does not answer', { timeout: 60_000 }, () => {
  it('starts, says why on /health, and answers 503 to a registration', async () => {
    const port = await freePort();
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'registry', DOZEN_REGISTRY_CATALOG: 'consul', DOZEN_REGISTRY_CONSUL_URL: `http://127.0.0.1:${port}` }, waitHealthy: false });
    try {
      const health = await fetch(dozen.url + '/health');
      const body = await health.json();
      assert.equal(health.status, 503);
      assert.equal(body.modules.registry.status, 'down');
      assert.match(body.modules.registry.reason, new RegExp(`catalog \\(consul\\) not reachable: Consul agent at http://127.0.0.1:${port}`));
      const created = await dozen.api('/registry/instances', json({ app: 'chat', address: '127.0.0.1', port: 3000 }));
      const answer = await created.json();
      assert.equal(created.status, 503, JSON.stringify(answer));
      assert.equal(answer.error, 'catalog_unavailable');
    } finally {
      await dozen.stop();
    }
  });
});

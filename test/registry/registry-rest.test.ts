import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const put = (body: unknown): RequestInit => ({ ...json(body), method: 'PUT' });

describe('registry REST on the embedded catalog', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry', DOZEN_HOST_NAME: 'host-a' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('a registered instance shows up in the routes of its domains, and leaves them when deregistered', async () => {
    const created = await dozen.api('/registry/instances', json({ app: 'chat', address: '127.0.0.1', port: 3000, domains: ['Chat.App.Example.net', '*.chat.example.net'] }));
    const instance = await created.json();
    assert.equal(created.status, 201, JSON.stringify(instance));
    assert.match(instance.id, /^chat-[0-9a-f]{12}$/);
    assert.equal(instance.host, 'host-a');
    assert.deepEqual(instance.domains, ['chat.app.example.net', '*.chat.example.net']);
    assert.equal(instance.status, 'passing');

    const routes = await (await dozen.api('/registry/routes')).json();
    const chat = routes.apps.find((route: { app: string }) => route.app === 'chat');
    assert.deepEqual(chat.domains, ['*.chat.example.net', 'chat.app.example.net']);
    assert.deepEqual(chat.backends, [{ instance: instance.id, app: 'chat', address: '127.0.0.1', port: 3000, host: 'host-a', load: null }]);

    const removed = await dozen.api(`/registry/instances/${instance.id}`, { method: 'DELETE' });
    assert.equal(removed.status, 204);
    const after = await (await dozen.api('/registry/routes')).json();
    assert.ok(after.version > routes.version);
    assert.equal(after.apps.find((route: { app: string }) => route.app === 'chat'), undefined);
  });

  it('a heartbeat renews the instance and its load shows in routes, services and /registry/load', async () => {
    const instance = await (await dozen.api('/registry/instances', json({ id: 'blog-1', app: 'blog', address: '127.0.0.1', port: 3001, domains: ['blog.example.net'] }))).json();
    assert.equal(instance.id, 'blog-1');
    const beat = await dozen.api('/registry/instances/blog-1/heartbeat', put({ load: { cpu: 12.5, memory: 1048576, processes: 3, inflight: 2 } }));
    const beatBody = await beat.json();
    assert.equal(beat.status, 200, JSON.stringify(beatBody));
    assert.equal(beatBody.status, 'passing');
    assert.equal(beatBody.load.cpu, 12.5);

    const routes = await (await dozen.api('/registry/routes')).json();
    const blog = routes.apps.find((route: { app: string }) => route.app === 'blog');
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
    const again = await dozen.api('/registry/instances', json({ app: 'shop', address: '127.0.0.1', port: 3003, domains: ['shop.example.net'] }));
    assert.equal(again.status, 201, 'the same app may add instances on its domain');
    const thief = await dozen.api('/registry/instances', json({ app: 'other', address: '127.0.0.1', port: 3004, domains: ['SHOP.example.net'] }));
    const body = await thief.json();
    assert.equal(thief.status, 409);
    assert.deepEqual(body, { error: 'domain_taken', message: 'domain "shop.example.net" is already served by app "shop"', field: 'domains' });
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
});

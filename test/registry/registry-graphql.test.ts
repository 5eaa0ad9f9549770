import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

describe('registry GraphQL queries', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  const query = async (text: string, variables: Record<string, unknown> = {}) => {
    const response = await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: text, variables }) });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    return body;
  };
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry', DOZEN_HOST_NAME: 'host-g' } });
    const register = (body: unknown) => dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await register({ id: 'chat-1', app: 'chat', address: '10.0.0.5', port: 3000, domains: ['chat.example.net'], meta: { team: 'blue' }, release: 'v3' })).status, 201);
    assert.equal((await register({ id: 'chat-2', app: 'chat', address: '10.0.0.6', port: 3000, domains: ['chat.example.net'] })).status, 201);
    await dozen.api('/registry/instances/chat-1/heartbeat', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ load: { cpu: 3, memory: 5_000_000_000, processes: 4, inflight: 1 } }) });
    // Load figures reach the route table in batches (LOAD_BATCH_MS), not at once.
    await waitFor('the heartbeat\'s load in the routes', async () => {
      const routes = (await (await dozen.api('/registry/routes')).json()) as { apps: { backends: { load: unknown }[] }[] };
      return routes.apps[0]?.backends.some((backend) => backend.load !== null);
    });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('services lists each app with its instances, health, meta and load', async () => {
    const body = await query('{ services { app domains instances { id address port host status release meta { key value } load { cpu memory processes } ttlSeconds } } }');
    assert.deepEqual(body.data.services, [
      {
        app: 'chat',
        domains: ['chat.example.net'],
        instances: [
          { id: 'chat-1', address: '10.0.0.5', port: 3000, host: 'host-g', status: 'passing', release: 'v3', meta: [{ key: 'team', value: 'blue' }], load: { cpu: 3, memory: 5_000_000_000, processes: 4 }, ttlSeconds: 10 },
          { id: 'chat-2', address: '10.0.0.6', port: 3000, host: 'host-g', status: 'passing', release: null, meta: [], load: null, ttlSeconds: 10 },
        ],
      },
    ]);
  });

  it('service(app) answers one app, null for an unknown one, and an error naming a bad name', async () => {
    const known = await query('query ($app: String!) { service(app: $app) { app instances { id } } }', { app: 'chat' });
    assert.deepEqual(known.data.service, { app: 'chat', instances: [{ id: 'chat-1' }, { id: 'chat-2' }] });
    const unknown = await query('{ service(app: "nope") { app } }');
    assert.equal(unknown.data.service, null);
    const bad = await query('{ service(app: "Bad_App") { app } }');
    assert.match(bad.errors[0].message, /^app: expected a lower-case app name/);
  });

  it('routes is the same table as GET /registry/routes', async () => {
    const body = await query('{ routes { version apps { app domains backends { instance address port host load { cpu } } } } }');
    const rest = await (await dozen.api('/registry/routes')).json();
    assert.equal(body.data.routes.version, rest.version);
    assert.deepEqual(body.data.routes.apps, [
      {
        app: 'chat',
        domains: ['chat.example.net'],
        backends: [
          { instance: 'chat-1', address: '10.0.0.5', port: 3000, host: 'host-g', load: { cpu: 3 } },
          { instance: 'chat-2', address: '10.0.0.6', port: 3000, host: 'host-g', load: null },
        ],
      },
    ]);
  });
});

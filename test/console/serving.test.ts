import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { REPO, startDozen, type DozenProcess } from '../support/dozen-process.js';

/** The console's files over HTTP, and the GraphQL WebSocket beside the broadcast hub's, without a browser. */
describe('serving the console', { timeout: 90_000 }, () => {
  let dozen: DozenProcess;
  const bundle = readdirSync(join(REPO, 'dist/console/assets')).find((name) => name.endsWith('.js'))!;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,broadcast' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('answers the page at / and at every client route under /console without credentials, never cached', async () => {
    for (const path of ['/', '/console', '/console/apps/shop']) {
      const response = await fetch(dozen.url + path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(response.headers.get('cache-control'), 'no-cache');
      assert.match(await response.text(), new RegExp(`/assets/${bundle.replace('.', '\\.')}`));
    }
  });

  it('sends the hashed bundle precompressed as the client accepts, cached for a year', async () => {
    for (const [accept, encoding] of [['br, gzip', 'br'], ['gzip', 'gzip'], ['identity', null]] as const) {
      const response = await fetch(`${dozen.url}/assets/${bundle}`, { headers: { 'accept-encoding': accept } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-encoding'), encoding, accept);
      assert.match(response.headers.get('content-type') ?? '', /^(application|text)\/javascript/);
      assert.match(response.headers.get('cache-control') ?? '', /max-age=31536000.*immutable/);
      assert.match(response.headers.get('vary') ?? '', /accept-encoding/i);
      await response.arrayBuffer();
    }
  });

  it('keeps the API behind a login: a path beside the page and a GraphQL WebSocket without credentials are refused', async () => {
    assert.equal((await fetch(dozen.url + '/registry/services')).status, 401);
    assert.equal((await fetch(dozen.url + '/consolex')).status, 401);
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(dozen.url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws');
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('open', () => reject(new Error('the upgrade was accepted')));
      socket.on('error', reject);
    });
    assert.equal(status, 401);
  });

  it('serves GraphQL subscriptions and the broadcast hub on the same port, each on its own path', async () => {
    const subscription = new WebSocket(dozen.url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws', { headers: { authorization: `Bearer ${dozen.token}` } });
    const first = new Promise<unknown>((resolve, reject) => {
      subscription.on('error', reject);
      subscription.on('open', () => subscription.send(JSON.stringify({ type: 'connection_init' })));
      subscription.on('message', (data) => {
        const frame = JSON.parse(String(data));
        if (frame.type === 'connection_ack') subscription.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { routesChanged { apps { app } } }' } }));
        if (frame.type === 'next') resolve(frame.payload);
      });
    });
    const hub = new WebSocket(`${dozen.url.replace('http', 'ws')}/ws?token=${dozen.token}`);
    const pong = new Promise<string>((resolve, reject) => {
      hub.on('error', reject);
      hub.on('open', () => hub.send(JSON.stringify({ type: 'ping' })));
      hub.on('message', (data) => resolve(String(data)));
    });
    assert.deepEqual(await first, { data: { routesChanged: { apps: [] } } });
    assert.equal(await pong, '{"type":"pong"}');
    subscription.close();
    hub.close();
  });
});

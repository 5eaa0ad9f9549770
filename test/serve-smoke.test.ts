import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { startDockerEngine } from './support/docker-engine.js';
import { startDozen, type DozenProcess } from './support/dozen-process.js';
import { freePort, waitFor } from './support/ports.js';
import { call, startBackend, type TestBackend } from './proxy/helpers.js';

// A whole `dozen serve` as a new user starts it: every module on its embedded
// defaults. The bench runs this file on every Node line (node-lines.ts), once
// with deprecations made fatal.
describe(`dozen serve with every module on Node ${process.versions.node}`, { timeout: 90_000 }, () => {
  let dozen: DozenProcess;
  let proxyPort: number;
  let backend: TestBackend;
  let sockets: WebSocketServer;
  let socketPort: number;

  before(async () => {
    const docker = await startDockerEngine();
    proxyPort = await freePort();
    dozen = await startDozen({ env: { DOZEN_PROXY_LISTEN_PORT: String(proxyPort), DOZEN_DEPLOY_DOCKER_SOCKET_PATH: docker.socketPath } });
    backend = await startBackend('web-1');
    socketPort = await freePort();
    sockets = new WebSocketServer({ host: '127.0.0.1', port: socketPort });
    sockets.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${data}`)));
    await once(sockets, 'listening');
  });
  after(async () => {
    await dozen?.stop();
    await backend?.close();
    sockets?.close();
  });

  async function register(id: string, app: string, port: number, domain: string): Promise<void> {
    const response = await dozen.api('/registry/instances', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, app, address: '127.0.0.1', port, domains: [domain], ttl: 60 }),
    });
    assert.equal(response.status, 201, await response.text());
  }

  it('is up on every module, with no Node warning in its log', async () => {
    const response = await fetch(`${dozen.url}/health`);
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(Object.keys(body.modules).sort(), ['broadcast', 'deploy', 'proxy', 'registry', 'storage']);
    for (const [name, health] of Object.entries(body.modules)) assert.equal((health as { status: string }).status, 'up', `${name}: ${JSON.stringify(health)}`);
    assert.doesNotMatch(dozen.logs(), /\(node:\d+\) .*Warning: |DeprecationWarning/);
  });

  it('proxies a request to a registered backend', async () => {
    await register('web-1', 'web', backend.port, 'web.smoke.test');
    const answer = await waitFor('the route to web', async () => {
      const reply = await call(proxyPort, 'web.smoke.test', '/hello?x=1');
      return reply.status === 200 ? reply : undefined;
    }, 10_000, 20);
    assert.equal(answer.json().backend, 'web-1', dozen.logs());
    assert.equal(answer.json().url, '/hello?x=1');
  });

  it('passes a WebSocket through the proxy both ways', async () => {
    await register('live-1', 'live', socketPort, 'live.smoke.test');
    await waitFor('the route to live', async () => (await call(proxyPort, 'live.smoke.test', '/')).status === 426, 10_000, 20); // ws answers plain requests with 426
    const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/live`, { headers: { host: 'live.smoke.test' } });
    try {
      await once(client, 'open');
      client.send('hello');
      const [reply] = await once(client, 'message');
      assert.equal(String(reply), 'echo hello');
    } finally {
      client.close();
    }
    assert.doesNotMatch(dozen.logs(), /proxy worker died/);
  });
});

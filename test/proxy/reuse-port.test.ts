import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { reusePortUnsupported } from '../../src/proxy/reuse-port.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { call, startBackend, type TestBackend } from './helpers.js';

/**
 * How proxy workers share their port (src/proxy/reuse-port.ts): each on a socket of its own with
 * SO_REUSEPORT where this Node has it (22.12 on), else the primary's one listener. Run on every Node line.
 */
const KERNEL = reusePortUnsupported() === null;

/** The TCP sockets listening on 127.0.0.1:`port`, from the kernel's own table. */
function listeningSockets(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === local && fields[3] === '0A').length;
}

function logLines(dozen: DozenProcess, message: string): Record<string, unknown>[] {
  return dozen
    .logs()
    .split('\n')
    .filter((line) => line.includes(`"msg":"${message}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe(`proxy workers sharing a port (${KERNEL ? 'SO_REUSEPORT' : `primary: ${reusePortUnsupported()}`})`, { timeout: 90_000 }, () => {
  let web: TestBackend;
  const dozens: DozenProcess[] = [];
  const servers: Server[] = [];

  before(async () => {
    web = await startBackend('web-1');
  });
  after(async () => {
    await Promise.all(dozens.map((dozen) => dozen.stop()));
    for (const server of servers) server.close();
    await web?.close();
  });

  async function start(env: Record<string, string>, waitHealthy = true): Promise<DozenProcess> {
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '2', ...env }, waitHealthy });
    dozens.push(dozen);
    return dozen;
  }

  it('each worker listens on a socket of its own where this Node can, and both serve', async () => {
    const port = await freePort();
    const dozen = await start({ DOZEN_PROXY_LISTEN_PORT: String(port) });
    const listening = await waitFor('the proxy to listen', async () => logLines(dozen, 'proxy listening')[0], 20_000, 50);
    assert.equal(listening.accept, KERNEL ? 'kernel' : 'primary', dozen.logs());
    if (!KERNEL) assert.match(String(listening.acceptReason), /has no reusePort in net/);
    assert.equal(listeningSockets(port), KERNEL ? 2 : 1);
    const health = (await (await dozen.api('/proxy/health')).json()) as { details: { accept: { mode: string } } };
    assert.equal(health.details.accept.mode, KERNEL ? 'kernel' : 'primary');

    const registered = await dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'web-1', app: 'web', address: '127.0.0.1', port: web.port, domains: ['web.reuse.test'], ttl: 60 }) });
    assert.equal(registered.status, 201);
    await waitFor('the route to web', async () => (await call(port, 'web.reuse.test', '/')).status === 200, 5_000, 20);
    // Every call is a new connection (no agent): the kernel's hash spreads them over both workers' sockets.
    const answers = await Promise.all(Array.from({ length: 60 }, () => call(port, 'web.reuse.test', '/spread')));
    assert.deepEqual([...new Set(answers.map((answer) => answer.status))], [200]);
    const servedBy = await waitFor('access log lines from both workers', async () => {
      const pids = new Set(logLines(dozen, 'request').filter((line) => line.path === '/spread').map((line) => line.pid));
      return pids.size >= 2 ? pids : undefined;
    }, 5_000, 50);
    assert.ok(!servedBy.has(dozen.child.pid), 'the primary served requests itself');
  });

  it('proxy.reusePort: false keeps the primary\'s one listener', async () => {
    const port = await freePort();
    const dozen = await start({ DOZEN_PROXY_LISTEN_PORT: String(port), DOZEN_PROXY_REUSE_PORT: 'false' });
    const listening = await waitFor('the proxy to listen', async () => logLines(dozen, 'proxy listening')[0], 20_000, 50);
    assert.equal(listening.accept, 'primary');
    assert.equal(listening.acceptReason, 'proxy.reusePort is false');
    assert.equal(listeningSockets(port), 1);
  });

  it('a port another process listens on fails the proxy, never shared with it', async () => {
    const port = await freePort();
    // Where it can, the other process binds with SO_REUSEPORT too: the kernel would share the port with it.
    const other = createServer((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nother'));
    servers.push(other);
    await new Promise<void>((resolve) => other.listen({ port, host: '127.0.0.1', reusePort: KERNEL }, resolve));
    const dozen = await start({ DOZEN_PROXY_LISTEN_PORT: String(port) }, false);
    const health = await waitFor('the proxy to report the port taken', async () => {
      const body = (await (await dozen.api('/proxy/health')).json()) as { status: string; reason?: string };
      return body.reason && !/not started yet/.test(body.reason) ? body : undefined;
    }, 20_000, 100);
    assert.equal(health.status, 'down');
    assert.match(health.reason!, /EADDRINUSE/);
    assert.equal(listeningSockets(port), 1);
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(port, 'web.reuse.test', '/')));
    assert.deepEqual([...new Set(answers.map((answer) => answer.text))], ['other']);
  });
});

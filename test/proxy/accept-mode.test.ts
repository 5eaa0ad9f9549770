import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { reusePortUnsupported } from '../../src/proxy/accept-mode.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { call, startBackend, type TestBackend } from './helpers.js';

/**
 * How proxy workers share their port (src/proxy/accept-mode.ts): `kernel`, each on a socket of its own with
 * SO_REUSEPORT where this Node has it (22.12 on, the default there); `shared`, the primary's one socket, which every worker
 * holds and accepts from; `primary`, the primary's one socket, which no worker holds. Run on every Node line.
 */
const KERNEL = reusePortUnsupported() === null;

/** The inodes of the TCP sockets listening on 127.0.0.1:`port`, from the kernel's own table. */
function listeningSockets(port: number): string[] {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === local && fields[3] === '0A')
    .map((fields) => fields[9]);
}

/** How many of `sockets` process `pid` holds open (its file descriptors name sockets by inode). */
function socketsHeld(pid: number, sockets: string[]): number {
  const held = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } }));
  return sockets.filter((inode) => held.has(`socket:[${inode}]`)).length;
}

function logLines(dozen: DozenProcess, message: string): Record<string, unknown>[] {
  return dozen
    .logs()
    .split('\n')
    .filter((line) => line.includes(`"msg":"${message}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe(`proxy workers sharing a port (auto: ${KERNEL ? 'kernel' : `primary, ${reusePortUnsupported()}`})`, { timeout: 90_000 }, () => {
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

  /** Starts dozen with `accept` (auto when absent), checks who holds which listening sockets, and that both workers serve and the primary none. */
  async function serveWith(accept: string | undefined, expected: { mode: string; reason: RegExp | null; sockets: number; heldByEachWorker: number; heldByPrimary: number }): Promise<void> {
    const port = await freePort();
    const dozen = await start({ DOZEN_PROXY_LISTEN_PORT: String(port), ...(accept ? { DOZEN_PROXY_ACCEPT: accept } : {}) });
    const listening = await waitFor('the proxy to listen', async () => logLines(dozen, 'proxy listening')[0], 20_000, 50);
    assert.equal(listening.accept, expected.mode, dozen.logs());
    if (expected.reason) assert.match(String(listening.acceptReason), expected.reason);
    else assert.equal(listening.acceptReason, undefined);
    const health = (await (await dozen.api('/proxy/health')).json()) as { details: { accept: { mode: string }; engines: { pid: number }[] } };
    assert.equal(health.details.accept.mode, expected.mode);

    const sockets = listeningSockets(port);
    assert.equal(sockets.length, expected.sockets);
    const workers = health.details.engines.map((engine) => engine.pid);
    assert.equal(workers.length, 2);
    for (const pid of workers) assert.equal(socketsHeld(pid, sockets), expected.heldByEachWorker, `worker ${pid}`);
    assert.equal(socketsHeld(dozen.child.pid!, sockets), expected.heldByPrimary, 'the primary');

    const registered = await dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'web-1', app: 'web', address: '127.0.0.1', port: web.port, domains: ['web.reuse.test'], ttl: 60 }) });
    assert.equal(registered.status, 201);
    await waitFor('the route to web', async () => (await call(port, 'web.reuse.test', '/')).status === 200, 5_000, 20);
    // Every call is a new connection (no agent): the kernel's hash, or whichever worker wakes, spreads them.
    const servedBy = await waitFor('access log lines from both workers', async () => {
      const answers = await Promise.all(Array.from({ length: 30 }, () => call(port, 'web.reuse.test', '/spread')));
      assert.deepEqual([...new Set(answers.map((answer) => answer.status))], [200]);
      const pids = new Set(logLines(dozen, 'request').filter((line) => line.path === '/spread').map((line) => line.pid));
      return pids.size >= 2 ? pids : undefined;
    }, 10_000, 100);
    assert.ok(!servedBy.has(dozen.child.pid), 'the primary served requests itself');
  }

  it('auto: each worker on a socket of its own where this Node can, else the primary\'s round robin', async () => {
    if (KERNEL) await serveWith(undefined, { mode: 'kernel', reason: null, sockets: 2, heldByEachWorker: 1, heldByPrimary: 0 });
    else await serveWith(undefined, { mode: 'primary', reason: /has no reusePort in net/, sockets: 1, heldByEachWorker: 0, heldByPrimary: 1 });
  });

  it('proxy.accept: shared: every worker accepts from the primary\'s one socket', async () => {
    await serveWith('shared', { mode: 'shared', reason: /proxy\.accept is shared/, sockets: 1, heldByEachWorker: 1, heldByPrimary: 1 });
  });

  it('proxy.accept: primary: the primary alone holds the socket and hands connections round robin', async () => {
    await serveWith('primary', { mode: 'primary', reason: /proxy\.accept is primary/, sockets: 1, heldByEachWorker: 0, heldByPrimary: 1 });
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
    assert.equal(listeningSockets(port).length, 1);
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(port, 'web.reuse.test', '/')));
    assert.deepEqual([...new Set(answers.map((answer) => answer.text))], ['other']);
  });
});

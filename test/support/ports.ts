import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { FETCH_BLOCKED_PORTS } from '../../src/config/listen.js';

/**
 * Test ports come from below the kernel's ephemeral range. A port found free there stays free until the
 * test listens on it: no outgoing connection and no listen(0) takes one, where a port the kernel gave
 * to listen(0) and got back could go to the next process's outgoing connection (a fresh-clone run had
 * a dozen host fail with EADDRINUSE that way). Test files run in parallel processes: each picks at
 * random, never hands out the same port twice itself, and under the test bench claims each port in the
 * run's directory (DOZEN_TEST_PORT_CLAIMS), so no two processes of one run get the same port while one
 * of them is still starting whatever will listen on it (random picks alone collided: a dozen takes
 * seconds to start). Ports that fetch() refuses ("bad port", 10080 in this range) are never handed out:
 * a test's fetch to a dozen listening there fails however long it waits.
 */
const RANGE = testPortRange();
const handedOut = new Set<number>();

function testPortRange(): { low: number; high: number } | undefined {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the usual default.
  }
  return ephemeralLow - 10_000 >= 1000 ? { low: 10_000, high: ephemeralLow - 1 } : undefined;
}

/** Claims `port` for this process in the test bench's run (a file named after it); false when another process has. */
function claim(port: number): boolean {
  const dir = process.env.DOZEN_TEST_PORT_CLAIMS;
  if (!dir) return true;
  try {
    writeFileSync(join(dir, String(port)), '', { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

/** Listens on 127.0.0.1:`port` (0: any); the server, or undefined when the port is taken. */
function holdPort(port: number): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' || error.code === 'EACCES' ? resolve(undefined) : reject(error)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** Not handed out by this process yet, and one that fetch() connects to. */
function usable(port: number): boolean {
  return !handedOut.has(port) && !FETCH_BLOCKED_PORTS.has(port);
}

async function holdFreePort(): Promise<Server> {
  for (let attempt = 0; RANGE && attempt < 500; attempt++) {
    const port = RANGE.low + Math.floor(Math.random() * (RANGE.high - RANGE.low + 1));
    if (!usable(port) || !claim(port)) continue;
    const server = await holdPort(port);
    if (server) return server;
  }
  // No room below the ephemeral range (or all tried were taken): let the kernel pick.
  for (;;) {
    const server = await holdPort(0);
    if (server && usable((server.address() as { port: number }).port)) return server;
    server?.close();
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** `count` different free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let index = 0; index < count; index++) {
      const server = await holdFreePort();
      servers.push(server);
      handedOut.add((server.address() as { port: number }).port);
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** Thrown by a waitFor probe to stop waiting at once (the thing waited for died). */
export class GiveUp extends Error {}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

import cluster from 'node:cluster';
import { createServer } from 'node:net';

/**
 * How proxy workers share a listening port.
 *
 * - `kernel`: each worker listens on a socket of its own, all bound with
 *   SO_REUSEPORT, and Linux spreads new connections among them by a hash of
 *   the connection's addresses, as nginx's `listen ... reuseport` does. No
 *   process stands between the kernel and the worker that serves. A worker
 *   that dies loses the connections waiting in its own accept queue (the
 *   kernel resets them).
 * - `shared`: the primary binds one socket and passes it to every worker,
 *   which accept from it themselves (node:cluster's SCHED_NONE), as nginx
 *   did before reuseport. Nothing per connection goes through the primary
 *   either, and a worker that dies loses nothing queued; but the worker that
 *   wakes first accepts every connection waiting (libuv accepts until the
 *   queue is empty), so a burst lands on one worker: 60 connections opened at
 *   once were all served by one of two workers, and long-lived connections
 *   (WebSockets, keep-alive clients) stay where they landed. Opt-in.
 * - `primary`: node:cluster's round robin: the primary accepts every
 *   connection and sends its handle to a worker over IPC, in strict turn.
 *   That costs the primary and the worker 0.1-0.5 ms of CPU per connection,
 *   a third or more of what a resumed TLS handshake costs (`npm run bench:proxy:tls`,
 *   docs/proxy.md).
 *
 * `auto` (the default) is `kernel` where Node (22.12 and 23.1 on) and the OS
 * have it, else `primary`: both spread connections evenly.
 */
export type AcceptMode = 'kernel' | 'shared' | 'primary';
export type AcceptSetting = 'auto' | AcceptMode;

/** The mode the proxy runs, and why it is not `kernel` (null when it is). */
export interface AcceptChoice {
  mode: AcceptMode;
  reason: string | null;
}

/** Why this Node or OS cannot spread connections in the kernel; null when it can. */
export function reusePortUnsupported(version = process.versions.node, platform: string = process.platform): string | null {
  if (platform !== 'linux') return `SO_REUSEPORT balancing is used on Linux only (this is ${platform})`;
  const [major, minor] = version.split('.').map(Number);
  if (major >= 24 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)) return null;
  return `Node ${version} has no reusePort in net (it came in 22.12 and 23.1)`;
}

/**
 * The mode for `proxy.accept` (and the deprecated `proxy.reusePort: false`, which meant `primary`).
 * `kernel` asked of a Node or OS without it falls back to `primary`, saying why: a fleet may run mixed Node lines.
 */
export function chooseAccept(setting: { accept: AcceptSetting; reusePort?: boolean; workers: number }, unsupported = reusePortUnsupported()): AcceptChoice {
  if (setting.workers === 0) return { mode: 'primary', reason: 'proxy.workers is 0: one process serves' };
  if (setting.accept === 'auto' && setting.reusePort === false) return { mode: 'primary', reason: 'proxy.reusePort is false (deprecated: write proxy.accept: primary)' };
  if (setting.accept === 'shared' || setting.accept === 'primary') return { mode: setting.accept, reason: `proxy.accept is ${setting.accept}` };
  return unsupported ? { mode: 'primary', reason: unsupported } : { mode: 'kernel', reason: null };
}

/** The scheduling policy node:cluster froze at its first fork in this process (it cannot change after). */
let frozenPolicy: number | null = null;

/**
 * Sets node:cluster's scheduling for `mode` before the first fork: SCHED_NONE hands the listening
 * socket to the workers (`shared`), SCHED_RR keeps it in the primary (`primary`; `kernel` workers bind
 * their own sockets and never ask). node:cluster reads it once per process, so a later cluster that
 * needs the other policy fails rather than silently running the first one's.
 */
export function setClusterScheduling(mode: AcceptMode): void {
  const wanted = mode === 'shared' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  if (frozenPolicy !== null) {
    const compatible = mode === 'kernel' || frozenPolicy === wanted;
    if (!compatible) throw new Error(`proxy.accept ${mode} needs node:cluster's ${mode === 'shared' ? 'SCHED_NONE' : 'SCHED_RR'}, but this process forked its first workers with the other; restart dozen`);
    return;
  }
  cluster.schedulingPolicy = wanted;
  frozenPolicy = wanted;
}

/**
 * Fails with EADDRINUSE when another process listens on `host:port`. Sockets bound with SO_REUSEPORT
 * would otherwise share the port with it (of the same user) instead of failing, as the primary's
 * one listener does: a second dozen started by mistake would take half the traffic silently.
 */
export function assertPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // A client that connects in the probe's instant is cut rather than left hanging on a socket nobody serves.
    const probe = createServer((socket) => socket.destroy());
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

import { createServer } from 'node:net';

/**
 * How proxy workers share a listening port.
 *
 * - `kernel`: each worker listens on a socket of its own, all bound with
 *   SO_REUSEPORT, and Linux spreads new connections among them by a hash of
 *   the connection's addresses, as nginx's `listen ... reuseport` does. No
 *   process stands between the kernel and the worker that serves.
 * - `primary`: node:cluster's round robin: the primary accepts every
 *   connection and sends its handle to a worker over IPC. That costs the
 *   primary and the worker about 0.2 ms of CPU per connection (measured with
 *   `npm run bench:proxy:tls`, handshakes: 0.80 -> 0.60 ms per connection
 *   with `kernel`), which is most of what a resumed TLS handshake costs.
 *
 * `kernel` needs `reusePort` in net's listen (Node 22.12 and 23.1 on) and
 * Linux; with it, a worker that dies loses the connections waiting in its
 * own accept queue (the kernel resets them), where the primary would have
 * kept them for the next worker: `proxy.reusePort: false` keeps `primary`.
 */
export type AcceptMode = 'kernel' | 'primary';

/** Why this Node or OS cannot spread connections in the kernel; null when it can. */
export function reusePortUnsupported(version = process.versions.node, platform: string = process.platform): string | null {
  if (platform !== 'linux') return `SO_REUSEPORT balancing is used on Linux only (this is ${platform})`;
  const [major, minor] = version.split('.').map(Number);
  if (major >= 24 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)) return null;
  return `Node ${version} has no reusePort in net (it came in 22.12 and 23.1)`;
}

/**
 * Fails with EADDRINUSE when another process listens on `host:port`. Sockets bound with SO_REUSEPORT
 * would otherwise share the port with it (of the same user) instead of failing, as the primary's
 * one listener does: a second dozen started by mistake would take half the traffic silently.
 */
export function assertPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BalanceRequest } from './balancers/index.js';
import type { RouteEntry } from './route-table.js';
import { refuse } from './http1/refuse.js';
import type { Upstream } from './upstreams.js';

/**
 * Passes a WebSocket (or any HTTP/1.1 Upgrade) through: opens a TCP connection
 * to a backend chosen by the app's balancer, replays the handshake with the
 * proxy's headers, then splices the two sockets. A backend that refuses the
 * connection is replaced by another (at most `retries` times).
 */
export function passUpgrade(
  client: Duplex,
  /** The handshake for the backend, ready to write. */
  handshake: string,
  /** Bytes the client sent after its handshake. */
  head: Buffer,
  entry: RouteEntry<Upstream>,
  balance: BalanceRequest,
  options: { retries: number; connectTimeout: number; idleTimeout: number; onDone(backend: string | null, status: number, error: string | null): void },
): void {
  const tried = new Set<number>();
  client.on('error', () => client.destroy());

  const attempt = () => {
    const index = entry.balancer(entry.targets, balance, tried);
    if (index < 0 || tried.size > options.retries) {
      refuse(client, 502, 'bad_gateway', `no backend of ${entry.app} accepted the connection`);
      options.onDone(null, 502, 'connect_refused');
      return;
    }
    tried.add(index);
    const { backend, upstream } = entry.targets[index];
    const socket: Socket = connect({ host: backend.address, port: backend.port, timeout: options.connectTimeout });
    let open = false;
    socket.once('timeout', () => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
    socket.once('connect', () => {
      open = true;
      socket.setTimeout(options.idleTimeout);
      socket.setNoDelay(true);
      socket.write(handshake, 'latin1');
      if (head.length) socket.write(head);
      socket.pipe(client);
      client.pipe(socket);
      options.onDone(upstream.key, 101, null);
    });
    socket.on('error', () => {
      if (!open && !client.destroyed) {
        upstream.markDown();
        socket.destroy();
        attempt();
        return;
      }
      client.destroy();
    });
    socket.on('close', () => client.destroy());
    client.on('close', () => socket.destroy());
  };
  attempt();
}

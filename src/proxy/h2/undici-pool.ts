import { Pool } from 'undici';
import type { ProxyServerOptions } from '../proxy.server.js';
import type { UndiciPool } from './undici-exchange.js';

/** How long a warm connection to a backend is kept without traffic (the backend's Keep-Alive hint may shorten it). */
const KEEP_ALIVE_MS = 30_000;

/** An undici pool to one backend, for HTTP/2 clients' streams (made only when one arrives). */
export function createUndiciPool(address: string, port: number, options: ProxyServerOptions): UndiciPool {
  const host = address.includes(':') ? `[${address}]` : address;
  return new Pool(`http://${host}:${port}`, {
    // undici has no cap on idle connections (they close after keepAliveTimeout), only this one on all.
    connections: options.upstreamMaxConnections || null,
    connect: { timeout: options.timeouts.connect, noDelay: true },
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
  }) as UndiciPool;
}

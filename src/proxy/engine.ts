/**
 * The seam between the proxy's engine-neutral core (route table, policies,
 * authenticators, upstream choice: proxy-core.ts) and the code that speaks
 * HTTP/1.1 on sockets. Two engines implement it, both the HTTP/1.1 engine of
 * http1/http1-proxy.ts with their own I/O (http1/io.ts):
 *
 * - `fast` (http1/http1.engine.ts): llhttp reached through Node's internals
 *   (`_http_common`, `socket._handle`, `process.binding`), near nginx's
 *   speed; it checks itself at start (http1/self-test.ts).
 * - `portable` (portable/): llhttp as WebAssembly, public APIs only, so it
 *   runs on any Node that runs dozen.
 *
 * Engine modules are imported only when chosen (engine-choice.ts), so a Node
 * that lacks an internal the fast engine needs can still run dozen.
 */
import type { AddressInfo, Server } from 'node:net';
import type { ProxyCore } from './proxy-core.js';
import type { ProxyServerOptions } from './proxy.server.js';
import type { BackendPool } from './upstreams.js';

export type EngineName = 'fast' | 'portable';
/** `proxy.engine`: `auto` runs the fast engine when its self-test passes, else the portable one. */
export type EngineSetting = 'auto' | EngineName;

/** Which engine a worker runs and why (health, metrics, the start log). */
export interface EngineReport {
  engine: EngineName;
  reason: string;
  /** `auto` wanted the fast engine and fell back (a warning is logged once). */
  fallback: boolean;
  /** Who terminates TLS on the TLS listener, once it listens: the fast engine itself through Node's TLSWrap (tls/lean-tls.ts), or node:tls. */
  tls?: TlsTerminator;
}

export type TlsTerminator = 'TLSWrap' | 'node:tls';

/** proxy.maxConnections' default, also for a ProxyServer made without it (tests, the engine self-test). */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** One running listener: serves what the core admits, forwards to the core's backends. */
export interface ProxyEngine {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host: string, sharing?: PortSharing): Promise<number>;
  /** Starts the TLS listener (certificates by SNI from the core's ServedCertificates); resolves with the bound port. */
  listenTls(port: number, host: string, sharing?: PortSharing): Promise<number>;
  /** Stops accepting on every listener, lets requests in progress finish (5 s at most). */
  close(): Promise<void>;
  /** Who terminates TLS, once listenTls has resolved; null before, or without TLS. */
  readonly tlsTerminator: TlsTerminator | null;
}

/** What an engine module exports: its kind of backend pool, and the engine over a core holding such pools. */
export interface EngineModule<Pool extends BackendPool = BackendPool> {
  createPool(address: string, port: number, options: ProxyServerOptions): Pool;
  createEngine(core: ProxyCore<Pool>, options: ProxyServerOptions): ProxyEngine;
}

/**
 * How a listener in a cluster worker shares its port. By default the workers share the primary's
 * listener (and so one port 0). `exclusive`: a port of this process alone. `reusePort`: a socket of
 * this worker's own, bound with SO_REUSEPORT beside its siblings' (accept-mode.ts).
 */
export interface PortSharing {
  exclusive?: boolean;
  reusePort?: boolean;
}

/** Starts `server` listening (both engines' servers are net.Servers); resolves with the bound port (useful with port 0). */
export function listenOn(server: Server, port: number, host: string, sharing: PortSharing = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: sharing.exclusive ?? false, reusePort: sharing.reusePort ?? false }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

import { UpstreamPool } from './http1/upstream-pool.js';
import type { Backend } from '../registry/routes.js';

/** How long a backend that refused a connection is passed over while others are left. */
const DOWN_FOR_MS = 2_000;

export interface UpstreamOptions {
  connections: number;
  connectTimeout: number;
}

/** How long a warm connection to a backend is kept without traffic. */
const KEEP_ALIVE_MS = 30_000;

/** One backend's keep-alive connections and what this worker knows of it right now. */
export class Upstream {
  /** This worker's requests in flight to the backend (least-load reads it). */
  inflight = 0;
  /** Until when (ms since epoch) the backend is passed over after a failed connect. */
  downUntil = 0;
  readonly pool: UpstreamPool;

  constructor(
    readonly key: string,
    readonly address: string,
    readonly port: number,
    options: UpstreamOptions,
  ) {
    this.pool = new UpstreamPool(address, port, { connections: options.connections, connectTimeout: options.connectTimeout, keepAliveTimeout: KEEP_ALIVE_MS });
  }

  markDown(now = Date.now()): void {
    this.downUntil = now + DOWN_FOR_MS;
  }

  isDown(): boolean {
    // Most backends were never marked: no clock read for them.
    return this.downUntil !== 0 && this.downUntil > Date.now();
  }
}

/**
 * The pools of every backend currently in the route table, keyed by
 * address:port so a route swap keeps warm connections. A backend that leaves
 * the table has its pool closed gracefully: requests already on it finish.
 */
export class Upstreams {
  private readonly byKey = new Map<string, Upstream>();

  constructor(private readonly options: UpstreamOptions) {}

  get(backend: Backend): Upstream {
    const host = backend.address.includes(':') ? `[${backend.address}]` : backend.address;
    const key = `${host}:${backend.port}`;
    let upstream = this.byKey.get(key);
    if (!upstream) {
      upstream = new Upstream(key, backend.address, backend.port, this.options);
      this.byKey.set(key, upstream);
    }
    return upstream;
  }

  /** Closes the pools of backends no longer in `kept`. */
  retain(kept: Iterable<Upstream>): void {
    const keep = new Set(kept);
    for (const [key, upstream] of this.byKey) {
      if (keep.has(upstream)) continue;
      this.byKey.delete(key);
      upstream.pool.close();
    }
  }

  close(): void {
    for (const upstream of this.byKey.values()) upstream.pool.close();
    this.byKey.clear();
  }
}

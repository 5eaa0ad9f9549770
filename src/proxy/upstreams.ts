import { Pool } from 'undici';
import type { Backend } from '../registry/routes.js';

/** How long a backend that refused a connection is passed over while others are left. */
const DOWN_FOR_MS = 2_000;

export interface UpstreamOptions {
  connections: number;
  connectTimeout: number;
  headersTimeout: number;
  idleTimeout: number;
}

/** One backend's keep-alive connections and what this worker knows of it right now. */
export class Upstream {
  /** This worker's requests in flight to the backend (least-load reads it). */
  inflight = 0;
  /** Until when (ms since epoch) the backend is passed over after a failed connect. */
  downUntil = 0;
  readonly pool: Pool;

  constructor(
    readonly key: string,
    origin: string,
    options: UpstreamOptions,
  ) {
    this.pool = new Pool(origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: options.headersTimeout,
      bodyTimeout: options.idleTimeout,
      connect: { timeout: options.connectTimeout },
    });
  }

  markDown(now = Date.now()): void {
    this.downUntil = now + DOWN_FOR_MS;
  }

  isDown(now: number): boolean {
    return this.downUntil > now;
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
      upstream = new Upstream(key, `http://${key}`, this.options);
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
      void upstream.pool.close().catch(() => upstream.pool.destroy());
    }
  }

  async close(): Promise<void> {
    const all = [...this.byKey.values()];
    this.byKey.clear();
    await Promise.all(all.map((upstream) => upstream.pool.destroy()));
  }
}

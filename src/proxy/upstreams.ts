import type { Backend } from '../registry/routes.js';

/** How long a backend that refused a connection is passed over while others are left. */
const DOWN_FOR_MS = 2_000;

/** An engine's keep-alive connections to one backend (each engine brings its own kind). */
export interface BackendPool {
  /** Closes idle connections now, busy ones when their exchange ends. */
  close(): void;
}

/** Makes the pool of one backend; called once per backend while it stays in the route table. */
export type PoolFactory<Pool extends BackendPool> = (address: string, port: number) => Pool;

/** One backend's keep-alive connections and what this worker knows of it right now. */
export class Upstream<Pool extends BackendPool = BackendPool> {
  /** This worker's requests in flight to the backend (least-load reads it). */
  inflight = 0;
  /** Until when (ms since epoch) the backend is passed over after a failed connect. */
  downUntil = 0;
  readonly pool: Pool;

  constructor(
    readonly key: string,
    readonly address: string,
    readonly port: number,
    createPool: PoolFactory<Pool>,
  ) {
    this.pool = createPool(address, port);
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
export class Upstreams<Pool extends BackendPool = BackendPool> {
  private readonly byKey = new Map<string, Upstream<Pool>>();

  constructor(private readonly createPool: PoolFactory<Pool>) {}

  get(backend: Backend): Upstream<Pool> {
    const host = backend.address.includes(':') ? `[${backend.address}]` : backend.address;
    const key = `${host}:${backend.port}`;
    let upstream = this.byKey.get(key);
    if (!upstream) {
      upstream = new Upstream(key, backend.address, backend.port, this.createPool);
      this.byKey.set(key, upstream);
    }
    return upstream;
  }

  /** Closes the pools of backends no longer in `kept`. */
  retain(kept: Iterable<Upstream<Pool>>): void {
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

/**
 * What the registry tells the proxy: for every app, its domains and its
 * healthy backends with their latest load. The registry module exports
 * RegistryService with `routes()` (the current snapshot) and
 * `watchRoutes(listener)` (called with a new snapshot on every change of
 * instances, health or load); the proxy swaps its table on each call.
 */
export interface Load {
  /** CPU use in percent of one core (may exceed 100 on several cores). */
  cpu: number;
  /** Resident memory in bytes. */
  memory: number;
  processes: number;
  /** Requests being served right now, as the instance or its proxy reports. */
  inflight: number;
  /** When the figures were sampled (ms since epoch); older than 3 s counts as unknown. */
  at: number;
}

export interface Backend {
  instance: string;
  app: string;
  address: string;
  port: number;
  host: string;
  /** null when no figures arrived in the last 3 s. */
  load: Load | null;
}

export interface AppRoute {
  app: string;
  /** Exact names (`chat.app.example.net`) and one-label wildcards (`*.app.example.net`). */
  domains: string[];
  /** Healthy (passing) instances only. */
  backends: Backend[];
}

export interface RouteSnapshot {
  /** Grows with every change; lets a consumer tell a newer snapshot from an older one. */
  version: number;
  apps: AppRoute[];
}

export const LOAD_STALE_AFTER_MS = 3000;

/** What the proxy reads routes from; RegistryModule provides and exports it under ROUTE_SOURCE. */
export interface RouteSource {
  /** The current snapshot (never blocks). */
  routes(): RouteSnapshot;
  /** Calls `listener` with each new snapshot; returns the unsubscribe function. */
  watchRoutes(listener: (snapshot: RouteSnapshot) => void): () => void;
}

export const ROUTE_SOURCE = Symbol('ROUTE_SOURCE');

import type { CatalogInstance } from './catalog.js';
import { LOAD_STALE_AFTER_MS, type AppRoute, type Load, type RouteSnapshot } from './routes.js';

/** Figures no older than LOAD_STALE_AFTER_MS at `now`, else null (unknown). */
export function freshLoad(load: Load | undefined, now: number): Load | null {
  return load && now - load.at <= LOAD_STALE_AFTER_MS ? load : null;
}

/**
 * The proxy's view: per app, the union of its instances' domains and its
 * passing instances with fresh load. Apps with no passing instance keep their
 * domains with no backends, so the proxy can answer 503 rather than 404.
 */
export function buildSnapshot(version: number, instances: CatalogInstance[], loads: ReadonlyMap<string, Load>, now: number): RouteSnapshot {
  const apps = new Map<string, AppRoute>();
  for (const instance of instances) {
    let route = apps.get(instance.app);
    if (!route) {
      route = { app: instance.app, domains: [], backends: [] };
      apps.set(instance.app, route);
    }
    for (const domain of instance.domains) if (!route.domains.includes(domain)) route.domains.push(domain);
    if (instance.status !== 'passing') continue;
    route.backends.push({
      instance: instance.id, app: instance.app, address: instance.address, port: instance.port, host: instance.host,
      load: freshLoad(loads.get(instance.id), now),
    });
  }
  const sorted = [...apps.values()].sort((a, b) => (a.app < b.app ? -1 : 1));
  for (const route of sorted) {
    route.domains.sort();
    route.backends.sort((a, b) => (a.instance < b.instance ? -1 : 1));
  }
  return { version, apps: sorted };
}

import type { Backend, RouteSnapshot } from '../registry/routes.js';
import { BALANCER, type Balancer, type Target } from './balancers/index.js';
import { hashString } from './balancers/balancer.js';
import { DEFAULT_POLICY, type AppPolicy, type PolicySet } from './policy.js';

/** A backend in the table, with the connection state the proxy keeps for it across table swaps. */
export interface RouteTarget<Upstream extends { inflight: number }> extends Target {
  readonly backend: Backend;
  readonly upstream: Upstream;
}

/** What a Host resolves to: the app, its policy, its healthy backends and its balancer. */
export interface RouteEntry<Upstream extends { inflight: number }> {
  readonly app: string;
  readonly policy: AppPolicy;
  readonly balancer: Balancer;
  readonly targets: readonly RouteTarget<Upstream>[];
  /** The Strict-Transport-Security line added to the app's responses over TLS ('' for none). */
  readonly hsts: string;
}

/**
 * An immutable snapshot of domain -> app, built off the request path from the
 * registry's snapshot and the apps' policies, and swapped whole. Lookup is an
 * exact match first, then a one-label wildcard: `a.app.example.net` matches
 * `*.app.example.net`, `b.a.app.example.net` does not.
 */
export class RouteTable<Upstream extends { inflight: number }> {
  private constructor(
    readonly version: number,
    private readonly exact: Map<string, RouteEntry<Upstream>>,
    private readonly wildcard: Map<string, RouteEntry<Upstream>>,
    readonly entries: readonly RouteEntry<Upstream>[],
  ) {}

  static empty<Upstream extends { inflight: number }>(): RouteTable<Upstream> {
    return new RouteTable<Upstream>(0, new Map(), new Map(), []);
  }

  /**
   * `upstreamFor` gives the long-lived state of a backend (its connection pool,
   * its in-flight count), so a table swap keeps connections and counts.
   * When two apps claim one domain, the app whose name sorts first keeps it.
   */
  static build<Upstream extends { inflight: number }>(
    snapshot: RouteSnapshot,
    policies: PolicySet,
    upstreamFor: (backend: Backend) => Upstream,
  ): RouteTable<Upstream> {
    const exact = new Map<string, RouteEntry<Upstream>>();
    const wildcard = new Map<string, RouteEntry<Upstream>>();
    const entries: RouteEntry<Upstream>[] = [];
    for (const route of [...snapshot.apps].sort((a, b) => a.app.localeCompare(b.app))) {
      const policy = policies[route.app] ?? DEFAULT_POLICY;
      const targets = [...route.backends]
        .sort((a, b) => a.instance.localeCompare(b.instance))
        .map((backend) => ({ id: backend.instance, hash: hashString(backend.instance), load: backend.load, backend, upstream: upstreamFor(backend) }));
      const entry: RouteEntry<Upstream> = { app: route.app, policy, balancer: BALANCER[policy.balancer], targets, hsts: hstsLine(policy) };
      entries.push(entry);
      for (const domain of route.domains) {
        const name = normalizeHost(domain);
        if (name.startsWith('*.')) {
          if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), entry);
        } else if (!exact.has(name)) {
          exact.set(name, entry);
        }
      }
    }
    return new RouteTable(snapshot.version, exact, wildcard, entries);
  }

  /** The entry serving a Host header value (any case, with or without port or trailing dot). */
  lookup(hostHeader: string | undefined): RouteEntry<Upstream> | undefined {
    if (!hostHeader) return undefined;
    // Most clients send the name as it is registered: one lookup, no new string.
    const direct = this.exact.get(hostHeader);
    if (direct) return direct;
    const host = normalizeHost(hostHeader);
    const found = this.exact.get(host);
    if (found) return found;
    const dot = host.indexOf('.');
    return dot > 0 ? this.wildcard.get(host.slice(dot + 1)) : undefined;
  }
}

/** `Chat.Example.NET.:8080` -> `chat.example.net`; `[::1]:80` -> `[::1]`. */
export function normalizeHost(value: string): string {
  let host = value.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

function hstsLine(policy: AppPolicy): string {
  if (!policy.hsts) return '';
  return `strict-transport-security: max-age=${policy.hsts.maxAge}${policy.hsts.includeSubDomains ? '; includeSubDomains' : ''}\r\n`;
}

/**
 * Which domains get an ACME order, and when: pure functions of the routes, the
 * apps' policies and what the database holds, so the rules read in one place.
 */

/** What the planner needs to know about one domain's stored certificate (times in ms since epoch). */
export interface DomainState {
  domain: string;
  notBefore: number | null;
  notAfter: number | null;
  /** No order before this (backoff after a failure). */
  nextAttemptAt: number | null;
}

export interface RenewalRules {
  /** Renew this long before expiry (config renewBeforeDays)... */
  renewBeforeMs: number;
}

/** A name a CA can validate over HTTP-01: lower-case DNS labels, at least two, the last not all digits; never a wildcard or an IP. */
export function orderable(domain: string): boolean {
  if (domain.length > 253 || domain.startsWith('*')) return false;
  const labels = domain.split('.');
  if (labels.length < 2 || /^[0-9]+$/.test(labels[labels.length - 1])) return false;
  return labels.every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
}

/**
 * The domains to hold ACME certificates for: every exact domain an app with
 * `tls: auto` serves, minus the names a certificate file covers. A wildcard, an
 * IP or a domain no app serves is never ordered.
 */
export function wantedDomains(apps: { app: string; domains: string[] }[], tlsOf: (app: string) => string, fileDomains: ReadonlySet<string>): string[] {
  const wanted = new Set<string>();
  for (const route of apps) {
    if (tlsOf(route.app) !== 'auto') continue;
    for (const domain of route.domains) {
      const name = domain.toLowerCase();
      if (orderable(name) && !fileDomains.has(name)) wanted.add(name);
    }
  }
  return [...wanted].sort();
}

/**
 * When a domain's next order is due: at once without a certificate; otherwise
 * `renewBefore` ahead of expiry, and at the latest when a third of the
 * lifetime is left (a 6-day certificate is renewed 2 days ahead, not 30); never
 * before a backoff ends.
 */
export function dueAt(state: DomainState | undefined, rules: RenewalRules): number {
  const backoff = state?.nextAttemptAt ?? 0;
  if (!state || state.notAfter === null) return backoff;
  const lifetime = state.notBefore === null ? Infinity : state.notAfter - state.notBefore;
  const window = Math.min(rules.renewBeforeMs, lifetime / 3);
  return Math.max(state.notAfter - window, backoff);
}

/** The domains due at `now` (most overdue first) and when the next one not yet due will be. */
export function plan(wanted: string[], states: ReadonlyMap<string, DomainState>, rules: RenewalRules, now: number): { due: string[]; nextAt: number | null } {
  const times = wanted.map((domain) => ({ domain, at: dueAt(states.get(domain), rules) }));
  const due = times.filter((entry) => entry.at <= now).sort((a, b) => a.at - b.at || (a.domain < b.domain ? -1 : 1)).map((entry) => entry.domain);
  const later = times.filter((entry) => entry.at > now).map((entry) => entry.at);
  return { due, nextAt: later.length ? Math.min(...later) : null };
}

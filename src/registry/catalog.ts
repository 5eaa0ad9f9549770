/**
 * The catalog: the only seam through which the registry talks to the engine
 * that keeps instances and key/values (a Consul agent, or the embedded
 * in-process catalog). Both adapters keep the same semantics, checked by one
 * contract suite (test/registry/catalog.contract.test.ts):
 *
 * - an instance is registered with a TTL check that starts passing; a missed
 *   TTL turns it critical; critical for `deregisterAfterMs` removes it;
 * - a watch is called once with the current state as soon as it is set up,
 *   then after every change of what it watches, never on nothing;
 * - the key/value store holds strings under `/`-separated keys; a write or
 *   delete can be made conditional on the key's modifyIndex (check-and-set),
 *   the one primitive a lock across hosts needs.
 */
export type HealthStatus = 'passing' | 'warning' | 'critical';

export interface InstanceRegistration {
  /** Unique in the cluster; Consul's service ID. */
  id: string;
  /** The app it serves; Consul's service name. */
  app: string;
  address: string;
  port: number;
  /** The dozen host it runs on (config `host.name`). */
  host: string;
  /** RFC 1123 names, each owned by one app (see domains.ts). */
  domains: string[];
  release?: string;
  /** Free-form string pairs the registering program wants to keep. */
  meta: Record<string, string>;
  /** The TTL check must be renewed (pass) within this. */
  ttlMs: number;
  /** Removed after being critical this long. */
  deregisterAfterMs: number;
}

export interface CatalogInstance extends InstanceRegistration {
  status: HealthStatus;
}

export interface KvEntry {
  key: string;
  value: string;
  /** Grows on each write of this key; lets a reader tell versions apart. */
  modifyIndex: number;
}

export interface Catalog {
  /** Adds or replaces the instance with the same id; its check starts passing. */
  register(registration: InstanceRegistration): Promise<void>;
  /** Renews the TTL check (status passing). False when the catalog has no such instance. */
  pass(id: string): Promise<boolean>;
  /** Removes the instance and its check. False when the catalog has no such instance. */
  deregister(id: string): Promise<boolean>;
  /** Every dozen instance the catalog knows, with its health. */
  instances(): Promise<CatalogInstance[]>;
  /** Calls `listener` with all instances now, then after each change of instances or health. */
  watchInstances(listener: (instances: CatalogInstance[]) => void): () => void;

  /** The entry at exactly `key`, or null. */
  kvGet(key: string): Promise<KvEntry | null>;
  /** Every entry whose key starts with `prefix`, sorted by key. */
  kvList(prefix: string): Promise<KvEntry[]>;
  kvPut(key: string, value: string): Promise<void>;
  /**
   * Writes `key` only if its modifyIndex is still `index` (0: only if the key does not exist);
   * true when written. Consul's `?cas=`.
   */
  kvPutIfIndex(key: string, value: string, index: number): Promise<boolean>;
  /** Deletes `key` only if its modifyIndex is still `index`; true when deleted or already gone (Consul's `DELETE ?cas=`). */
  kvDeleteIfIndex(key: string, index: number): Promise<boolean>;
  /** Deletes `key`, or with `recurse` every key starting with it. */
  kvDelete(key: string, options?: { recurse?: boolean }): Promise<void>;
  /** Calls `listener` with every entry under `prefix` now, then after each change under it. */
  watchKv(prefix: string, listener: (entries: KvEntry[]) => void): () => void;

  /** Throws, saying why, when the engine cannot be reached (the module's health check). */
  check(): Promise<void>;
  /** Stops watches and timers. */
  close(): Promise<void>;
}

export const CATALOG = Symbol('CATALOG');

/** A key the KV store accepts: non-empty, no leading `/`, printable, at most 512 characters. */
export function assertKvKey(key: string, allowEmpty = false): void {
  if ((!allowEmpty && key.length === 0) || key.length > 512 || key.startsWith('/') || /[\u0000-\u001f\u007f]/.test(key)) {
    throw new Error(`invalid key ${JSON.stringify(key)}: expected 1-512 printable characters, not starting with /`);
  }
}

/** Same set, same health: used by adapters so a watch never fires on nothing. */
export function sameInstances(a: CatalogInstance[], b: CatalogInstance[]): boolean {
  const canonical = (list: CatalogInstance[]) =>
    JSON.stringify(
      sortById(list).map((instance) => [
        instance.id, instance.app, instance.address, instance.port, instance.host, instance.domains, instance.release ?? null,
        Object.entries(instance.meta).sort(), instance.ttlMs, instance.deregisterAfterMs, instance.status,
      ]),
    );
  return canonical(a) === canonical(b);
}

export function sortById<T extends { id: string }>(list: T[]): T[] {
  return [...list].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/**
 * Consul's limits on service meta (agent/structs ValidateServiceMetadata): 64 pairs, values of at most 512
 * characters, no key starting `consul-`. Both catalogs refuse what Consul would, so a host moving from the
 * embedded catalog to Consul keeps every registration it took.
 */
export const CONSUL_META = { maxPairs: 64, maxValueLength: 512, reservedPrefix: 'consul-' } as const;

/** Meta keys dozen writes itself: `domains` (and `domains-2`, `-3`, ... when the list is longer than one value holds) and these. */
export const OWN_META_KEYS = ['domains', 'instance', 'host', 'release', 'ttl_ms', 'deregister_after_ms'];

export function isOwnMetaKey(key: string): boolean {
  return OWN_META_KEYS.includes(key) || /^domains-\d+$/.test(key);
}

/** An instance's domains as comma-joined meta values of at most CONSUL_META.maxValueLength characters each. */
export function domainValues(domains: readonly string[]): string[] {
  const values: string[] = [];
  for (const domain of domains) {
    const last = values.length - 1;
    if (last >= 0 && values[last]!.length + 1 + domain.length <= CONSUL_META.maxValueLength) values[last] += `,${domain}`;
    else values.push(domain);
  }
  return values;
}

/** The meta keys `domainValues` go under, in order: `domains`, `domains-2`, ... */
export function domainMetaKey(position: number): string {
  return position === 0 ? 'domains' : `domains-${position + 1}`;
}

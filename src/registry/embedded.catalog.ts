import { performance } from 'node:perf_hooks';
import { assertKvKey, sortById, type Catalog, type CatalogInstance, type HealthStatus, type InstanceRegistration, type KvEntry } from './catalog.js';

/** One instance as the embedded catalog keeps it, in memory and in the database. */
export interface StoredInstance {
  registration: InstanceRegistration;
  status: HealthStatus;
  /** When the TTL lapses unless renewed (ms since epoch). */
  expiresAt: number;
  /** Since when it has been critical (ms since epoch), or null. */
  criticalSince: number | null;
}

/** Where the embedded catalog keeps its state across restarts (dozen's database; a Map in tests). */
export interface EmbeddedStore {
  load(): Promise<{ instances: StoredInstance[]; kv: KvEntry[] }>;
  saveInstance(instance: StoredInstance): Promise<void>;
  /** Writes only an instance's health (status, TTL expiry): what a heartbeat changes, once a second per instance. */
  saveHealth(instance: StoredInstance): Promise<void>;
  deleteInstance(id: string): Promise<void>;
  putKv(entry: KvEntry): Promise<void>;
  deleteKv(keys: string[]): Promise<void>;
}

/** How often TTLs and deregister delays are checked; bounds how late an expiry is seen. */
const SWEEP_INTERVAL_MS = 100;

/** An instance's TTL deadline and critical start on the monotonic clock: what the sweep goes by. */
interface Deadlines {
  expires: number;
  criticalSince: number | null;
}

/**
 * The catalog inside this process, for one host: Consul's semantics (TTL
 * checks, deregister after critical, KV with prefix watches) without Consul.
 * Every change is written to the store before it is acknowledged, so a
 * restart keeps registrations until their TTL says otherwise.
 */
export class EmbeddedCatalog implements Catalog {
  private readonly entries = new Map<string, StoredInstance>();
  /**
   * TTLs run on the monotonic clock, as Consul's Go timers do: on the wall clock a step of the host's
   * time (NTP, a VM resumed) made every instance critical at once, or kept a dead one routed. The wall
   * clock times in StoredInstance are only for the store, to carry deadlines across a restart.
   */
  private readonly deadlines = new Map<string, Deadlines>();
  private readonly kv = new Map<string, KvEntry>();
  private kvIndex = 0;
  private readonly instanceListeners = new Set<(instances: CatalogInstance[]) => void>();
  private readonly kvWatches = new Set<{ prefix: string; listener: (entries: KvEntry[]) => void }>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Store writes run one after another so they land in the order the changes happened. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: EmbeddedStore,
    private readonly now: () => number,
    private readonly monotonic: () => number,
    private readonly onStoreError: (error: unknown) => void,
  ) {}

  /** Loads the stored state and starts the TTL sweep. `onStoreError` hears about writes nobody awaits (expiries). */
  static async open(store: EmbeddedStore, options: { now?: () => number; monotonic?: () => number; onStoreError?: (error: unknown) => void } = {}): Promise<EmbeddedCatalog> {
    const catalog = new EmbeddedCatalog(store, options.now ?? Date.now, options.monotonic ?? (() => performance.now()), options.onStoreError ?? (() => undefined));
    const { instances, kv } = await store.load();
    const wall = catalog.now();
    const monotonic = catalog.monotonic();
    for (const instance of instances) {
      catalog.entries.set(instance.registration.id, instance);
      // Only the wall clock spans a restart; a deadline further off than the TTL is a clock that stepped back.
      const left = Math.min(instance.expiresAt - wall, instance.registration.ttlMs);
      const criticalFor = instance.criticalSince !== null ? Math.max(0, wall - instance.criticalSince) : instance.status === 'critical' ? 0 : null;
      catalog.deadlines.set(instance.registration.id, { expires: monotonic + left, criticalSince: criticalFor === null ? null : monotonic - criticalFor });
    }
    for (const entry of kv) {
      catalog.kv.set(entry.key, entry);
      catalog.kvIndex = Math.max(catalog.kvIndex, entry.modifyIndex);
    }
    // Registrations whose TTL lapsed while dozen was down turn critical (or go) now.
    catalog.sweep(false);
    catalog.sweeper = setInterval(() => catalog.sweep(true), SWEEP_INTERVAL_MS);
    catalog.sweeper.unref();
    return catalog;
  }

  async register(registration: InstanceRegistration): Promise<void> {
    const instance: StoredInstance = { registration: { ...registration }, status: 'passing', expiresAt: this.now() + registration.ttlMs, criticalSince: null };
    this.entries.set(registration.id, instance);
    this.deadlines.set(registration.id, { expires: this.monotonic() + registration.ttlMs, criticalSince: null });
    await this.write(() => this.store.saveInstance(instance));
    this.instancesChanged();
  }

  async pass(id: string): Promise<boolean> {
    const instance = this.entries.get(id);
    if (!instance) return false;
    const wasPassing = instance.status === 'passing';
    instance.status = 'passing';
    instance.criticalSince = null;
    instance.expiresAt = this.now() + instance.registration.ttlMs;
    this.deadlines.set(id, { expires: this.monotonic() + instance.registration.ttlMs, criticalSince: null });
    await this.write(() => this.store.saveHealth(instance));
    if (!wasPassing) this.instancesChanged();
    return true;
  }

  async deregister(id: string): Promise<boolean> {
    if (!this.entries.delete(id)) return false;
    this.deadlines.delete(id);
    await this.write(() => this.store.deleteInstance(id));
    this.instancesChanged();
    return true;
  }

  async instances(): Promise<CatalogInstance[]> {
    return this.snapshot();
  }

  watchInstances(listener: (instances: CatalogInstance[]) => void): () => void {
    let subscribed = true;
    queueMicrotask(() => {
      if (!subscribed) return;
      this.instanceListeners.add(listener);
      listener(this.snapshot());
    });
    return () => {
      subscribed = false;
      this.instanceListeners.delete(listener);
    };
  }

  async kvGet(key: string): Promise<KvEntry | null> {
    assertKvKey(key);
    const entry = this.kv.get(key);
    return entry ? { ...entry } : null;
  }

  async kvList(prefix: string): Promise<KvEntry[]> {
    assertKvKey(prefix, true);
    return this.listUnder(prefix);
  }

  async kvPut(key: string, value: string): Promise<void> {
    assertKvKey(key);
    const entry: KvEntry = { key, value, modifyIndex: ++this.kvIndex };
    this.kv.set(key, entry);
    await this.write(() => this.store.putKv(entry));
    this.kvChanged([key]);
  }

  async kvPutIfIndex(key: string, value: string, index: number): Promise<boolean> {
    assertKvKey(key);
    // Checked and written in one turn of the event loop: nothing else can write in between.
    if ((this.kv.get(key)?.modifyIndex ?? 0) !== index) return false;
    await this.kvPut(key, value);
    return true;
  }

  async kvDeleteIfIndex(key: string, index: number): Promise<boolean> {
    assertKvKey(key);
    // A key already gone answers true, as Consul does: what the caller wanted gone is gone.
    const entry = this.kv.get(key);
    if (entry && entry.modifyIndex !== index) return false;
    await this.kvDelete(key);
    return true;
  }

  async kvDelete(key: string, options: { recurse?: boolean } = {}): Promise<void> {
    assertKvKey(key, options.recurse);
    const keys = options.recurse ? [...this.kv.keys()].filter((candidate) => candidate.startsWith(key)) : this.kv.has(key) ? [key] : [];
    if (!keys.length) return;
    for (const gone of keys) this.kv.delete(gone);
    await this.write(() => this.store.deleteKv(keys));
    this.kvChanged(keys);
  }

  watchKv(prefix: string, listener: (entries: KvEntry[]) => void): () => void {
    assertKvKey(prefix, true);
    const watch = { prefix, listener };
    let subscribed = true;
    queueMicrotask(() => {
      if (!subscribed) return;
      this.kvWatches.add(watch);
      listener(this.listUnder(prefix));
    });
    return () => {
      subscribed = false;
      this.kvWatches.delete(watch);
    };
  }

  async check(): Promise<void> {
    // In process: nothing to reach. Store failures surface on the writes themselves.
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.instanceListeners.clear();
    this.kvWatches.clear();
    await this.writes;
  }

  /** TTL lapsed -> critical; critical past the deregister delay -> removed. */
  private sweep(notify: boolean): void {
    const now = this.monotonic();
    let changed = false;
    for (const instance of [...this.entries.values()]) {
      const id = instance.registration.id;
      const deadlines = this.deadlines.get(id)!;
      if (instance.status !== 'critical' && now >= deadlines.expires) {
        instance.status = 'critical';
        deadlines.criticalSince = deadlines.expires;
        instance.criticalSince = this.now() - (now - deadlines.expires);
        changed = true;
        this.write(() => this.store.saveHealth(instance)).catch(this.onStoreError);
      }
      if (instance.status === 'critical' && now >= (deadlines.criticalSince ?? now) + instance.registration.deregisterAfterMs) {
        this.entries.delete(id);
        this.deadlines.delete(id);
        changed = true;
        this.write(() => this.store.deleteInstance(instance.registration.id)).catch(this.onStoreError);
      }
    }
    if (changed && notify) this.instancesChanged();
  }

  private snapshot(): CatalogInstance[] {
    return sortById([...this.entries.values()].map((instance) => ({ ...instance.registration, domains: [...instance.registration.domains], meta: { ...instance.registration.meta }, status: instance.status })));
  }

  private listUnder(prefix: string): KvEntry[] {
    return [...this.kv.values()]
      .filter((entry) => entry.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((entry) => ({ ...entry }));
  }

  private instancesChanged(): void {
    if (!this.instanceListeners.size) return;
    const instances = this.snapshot();
    for (const listener of [...this.instanceListeners]) listener(instances);
  }

  private kvChanged(keys: string[]): void {
    for (const watch of [...this.kvWatches]) {
      if (keys.some((key) => key.startsWith(watch.prefix))) watch.listener(this.listUnder(watch.prefix));
    }
  }

  private write(operation: () => Promise<void>): Promise<void> {
    const next = this.writes.then(operation);
    // A failed write must not block the ones after it; the caller that awaited it sees the error.
    this.writes = next.catch(() => undefined);
    return next;
  }
}

import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { adminToken } from '../common/admin-token.js';
import { InjectLogger } from '../common/core.module.js';
import { BadInput, NotFound } from '../common/errors.js';
import { Metrics } from '../common/metrics.js';
import { InjectConfig } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { CATALOG, type Catalog, type CatalogInstance, type InstanceRegistration, type KvEntry } from './catalog.js';
import type { HeartbeatInput, RegisterInput } from './dto/registry.dto.js';
import { LoadSubscriber, peerUrl } from './load-subscriber.js';
import { DomainTaken, InstanceIdTaken } from './registry.errors.js';
import { buildSnapshot, freshLoad } from './route-snapshot.js';
import { addressesOf, isThisHost } from './this-host.js';
import type { Load, RouteSnapshot, RouteSource } from './routes.js';

export interface InstanceView extends CatalogInstance {
  /** null when no figures arrived in the last 3 s. */
  load: Load | null;
}

export interface ServiceView {
  app: string;
  domains: string[];
  instances: InstanceView[];
}

export interface LoadFigures {
  host: string;
  at: number;
  instances: { instance: string; app: string; load: Load | null }[];
}

/** How often the route table is checked for load figures that went stale. */
const STALE_CHECK_INTERVAL_MS = 250;
/**
 * Load figures arrive from every instance every second; a snapshot carries those of one such span.
 * Built per figure, the table cost O(instances) per figure, O(instances²) a second, and each snapshot
 * goes to every proxy worker (docs/registry.md, "Load figures at scale").
 */
export const LOAD_BATCH_MS = 250;
/** Each dozen host is in the catalog as an instance of this app; its load stream is found there. Not an app anyone may register. */
export const HOST_SERVICE = 'dozen';

/**
 * The registry as the rest of dozen sees it: register/renew/deregister
 * instances, read services, routes and load, and keep desired state in the
 * catalog's key/value store. It keeps the latest instance list from the
 * catalog watch and swaps the route snapshot whenever instances, health or
 * load change.
 */
@Injectable()
export class RegistryService implements RouteSource, OnModuleInit, OnModuleDestroy {
  private readonly log: Logger;
  /** App instances (the hosts' own entries left out). */
  private current: CatalogInstance[] = [];
  /** The dozen hosts' own entries (service `dozen`), where other hosts' admin APIs are found. */
  private hostEntries: CatalogInstance[] = [];
  private loadSubscriber: LoadSubscriber | undefined;
  private hostTimer: NodeJS.Timeout | undefined;
  /** Latest figures per instance reported to this host. */
  private readonly loads = new Map<string, Load>();
  private snapshot: RouteSnapshot = { version: 0, apps: [] };
  private readonly routeListeners = new Set<(snapshot: RouteSnapshot) => void>();
  private loadBatch: NodeJS.Timeout | undefined;
  private stopWatch: (() => void) | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private readonly instanceGauge: Gauge<'status'> | undefined;
  private readonly snapshotCounter: Counter | undefined;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    @Optional() metrics?: Metrics,
  ) {
    this.log = logger.child({ module: 'registry' });
    if (metrics) {
      this.instanceGauge = new Gauge({ name: 'dozen_registry_instances', help: 'instances in the catalog, by health', labelNames: ['status'], registers: [metrics.registry] });
      this.snapshotCounter = new Counter({ name: 'dozen_registry_route_snapshots_total', help: 'route tables built (one per change of instances, health or load)', registers: [metrics.registry] });
    }
  }

  async onModuleInit(): Promise<void> {
    if (this.config.registry.catalog === 'consul') await this.joinHosts();
    this.stopWatch = this.catalog.watchInstances((instances) => this.instancesChanged(instances));
    try {
      this.instancesChanged(await this.catalog.instances());
    } catch (error) {
      // The watch fills the table once the catalog answers; the health endpoint says why it is down meanwhile.
      this.log.warn({ err: error }, 'catalog not readable at start');
    }
    this.staleTimer = setInterval(() => this.rebuildIfLoadWentStale(), STALE_CHECK_INTERVAL_MS);
    this.staleTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.staleTimer);
    clearInterval(this.hostTimer);
    clearTimeout(this.loadBatch);
    this.stopWatch?.();
    this.loadSubscriber?.close();
    if (this.hostTimer) await this.catalog.deregister(this.hostId()).catch((error: unknown) => this.log.warn({ err: error }, 'host deregistration failed'));
    await this.catalog.close();
  }

  // --- RouteSource -------------------------------------------------------

  routes(): RouteSnapshot {
    return this.snapshot;
  }

  watchRoutes(listener: (snapshot: RouteSnapshot) => void): () => void {
    this.routeListeners.add(listener);
    return () => this.routeListeners.delete(listener);
  }

  // --- instances ---------------------------------------------------------

  async register(input: RegisterInput): Promise<InstanceView> {
    const ownPort = await this.ownPortAt(input.address, input.port);
    // The proxy would send the app's domains there: the admin API and console on the public door, say.
    if (ownPort) throw new BadInput('port', `${input.address}:${input.port} is dozen's own listener on this host (${ownPort}), not an app's`);
    const id = input.id ?? `${input.app}-${randomBytes(6).toString('hex')}`;
    const existing = await this.catalog.instances();
    // Consul and the embedded catalog replace an entry registered again under its id, whatever its app.
    const holder = id === this.hostId() ? HOST_SERVICE : existing.find((instance) => instance.id === id && instance.app !== input.app)?.app;
    if (holder) throw new InstanceIdTaken(id, holder);
    for (const domain of input.domains) {
      const owner = existing.find((instance) => instance.app !== input.app && instance.domains.includes(domain));
      if (owner) throw new DomainTaken(domain, owner.app);
    }
    const registration: InstanceRegistration = {
      id, app: input.app, address: input.address, port: input.port, host: input.host ?? this.config.host.name,
      domains: [...new Set(input.domains)], ...(input.release ? { release: input.release } : {}), meta: input.meta,
      ttlMs: Math.round(input.ttl * 1000), deregisterAfterMs: Math.round(input.deregisterAfter * 1000),
    };
    await this.catalog.register(registration);
    this.log.info({ app: registration.app, instance: id, address: registration.address, port: registration.port, domains: registration.domains }, 'instance registered');
    return { ...registration, status: 'passing', load: null };
  }

  /** Renews the TTL and records the load figures if given. */
  async heartbeat(id: string, input: HeartbeatInput): Promise<{ id: string; status: 'passing'; load: Load | null }> {
    if (!(await this.catalog.pass(id))) throw new NotFound('instance', id);
    let load: Load | null = null;
    if (input.load) {
      load = { ...input.load, at: Date.now() };
      this.loads.set(id, load);
      this.rebuildForLoad();
    }
    return { id, status: 'passing', load };
  }

  /**
   * Which of this host's own listeners `address:port` reaches (an address of this host in any spelling,
   * or a name that resolves to one: this-host.ts), or null. Checked at registration: a name that
   * resolves elsewhere now and here later is beyond it.
   */
  private async ownPortAt(address: string, port: number): Promise<string | null> {
    const own: [string, number | undefined][] = [['admin.listen.port', this.config.admin.listen.port], ['proxy.listen.port', this.config.proxy.listen.port], ['proxy.tls.listen.port', this.config.proxy.tls?.listen.port]];
    const listener = own.find(([, value]) => value === port)?.[0];
    if (!listener) return null;
    const here = (await addressesOf(address)).some((ip) => isThisHost(ip, this.config.host.address));
    return here ? listener : null;
  }

  async deregister(id: string): Promise<void> {
    if (!(await this.catalog.deregister(id))) throw new NotFound('instance', id);
    this.loads.delete(id);
    this.log.info({ instance: id }, 'instance deregistered');
  }

  services(): ServiceView[] {
    const now = Date.now();
    const byApp = new Map<string, ServiceView>();
    for (const instance of this.current) {
      let service = byApp.get(instance.app);
      if (!service) {
        service = { app: instance.app, domains: [], instances: [] };
        byApp.set(instance.app, service);
      }
      for (const domain of instance.domains) if (!service.domains.includes(domain)) service.domains.push(domain);
      service.instances.push({ ...instance, load: freshLoad(this.loads.get(instance.id), now) });
    }
    return [...byApp.values()].sort((a, b) => (a.app < b.app ? -1 : 1)).map((service) => ({ ...service, domains: service.domains.sort() }));
  }

  service(app: string): ServiceView {
    const found = this.services().find((service) => service.app === app);
    if (!found) throw new NotFound('app', app);
    return found;
  }

  /** The figures of the instances that run on this host (what other hosts' proxies subscribe to). */
  loadFigures(): LoadFigures {
    const now = Date.now();
    const instances = this.current
      .filter((instance) => instance.host === this.config.host.name)
      .map((instance) => ({ instance: instance.id, app: instance.app, load: freshLoad(this.loads.get(instance.id), now) }));
    return { host: this.config.host.name, at: now, instances };
  }

  // --- key/value (desired state of the deploy module; ACME challenges and lock of the proxy) ---

  kvGet(key: string): Promise<KvEntry | null> {
    return this.catalog.kvGet(key);
  }
  kvList(prefix: string): Promise<KvEntry[]> {
    return this.catalog.kvList(prefix);
  }
  kvPut(key: string, value: string): Promise<void> {
    return this.catalog.kvPut(key, value);
  }
  kvDelete(key: string, options?: { recurse?: boolean }): Promise<void> {
    return this.catalog.kvDelete(key, options);
  }
  /** Check-and-set: writes only if the key's modifyIndex is still `index` (0: absent). */
  kvPutIfIndex(key: string, value: string, index: number): Promise<boolean> {
    return this.catalog.kvPutIfIndex(key, value, index);
  }
  /** Deletes only if the key's modifyIndex is still `index`. */
  kvDeleteIfIndex(key: string, index: number): Promise<boolean> {
    return this.catalog.kvDeleteIfIndex(key, index);
  }
  /** Calls `listener` with every entry under `prefix` after each change under it. */
  watchKv(prefix: string, listener: (entries: KvEntry[]) => void): () => void {
    return this.catalog.watchKv(prefix, listener);
  }

  // --- several hosts ---------------------------------------------------

  /**
   * Several hosts: put this host in the catalog (service `dozen`, TTL renewed
   * here) and follow the load streams of the others, so routes carry the load
   * of every instance in the cluster.
   */
  private async joinHosts(): Promise<void> {
    const { token } = adminToken(this.config);
    this.loadSubscriber = new LoadSubscriber(this.config.host.name, token, (instance, load) => {
      this.loads.set(instance, load);
      this.rebuildForLoad();
    }, this.log);
    const registration: InstanceRegistration = {
      id: this.hostId(), app: HOST_SERVICE, address: this.config.host.address, port: this.config.admin.listen.port, host: this.config.host.name,
      domains: [], meta: {}, ttlMs: this.config.registry.hostTtlSeconds * 1000, deregisterAfterMs: 60_000,
    };
    const announce = async () => {
      if (!(await this.catalog.pass(registration.id))) await this.catalog.register(registration);
    };
    await announce().catch((error: unknown) => this.log.warn({ err: error }, 'could not announce this host in the catalog; retrying'));
    this.hostTimer = setInterval(() => void announce().catch((error: unknown) => this.log.warn({ err: error }, 'host TTL renewal failed')), Math.round((this.config.registry.hostTtlSeconds * 1000) / 3));
    this.hostTimer.unref();
  }

  /**
   * Another dozen host's admin API as the catalog lists it (its address and admin port), whether its
   * check passes, or undefined when the catalog has no entry for it (one host, or it left).
   */
  peer(host: string): { url: string; passing: boolean } | undefined {
    const entry = this.hostEntries.find((candidate) => candidate.host === host);
    return entry && { url: peerUrl(entry), passing: entry.status === 'passing' };
  }

  private hostId(): string {
    return `${HOST_SERVICE}-${this.config.host.name}`;
  }

  private instancesChanged(instances: CatalogInstance[]): void {
    this.current = instances.filter((instance) => instance.app !== HOST_SERVICE);
    this.hostEntries = instances.filter((instance) => instance.app === HOST_SERVICE);
    this.loadSubscriber?.update(this.hostEntries);
    this.rebuild();
  }

  // --- route snapshot ----------------------------------------------------

  /** A new load figure: in the next snapshot, at most LOAD_BATCH_MS from now (sooner if instances change first). */
  private rebuildForLoad(): void {
    if (this.loadBatch) return;
    this.loadBatch = setTimeout(() => this.rebuild(), LOAD_BATCH_MS);
    this.loadBatch.unref();
  }

  private rebuild(): void {
    clearTimeout(this.loadBatch);
    this.loadBatch = undefined;
    const known = new Set(this.current.map((instance) => instance.id));
    for (const id of this.loads.keys()) if (!known.has(id)) this.loads.delete(id);
    this.snapshot = buildSnapshot(this.snapshot.version + 1, this.current, this.loads, Date.now());
    this.snapshotCounter?.inc();
    if (this.instanceGauge) {
      for (const status of ['passing', 'warning', 'critical'] as const) this.instanceGauge.set({ status }, this.current.filter((instance) => instance.status === status).length);
    }
    for (const listener of [...this.routeListeners]) {
      try {
        listener(this.snapshot);
      } catch (error) {
        this.log.error({ err: error }, 'route listener failed');
      }
    }
  }

  private rebuildIfLoadWentStale(): void {
    const now = Date.now();
    const wentStale = this.snapshot.apps.some((route) => route.backends.some((backend) => backend.load && !freshLoad(backend.load, now)));
    if (wentStale) this.rebuild();
  }
}

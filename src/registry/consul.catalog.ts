import type { EventEmitter } from 'node:events';
import Consul from 'consul';
import { assertKvKey, domainMetaKey, domainValues, sameInstances, sortById, type Catalog, type CatalogInstance, type InstanceRegistration, type KvEntry } from './catalog.js';
import { BlockingLoop } from './consul.blocking-query.js';
import { agentError, responseContext, toEntry, toInstance, type ConsulKvPair, type HealthCheck, type HealthEntry } from './consul.wire.js';
import { CatalogUnavailable } from './registry.errors.js';

export interface ConsulCatalogOptions {
  /** The local agent, e.g. http://127.0.0.1:8500. */
  url: string;
  token?: string;
  /** Let any server answer reads (?stale): faster, may lag the leader a little. */
  stale: boolean;
  /** How long one blocking read may hang. */
  waitSeconds: number;
  /** Least time between two reads of one watch. */
  minIntervalMs: number;
  onError(error: unknown, what: string): void;
}

/** Every dozen instance carries this tag, so the catalog's other services (consul itself, the team's own) are left out. */
export const DOZEN_TAG = 'dozen-instance';
const READY_TIMEOUT_MS = 5000;

/** Reads of an app's instances in flight at once: Consul closes a client's connections past 200 (`limits.http_max_conns_per_client`). */
const APP_READS_AT_ONCE = 8;
/** How long a failed read of an app waits before it is tried again. */
const APP_READ_RETRY_MS = 1_000;

/** One app's instances as last read (null: not yet), and its checks as the health watch last saw them. */
interface AppState {
  instances: CatalogInstance[] | null;
  checks: string;
}

/**
 * The catalog in a Consul agent, through the `consul` client: an instance is a
 * service (name = app, ID = instance id, meta domains/instance/host/release)
 * with a TTL check and DeregisterCriticalServiceAfter. Two blocking queries
 * watch it all, whatever the number of apps: /v1/catalog/services (which
 * apps; any registration) and /v1/health/state/any (every check's status).
 * An app is read (/v1/health/service/<app>, a plain read, a few at a time)
 * when it appears, when any registration changed, or when its checks did;
 * instances() answers from memory. A blocking query per app held one
 * connection each, and past about 195 apps Consul's limit of 200 connections
 * per client closed the rest.
 */
export class ConsulCatalog implements Catalog {
  private readonly client: Consul;
  private readonly apps = new Map<string, AppState>();
  private readonly healthLoop: BlockingLoop<HealthCheck[]>;
  /** Apps waiting for a read, in order; `reading` those being read, `again` those to read once more when it ends. */
  private readonly toRead = new Set<string>();
  private readonly reading = new Set<string>();
  private readonly again = new Set<string>();
  private servicesIndex = 0;
  private closed = false;
  /** The watches and reads whose last try failed, with why: health is down while any is. */
  private readonly failing = new Map<string, Error>();
  private readonly listeners = new Set<(instances: CatalogInstance[]) => void>();
  private readonly servicesLoop: BlockingLoop<Record<string, string[]>>;
  private readonly kvLoops = new Set<BlockingLoop<ConsulKvPair[] | undefined>>();
  private servicesSeen = false;
  private markReady!: () => void;
  private readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(private readonly options: ConsulCatalogOptions) {
    const url = new URL(options.url);
    this.client = new Consul({
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      secure: url.protocol === 'https:',
      defaults: options.token ? { token: options.token } : {},
    });
    this.servicesLoop = new BlockingLoop({
      read: (index, context) => this.blockingRead<Record<string, string[]>>((query) => this.client.catalog.service.list(query), index, context),
      onData: (services, index) => {
        this.failing.delete('watching catalog services');
        this.servicesChanged(services, index);
      },
      onError: (error) => this.failed(error, 'watching catalog services'),
      minIntervalMs: options.minIntervalMs,
    });
    this.healthLoop = new BlockingLoop({
      read: (index, context) => this.blockingRead<HealthCheck[]>((query) => this.client.health.state({ state: 'any', ...query }), index, context),
      onData: (checks) => {
        this.failing.delete('watching health checks');
        this.checksChanged(checks);
      },
      onError: (error) => this.failed(error, 'watching health checks'),
      minIntervalMs: options.minIntervalMs,
    });
  }

  async register(registration: InstanceRegistration): Promise<void> {
    await this.call(() =>
      this.client.agent.service.register({
        name: registration.app,
        id: registration.id,
        address: registration.address,
        port: registration.port,
        tags: [DOZEN_TAG],
        meta: {
          ...registration.meta,
          ...Object.fromEntries(domainValues(registration.domains).map((value, position) => [domainMetaKey(position), value])),
          instance: registration.id,
          host: registration.host,
          ...(registration.release ? { release: registration.release } : {}),
          ttl_ms: String(registration.ttlMs),
          deregister_after_ms: String(registration.deregisterAfterMs),
        },
        // The client's typings demand `timeout` on every check; a TTL check has none (the client passes TTL checks through as they are).
        check: { name: 'dozen TTL', ttl: `${registration.ttlMs}ms`, deregistercriticalserviceafter: `${registration.deregisterAfterMs}ms`, status: 'passing' } as never,
      }),
    );
  }

  async pass(id: string): Promise<boolean> {
    return this.unlessNotFound(() => this.client.agent.check.pass({ id: `service:${id}` }));
  }

  async deregister(id: string): Promise<boolean> {
    return this.unlessNotFound(() => this.client.agent.service.deregister(id));
  }

  async instances(): Promise<CatalogInstance[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const failure = this.failure();
        reject(new CatalogUnavailable(`no answer from the Consul agent at ${this.options.url} within ${READY_TIMEOUT_MS} ms${failure ? `: ${failure}` : ''}`));
      }, READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.all();
  }

  watchInstances(listener: (instances: CatalogInstance[]) => void): () => void {
    let subscribed = true;
    void this.ready.then(() => {
      if (!subscribed) return;
      this.listeners.add(listener);
      listener(this.all());
    });
    return () => {
      subscribed = false;
      this.listeners.delete(listener);
    };
  }

  async kvGet(key: string): Promise<KvEntry | null> {
    assertKvKey(key);
    const pair = (await this.call(() => this.client.kv.get({ key }))) as ConsulKvPair | undefined;
    return pair ? toEntry(pair) : null;
  }

  async kvList(prefix: string): Promise<KvEntry[]> {
    assertKvKey(prefix, true);
    const pairs = (await this.call(() => this.client.kv.get({ key: prefix, recurse: true }))) as ConsulKvPair[] | undefined;
    return (pairs ?? []).map(toEntry);
  }

  async kvPut(key: string, value: string): Promise<void> {
    assertKvKey(key);
    await this.call(() => this.client.kv.set({ key, value }));
  }

  async kvPutIfIndex(key: string, value: string, index: number): Promise<boolean> {
    assertKvKey(key);
    return (await this.call(() => this.client.kv.set({ key, value, cas: index }))) === true;
  }

  async kvDeleteIfIndex(key: string, index: number): Promise<boolean> {
    assertKvKey(key);
    return (await this.call(() => this.client.kv.del({ key, cas: index }))) === true;
  }

  async kvDelete(key: string, options: { recurse?: boolean } = {}): Promise<void> {
    assertKvKey(key, options.recurse);
    await this.call(() => this.client.kv.del({ key, recurse: Boolean(options.recurse) }));
  }

  watchKv(prefix: string, listener: (entries: KvEntry[]) => void): () => void {
    assertKvKey(prefix, true);
    let previous: string | undefined;
    const loop: BlockingLoop<ConsulKvPair[] | undefined> = new BlockingLoop({
      read: (index, context) => this.blockingRead<ConsulKvPair[] | undefined>((query) => this.client.kv.get({ key: prefix, recurse: true, ...query }), index, context),
      onData: (pairs) => {
        const entries = (pairs ?? []).map(toEntry);
        const serialized = JSON.stringify(entries);
        // A blocking read may return without a change (timeout, writes elsewhere in the KV store).
        if (serialized === previous) return;
        previous = serialized;
        listener(entries);
      },
      onError: (error) => this.options.onError(error, `watching kv ${prefix}`),
      minIntervalMs: this.options.minIntervalMs,
    });
    this.kvLoops.add(loop);
    return () => {
      loop.stop();
      this.kvLoops.delete(loop);
    };
  }

  /** Down when the agent does not answer, or when the instances shown are stale: a watch or read of them failing. */
  async check(): Promise<void> {
    await this.call(() => this.client.status.leader());
    const failure = this.failure();
    if (failure) throw new CatalogUnavailable(`Consul agent at ${this.options.url}: ${failure}`);
  }

  /** The first watch or read whose last try failed, and why (`watching health checks failed: ...`), or null. */
  private failure(): string | null {
    const [what, error] = this.failing.entries().next().value ?? [];
    return error ? `${what} failed: ${error.message}` : null;
  }

  private failed(error: unknown, what: string): void {
    this.failing.set(what, agentError(error));
    this.options.onError(error, what);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.servicesLoop.stop();
    this.healthLoop.stop();
    for (const loop of this.kvLoops) loop.stop();
    this.listeners.clear();
    this.client.destroy();
  }

  /** Which apps there are; when any registration changed (the index moved), every app is read again. */
  private servicesChanged(services: Record<string, string[]>, index: number): void {
    const names = new Set(Object.entries(services).filter(([, tags]) => tags.includes(DOZEN_TAG)).map(([name]) => name));
    let changed = false;
    for (const [name, app] of this.apps) {
      if (names.has(name)) continue;
      this.apps.delete(name);
      this.toRead.delete(name);
      if (app.instances?.length) changed = true;
    }
    const moved = index !== this.servicesIndex;
    this.servicesIndex = index;
    for (const name of names) {
      if (!this.apps.has(name)) this.apps.set(name, { instances: null, checks: '' });
      if (moved) this.read(name);
    }
    this.servicesSeen = true;
    if (changed) this.notify();
    this.checkReady();
  }

  /** Reads the apps whose checks changed (an instance passing, critical, added or gone). */
  private checksChanged(checks: HealthCheck[]): void {
    const byApp = new Map<string, string[]>();
    for (const check of checks) {
      if (!check.ServiceID || !check.ServiceTags?.includes(DOZEN_TAG)) continue;
      const list = byApp.get(check.ServiceName) ?? [];
      list.push(`${check.ServiceID}\u0000${check.Status}`);
      byApp.set(check.ServiceName, list);
    }
    for (const [name, app] of this.apps) {
      const signature = (byApp.get(name) ?? []).sort().join('\u0001');
      if (signature === app.checks) continue;
      app.checks = signature;
      this.read(name);
    }
  }

  /** Queues a read of `name`'s instances; one already running is followed by another. */
  private read(name: string): void {
    if (this.reading.has(name)) this.again.add(name);
    else this.toRead.add(name);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.reading.size < APP_READS_AT_ONCE && this.toRead.size) {
      const name = this.toRead.values().next().value!;
      this.toRead.delete(name);
      this.reading.add(name);
      void this.readApp(name).finally(() => {
        this.reading.delete(name);
        if (this.again.delete(name)) this.toRead.add(name);
        this.pump();
      });
    }
  }

  /**
   * Without `?passing`: the registry shows critical instances too (GET /registry/services), and the
   * route table leaves them out itself. A read that fails is tried again; meanwhile the app keeps what
   * was read last, so routes stay while the agent is away.
   */
  private async readApp(name: string): Promise<void> {
    let entries: HealthEntry[];
    try {
      entries = (await this.blockingRead<HealthEntry[]>((query) => this.client.health.service({ service: name, tag: DOZEN_TAG, ...query }), 0, responseContext())).data;
    } catch (error) {
      if (this.closed) return;
      this.failed(error, `reading health of ${name}`);
      setTimeout(() => this.apps.has(name) && this.read(name), APP_READ_RETRY_MS).unref();
      return;
    }
    this.failing.delete(`reading health of ${name}`);
    const app = this.apps.get(name);
    if (!app || this.closed) return;
    const instances = entries.map(toInstance);
    const first = app.instances === null;
    if (!first && sameInstances(app.instances!, instances)) return;
    app.instances = instances;
    if (!first || instances.length) this.notify();
    this.checkReady();
  }

  private checkReady(): void {
    if (this.servicesSeen && [...this.apps.values()].every((app) => app.instances !== null)) this.markReady();
  }

  private all(): CatalogInstance[] {
    return sortById([...this.apps.values()].flatMap((app) => app.instances ?? []));
  }

  private notify(): void {
    const instances = this.all();
    for (const listener of [...this.listeners]) listener(instances);
  }

  /** One read with `index`/`wait` (blocking when index > 0); returns the body and X-Consul-Index. */
  private async blockingRead<T>(method: (query: Record<string, unknown>) => Promise<unknown>, index: number, context: EventEmitter): Promise<{ index: number; data: T }> {
    const waitMs = this.options.waitSeconds * 1000;
    const query = {
      ...(index > 0 ? { index: String(index), wait: `${this.options.waitSeconds}s` } : {}),
      // Only the watches read stale when allowed; kvGet/kvList and writes stay on the leader.
      ...(this.options.stale ? { stale: true } : {}),
      // The agent may hold the read for wait + wait/16 (its jitter); give up only well after that.
      timeout: waitMs + waitMs / 16 + 5000,
      ctx: context,
    };
    let response: { headers: Record<string, string> };
    let data: T;
    try {
      [response, data] = (await method(query)) as [{ headers: Record<string, string> }, T];
    } catch (error) {
      throw agentError(error);
    }
    // A token without service:read and node:read on everything gets what it may read and a 200: taken as
    // it is, every instance it may not see would leave the routes. A failure instead keeps the last ones.
    if (response.headers['x-consul-results-filtered-by-acls'] === 'true') {
      throw Object.assign(new Error('the ACL token may not read every service and node (X-Consul-Results-Filtered-By-ACLs): give it service:read and node:read'), { statusCode: 403 });
    }
    return { index: Number(response.headers['x-consul-index'] ?? 0), data };
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new CatalogUnavailable(`Consul agent at ${this.options.url}: ${(error as Error).message}`);
    }
  }

  private async unlessNotFound(operation: () => Promise<unknown>): Promise<boolean> {
    try {
      await operation();
      return true;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return false;
      throw new CatalogUnavailable(`Consul agent at ${this.options.url}: ${(error as Error).message}`);
    }
  }
}

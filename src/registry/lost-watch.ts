import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { Notifier } from '../notify/notifier.service.js';
import { CATALOG, type Catalog, type CatalogInstance, type HealthStatus } from './catalog.js';
import { HOST_SERVICE } from './registry.service.js';

/**
 * Tells of what the registry stopped hearing from: an app instance whose TTL lapsed (`instance.lost`; a
 * normal stop deregisters it while passing, which is not news) and a dozen host whose own registration
 * lapsed (`host.silent`: its load reports and renewals stopped). Only one host tells of each: an
 * instance's own host while that host is live, else the first live host by name; with the embedded
 * catalog (one host) that is always this one.
 */
@Injectable()
export class LostWatch implements OnModuleInit, OnModuleDestroy {
  /** The health each instance had at the last change; what it was before going critical decides. */
  private readonly last = new Map<string, HealthStatus>();
  private stopWatch: (() => void) | undefined;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly notifier: Notifier,
    @InjectConfig() private readonly config: DozenConfig,
  ) {}

  onModuleInit(): void {
    this.stopWatch = this.catalog.watchInstances((instances) => this.changed(instances));
  }

  onModuleDestroy(): void {
    this.stopWatch?.();
  }

  private changed(instances: CatalogInstance[]): void {
    const liveHosts = instances.filter((entry) => entry.app === HOST_SERVICE && entry.status !== 'critical').map((entry) => entry.host).sort();
    const teller = (host: string) => (liveHosts.includes(host) ? host : (liveHosts[0] ?? this.config.host.name));
    const present = new Set<string>();
    for (const instance of instances) {
      present.add(instance.id);
      const before = this.last.get(instance.id);
      this.last.set(instance.id, instance.status);
      // First seen already critical (at start): since when is unknown, so it is not news from here.
      if (instance.status !== 'critical' || before === undefined || before === 'critical') continue;
      const seconds = instance.ttlMs / 1000;
      if (instance.app === HOST_SERVICE) {
        if (teller(instance.host) !== this.config.host.name) continue;
        this.notifier.notify({ kind: 'host.silent', subject: instance.host, message: `no renewal nor load report from ${instance.host} for ${seconds} s`, detail: { address: instance.address } });
      } else {
        if (teller(instance.host) !== this.config.host.name) continue;
        this.notifier.notify({
          kind: 'instance.lost', subject: instance.id, message: `${instance.app} on ${instance.host}: no heartbeat for ${seconds} s`,
          detail: { app: instance.app, host: instance.host, release: instance.release ?? null },
        });
      }
    }
    for (const id of this.last.keys()) if (!present.has(id)) this.last.delete(id);
  }
}

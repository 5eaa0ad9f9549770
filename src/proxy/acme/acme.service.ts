import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { backoffDelay } from '../../common/backoff.js';
import { DomainError, NotFound } from '../../common/errors.js';
import { InjectLogger } from '../../common/core.module.js';
import { Metrics } from '../../common/metrics.js';
import { InjectConfig } from '../../config/config.module.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { Notifier } from '../../notify/notifier.service.js';
import { RegistryService } from '../../registry/registry.service.js';
import { ROUTE_SOURCE, type RouteSource } from '../../registry/routes.js';
import { DEFAULT_POLICY, type PolicySet } from '../policy.js';
import { ProxyPolicyService } from '../proxy-policy.service.js';
import { CertificateBook } from '../tls/certificate-book.js';
import { normalDomain } from '../tls/pem.js';
import { ACME_KV } from './acme-kv.js';
import type { AcmeConfig } from './acme.config.js';
import { AcmeOrderer } from './acme-orderer.js';
import { AcmeStore, type AcmeDomainView } from './acme.store.js';
import { CatalogLock } from './catalog-lock.js';
import { CertificateLoader, LOADER_POLL_MS } from './certificate-loader.js';
import { ChallengeFeed } from './challenge-feed.js';
import { dueAt, plan, wantedDomains, type RenewalRules } from './renewal-plan.js';

/** A lock holder that died blocks the others this long at most; an order must end well within it. */
const LOCK_TTL_MS = 5 * 60_000;
const ORDER_DEADLINE_MS = 4 * 60_000;
/** While another host holds the lock: look again this soon (its release also wakes us, through the catalog). */
const LOCK_BUSY_RETRY_MS = 5_000;
/** After the challenge is in this host's workers: time for the other hosts' watches and workers to have it too. */
const CHALLENGE_SPREAD_MS = 1_000;
const CHALLENGE_ROUND_TRIP_MS = 30_000;
const MAX_SLEEP_MS = 60 * 60_000;
const DAY_MS = 86_400_000;

/**
 * ACME on this host. On every proxy host: the pending challenges and the
 * issued certificates of the cluster go into this host's certificate book.
 * With `proxy.tls.acme`: orders certificates for the domains of `tls: auto`
 * apps as they appear in the routes, renews them ahead of expiry, backs off
 * after failures; one host of the cluster orders at a time (a lock in the
 * catalog), and what it gets goes to the database for every host.
 */
@Injectable()
export class AcmeService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log: Logger;
  private readonly acme: AcmeConfig | undefined;
  private readonly feed: ChallengeFeed;
  private readonly loader: CertificateLoader;
  private readonly failures: Counter<'domain'>;
  private readonly lock: CatalogLock;
  private readonly stops: (() => void)[] = [];
  private policies: PolicySet = {};
  private wanted: string[] = [];
  private stopped = false;
  private wake: (() => void) | null = null;
  /** Set once ordering runs (with `proxy.tls.acme`). */
  private orderer: AcmeOrderer | null = null;

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    @Inject(ROUTE_SOURCE) private readonly routes: RouteSource,
    private readonly registry: RegistryService,
    private readonly policyService: ProxyPolicyService,
    book: CertificateBook,
    private readonly store: AcmeStore,
    private readonly notifier: Notifier,
    metrics: Metrics,
  ) {
    this.log = logger.child({ module: 'proxy', component: 'acme' });
    this.acme = config.proxy.tls?.acme;
    this.feed = new ChallengeFeed(registry, book);
    this.loader = new CertificateLoader(store, book, this.log);
    this.lock = new CatalogLock(registry, ACME_KV.lock, config.host.name, LOCK_TTL_MS);
    this.failures = new Counter({
      name: 'dozen_proxy_certificate_renewal_failures_total',
      help: 'ACME orders (first issue or renewal) that failed, by domain',
      labelNames: ['domain'],
      registers: [metrics.registry],
    });
  }

  /** What GET /proxy/acme shows: this host's part (ordering or not, its wanted domains) and the cluster's certificates. */
  async status(): Promise<{ ordering: boolean; directory: string | null; wanted: string[]; lockHolder: string | null; domains: AcmeDomainView[] }> {
    const [lockHolder, domains] = await Promise.all([this.lock.holder(), this.store.overview()]);
    return { ordering: Boolean(this.acme), directory: this.acme?.directory ?? null, wanted: [...this.wanted], lockHolder, domains };
  }

  /**
   * Orders a new certificate for `domain` now, however far its expiry is (POST
   * /proxy/certificates/:domain/renew): on this host, which must order (`proxy.tls.acme`),
   * for a domain it wants; waits for the cluster's lock and the order. Resolves with the
   * domain's state afterwards: `lastError` says if the order failed (and then the backoff applies).
   */
  async renewNow(domain: string): Promise<AcmeDomainView> {
    const name = normalDomain(domain);
    const acme = this.acme;
    if (!acme || !this.orderer) throw new DomainError(409, 'conflict', 'this host does not order certificates (proxy.tls.acme is not set)', 'domain');
    if (!this.wanted.includes(name)) throw new NotFound('ACME domain', name);
    const rules: RenewalRules = { renewBeforeMs: acme.renewBeforeDays * DAY_MS };
    const deadline = Date.now() + LOCK_TTL_MS;
    while (!(await this.orderUnderLock(name, this.orderer, rules, acme, true))) {
      if (Date.now() > deadline) throw new DomainError(409, 'conflict', `another host holds the ACME lock (${await this.lock.holder()}); try again later`, 'domain');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const view = (await this.store.overview()).find((row) => row.domain === name);
    if (!view) throw new NotFound('ACME domain', name);
    return view;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.feed.start();
    this.stops.push(() => this.feed.stop());
    this.stops.push(this.registry.watchKv(ACME_KV.certificatesChanged, () => {
      void this.loader.refresh();
      this.wake?.();
    }));
    const poll = setInterval(() => void this.loader.refresh(), LOADER_POLL_MS);
    poll.unref();
    this.stops.push(() => clearInterval(poll));
    await this.loader.refresh();
    if (!this.acme) return;

    this.policies = await this.policyService.policySet();
    this.policyService.onChange((policies) => {
      this.policies = policies;
      this.updateWanted();
    });
    this.stops.push(this.routes.watchRoutes(() => this.updateWanted()));
    this.updateWanted();
    this.log.info({ directory: this.acme.directory, domains: this.wanted }, 'ACME on');
    void this.run(this.acme);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    for (const stop of this.stops.splice(0)) stop();
    // An order under way is not awaited: it ends on its own, and its lock expires by itself if it is cut.
  }

  private updateWanted(): void {
    const fileDomains = new Set((this.config.proxy.tls?.certificates ?? []).flatMap((file) => file.domains.map((domain) => domain.toLowerCase())));
    const wanted = wantedDomains(this.routes.routes().apps, (app) => (this.policies[app] ?? DEFAULT_POLICY).tls, fileDomains);
    if (wanted.join(' ') === this.wanted.join(' ')) return;
    this.wanted = wanted;
    this.wake?.();
  }

  private async run(acme: AcmeConfig): Promise<void> {
    const rules: RenewalRules = { renewBeforeMs: acme.renewBeforeDays * DAY_MS };
    const orderer = (this.orderer = new AcmeOrderer(acme, this.store, {
      publish: async (token, keyAuthorization) => {
        const served = this.feed.whenServed(token, CHALLENGE_ROUND_TRIP_MS);
        served.catch(() => {}); // awaited below, unless the put fails first
        await this.registry.kvPut(ACME_KV.challenges + token, keyAuthorization);
        await served;
        await new Promise((resolve) => setTimeout(resolve, CHALLENGE_SPREAD_MS));
      },
      withdraw: (token) => this.registry.kvDelete(ACME_KV.challenges + token),
    }));
    while (!this.stopped) {
      let nextAt: number | null;
      try {
        const next = plan(this.wanted, await this.store.states(), rules, Date.now());
        nextAt = next.nextAt;
        if (next.due.length) {
          if (await this.orderUnderLock(next.due[0], orderer, rules, acme)) continue;
          nextAt = Date.now() + LOCK_BUSY_RETRY_MS;
        }
      } catch (error) {
        this.log.error({ err: error }, 'ACME: planning or recording an order failed; trying again in 30 s');
        nextAt = Date.now() + 30_000;
      }
      await this.sleep(nextAt);
    }
  }

  /** One order while holding the cluster's lock; false when another host holds it. `forced`: even if not due. */
  private async orderUnderLock(domain: string, orderer: AcmeOrderer, rules: RenewalRules, acme: AcmeConfig, forced = false): Promise<boolean> {
    const held = await this.lock.tryAcquire();
    if (!held) return false;
    try {
      // Another host may have ordered it while this one waited for the lock.
      if (!forced && dueAt(await this.store.state(domain), rules) > Date.now()) return true;
      // Challenges left by a holder that died mid-order: with the lock held, none is anyone's now.
      if ((await this.registry.kvList(ACME_KV.challenges)).length) await this.registry.kvDelete(ACME_KV.challenges, { recurse: true });
      await this.orderOne(domain, orderer, acme);
    } finally {
      await held.release().catch((error: unknown) => this.log.warn({ err: error }, 'ACME: releasing the lock failed; it expires by itself'));
    }
    // Announced after the release, so a host this wakes finds the lock free.
    await this.registry.kvPut(ACME_KV.certificatesChanged, JSON.stringify({ domain, host: this.config.host.name, at: Date.now() }));
    await this.loader.refresh();
    return true;
  }

  /** Orders `domain` and records the certificate, or the failure and when to try again. */
  private async orderOne(domain: string, orderer: AcmeOrderer, acme: AcmeConfig): Promise<void> {
    const started = Date.now();
    this.log.info({ domain }, 'ACME order started');
    try {
      const issued = await withDeadline(orderer.order(domain), ORDER_DEADLINE_MS, `the order for ${domain} did not finish within ${ORDER_DEADLINE_MS / 1000} s`);
      await this.store.saveIssued(domain, issued.certPem, issued.keyPem, this.config.host.name);
      this.log.info({ domain, ms: Date.now() - started }, 'ACME certificate issued');
    } catch (error) {
      const failures = (await this.store.failures(domain)) + 1;
      const nextAttemptAt = Date.now() + backoffDelay(failures, { firstMs: acme.retry.firstSeconds * 1000, maxMs: acme.retry.maxSeconds * 1000 });
      await this.store.saveFailure(domain, oneLine((error as Error).message), failures, nextAttemptAt);
      this.failures.inc({ domain });
      this.log.warn({ domain, err: error, failures, nextAttemptAt: new Date(nextAttemptAt).toISOString() }, 'ACME order failed');
      // One host orders at a time (the lock), so one host tells; the quiet window holds the retries' repeats.
      this.notifier.notify({ kind: 'certificate.renewal_failed', subject: domain, message: oneLine((error as Error).message), detail: { failures, nextAttemptAt: new Date(nextAttemptAt).toISOString() } });
    }
  }

  private sleep(until: number | null): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const ms = Math.max(0, Math.min(until === null ? MAX_SLEEP_MS : until - Date.now(), MAX_SLEEP_MS));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

function withDeadline<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function oneLine(message: string): string {
  return message.replace(/\s+/g, ' ').trim().slice(0, 1000);
}

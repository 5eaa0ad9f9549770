import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { InjectLogger } from '../common/core.module.js';
import { Metrics } from '../common/metrics.js';
import { InjectConfig } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { ROUTE_SOURCE, type RouteSource } from '../registry/routes.js';
import { ProxyCluster, type WorkerReport } from './proxy.cluster.js';
import { droppedConnections, ProxyMetrics } from './proxy-metrics.js';
import { ProxyPolicyService } from './proxy-policy.service.js';
import { ProxyServer } from './proxy.server.js';
import { chooseAccept, type AcceptChoice } from './accept-mode.js';
import { CertificateBook } from './tls/certificate-book.js';
import { CertificateFilesLoader } from './tls/certificate-files.js';
import type { WorkerStart } from './worker-messages.js';
import { redactQuerySecrets } from '../common/query-secrets.js';

/**
 * Wires the proxy into the process: starts the listener (worker processes, or
 * in this process when `proxy.workers` is 0), feeds it every route snapshot
 * from the registry and every policy change. Nest stops here; requests never
 * pass through it.
 */
@Injectable()
export class ProxyService implements OnApplicationBootstrap, OnApplicationShutdown {
  private cluster: ProxyCluster | null = null;
  private local: ProxyServer | null = null;
  private readonly unwatch: (() => void)[] = [];
  private ticketTimer: NodeJS.Timeout | null = null;
  private files: CertificateFilesLoader | null = null;
  private readonly log: Logger;
  private failure: string | null = 'not started yet';

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    @Inject(ROUTE_SOURCE) private readonly routes: RouteSource,
    private readonly policies: ProxyPolicyService,
    private readonly metrics: Metrics,
    private readonly book: CertificateBook,
  ) {
    this.log = logger.child({ module: 'proxy' });
  }

  get workers(): number {
    return this.config.proxy.workers ?? availableParallelism();
  }

  /** How the workers share the listening ports (accept-mode.ts), and why not each on a socket of its own. */
  get accept(): AcceptChoice {
    return chooseAccept({ accept: this.config.proxy.accept, reusePort: this.config.proxy.reusePort, workers: this.workers });
  }

  /** null while serving; otherwise why not (health reads it). */
  get problem(): string | null {
    if (this.failure) return this.failure;
    if (this.cluster?.crashLoop) return this.cluster.crashLoop;
    if (this.cluster && this.cluster.alive === 0) return 'no proxy worker is running';
    return null;
  }

  /** Each serving process's engine and why (one entry per worker; `pid` is this process with `proxy.workers: 0`). */
  get engines(): WorkerReport[] {
    if (this.cluster) return this.cluster.workerReports;
    const report = this.local?.report;
    return report ? [{ pid: process.pid, ...report }] : [];
  }

  /** Where the listener can be reached from this host (a wildcard listen address is reached on loopback). */
  get probeAddress(): { host: string; port: number } {
    const { host, port } = this.config.proxy.listen;
    return { host: host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host, port };
  }

  async onApplicationBootstrap(): Promise<void> {
    const proxy = this.config.proxy;
    const accept = this.accept;
    const start: WorkerStart = {
      server: {
        host: proxy.listen.host,
        port: proxy.listen.port,
        reusePort: accept.mode === 'kernel',
        engine: proxy.engine,
        engineSelfTestFault: proxy.engineSelfTestFault,
        retries: proxy.retries,
        timeouts: proxy.timeouts,
        trustedProxies: proxy.trustedProxies,
        upstreamConnections: proxy.upstreamConnections,
        upstreamMaxConnections: proxy.upstreamMaxConnections,
        maxConnections: proxy.maxConnections,
        tls: proxy.tls ? { host: proxy.tls.listen.host, port: proxy.tls.listen.port, publicPort: proxy.tls.publicPort, defaultDomain: proxy.tls.defaultDomain?.toLowerCase().replace(/\.$/, ''), ocspStapling: proxy.tls.ocspStapling, http2: proxy.tls.http2 } : undefined,
      },
      accessLog: proxy.accessLog,
      logLevel: this.config.log.level,
      logFormat: this.config.log.format,
    };
    const target = this.workers === 0 ? this.inProcess(start) : (this.cluster = new ProxyCluster(start, this.workers, accept.mode, this.log, () => this.book.replay()));
    target.setPolicies(await this.policies.policySet());
    this.policies.onChange((set) => target.setPolicies(set));
    target.setRoutes(this.routes.routes());
    this.unwatch.push(this.routes.watchRoutes((snapshot) => target.setRoutes(snapshot)));
    if (proxy.tls) {
      this.rotateTicketKeys(proxy.tls.ticketKeyRotation);
      this.files = new CertificateFilesLoader(proxy.tls.certificates, this.book, this.log);
      this.files.start();
    }
    if (this.local) for (const change of this.book.replay()) this.local.applyCertificates(change);
    this.unwatch.push(this.book.watch((change) => target.applyCertificates(change)));
    try {
      if (this.cluster) {
        this.cluster.exposeMetrics(this.metrics.registry);
        await this.cluster.run();
      } else {
        await this.local!.listen();
        const report = this.local!.report!;
        if (report.fallback) this.log.warn({ engine: report.engine, reason: report.reason }, 'the proxy runs the portable engine');
      }
      this.failure = null;
      this.log.info({ listen: `${proxy.listen.host}:${proxy.listen.port}`, workers: this.workers, accept: accept.mode, acceptReason: accept.reason ?? undefined }, 'proxy listening');
    } catch (error) {
      this.failure = (error as Error).message;
      this.log.error({ err: error, listen: `${proxy.listen.host}:${proxy.listen.port}` }, 'proxy could not start');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const unwatch of this.unwatch) unwatch();
    if (this.ticketTimer) clearInterval(this.ticketTimer);
    this.files?.stop();
    await this.cluster?.stop();
    await this.local?.close();
  }

  /** One session-ticket key for every worker, replaced every `everyMs`: a ticket resumes on any worker, and not for ever. */
  private rotateTicketKeys(everyMs: number): void {
    this.book.setTicketKeys(randomBytes(48));
    this.ticketTimer = setInterval(() => this.book.setTicketKeys(randomBytes(48)), everyMs);
    this.ticketTimer.unref();
  }

  private inProcess(start: WorkerStart): ProxyServer {
    const metrics = new ProxyMetrics();
    metrics.register(this.metrics.registry);
    const access = start.accessLog ? this.log.child({ component: 'access' }) : null;
    this.local = new ProxyServer({
      ...start.server,
      onConnectionDropped: droppedConnections(metrics, this.log, start.server.maxConnections),
      onExchange: (record) => {
        metrics.observe(record);
        access?.info({ host: record.host, app: record.app, backend: record.backend, method: record.method, path: redactQuerySecrets(record.path), status: record.status, bytes: record.bytes, requestBytes: record.requestBytes, durationMs: Math.round(record.durationMs * 10) / 10, retries: record.retries, upstreamError: record.upstreamError ?? undefined, requestId: record.requestId }, 'request');
      },
    });
    return this.local;
  }
}

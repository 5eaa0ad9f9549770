import cluster, { type Worker } from 'node:cluster';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry, type RegistryContentType } from 'prom-client';
import { backoffDelay } from '../common/backoff.js';
import type { EngineReport } from './engine.js';
import { assertPortFree, setClusterScheduling, type AcceptMode } from './accept-mode.js';
import { PROXY_METRICS, type MetricsJson } from './proxy-metrics.js';
import type { RouteSnapshot } from '../registry/routes.js';
import type { PolicySet } from './policy.js';
import type { BookChange } from './tls/certificate-book.js';
import type { FromWorker, ToWorker, WorkerStart } from './worker-messages.js';

const WORKER_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'proxy.worker.js');
/**
 * There is one worker per core, each busy on its own: V8's parallel
 * scavenges would only take helper threads from the neighbouring workers'
 * cores (measured with `npm run bench:proxy`: about 4 % more requests/s).
 */
const WORKER_V8_FLAGS = ['--single-threaded-gc'];
const METRICS_TIMEOUT_MS = 2_000;
/** Restarts after a death wait 0.5 s, doubling to 30 s while workers keep dying (jittered: common/backoff.ts). */
const RESTART_BACKOFF = { firstMs: 500, maxMs: 30_000 };
/** A worker that served this long was not part of a crash loop: the next restart is quick again. */
const STABLE_MS = 10_000;
/** More deaths than this within CRASH_WINDOW_MS make the proxy `down` in health. */
const CRASH_LIMIT = 3;
const CRASH_WINDOW_MS = 10_000;

/** One worker process as health reports it. */
export interface WorkerReport extends EngineReport {
  pid: number;
}

/**
 * The proxy's worker processes (node:cluster; how they share the listener: accept-mode.ts). The
 * primary (the Nest process) holds the latest route snapshot and policies and
 * sends them to every worker over IPC, including workers restarted after a
 * crash; it sums the workers' metrics into the admin registry on scrape.
 */
export class ProxyCluster {
  private readonly workers = new Set<Worker>();
  private routes: RouteSnapshot | null = null;
  private policies: PolicySet | null = null;
  private stopping = false;
  /** Which engine each listening worker runs, and why. */
  private readonly engines = new Map<Worker, EngineReport>();
  /** When workers died (ms since epoch), the recent ones only. */
  private deaths: number[] = [];
  /** Restarts in a row that did not last STABLE_MS: drives the backoff. */
  private restartsInRow = 0;
  private lastError: string | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (metrics: MetricsJson) => void>();
  private scrape: { at: number; result: Promise<Registry<RegistryContentType>> } | null = null;

  constructor(
    private readonly start: WorkerStart,
    private readonly count: number,
    /** How the workers share the listening ports (accept-mode.ts); `kernel` needs start.server.reusePort. */
    private readonly accept: AcceptMode,
    private readonly log: Logger,
    /** The certificate book as it is now: what a worker that starts (or restarts) is sent first. */
    private readonly certificatesNow: () => BookChange[] = () => [],
  ) {}

  /**
   * Forks the workers and resolves once every one is listening (rejects with the first failure).
   * With SO_REUSEPORT (`kernel`) every worker binds for itself, so the ports are first
   * checked free (config ports are never 0: every worker binds the same one).
   */
  async run(): Promise<void> {
    setClusterScheduling(this.accept);
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], execArgv: [...process.execArgv, ...WORKER_V8_FLAGS] });
    const server = this.start.server;
    if (this.accept === 'kernel') {
      await assertPortFree(server.port, server.host);
      if (server.tls) await assertPortFree(server.tls.port, server.tls.host);
    }
    await Promise.all(Array.from({ length: this.count }, () => this.fork()));
  }

  setRoutes(snapshot: RouteSnapshot): void {
    this.routes = snapshot;
    this.broadcast({ type: 'routes', snapshot });
  }

  setPolicies(policies: PolicySet): void {
    this.policies = policies;
    this.broadcast({ type: 'policies', policies });
  }

  /** Tells every worker of a change in the certificate book. */
  applyCertificates(change: BookChange): void {
    this.broadcast({ type: 'certificates', changes: [change] });
  }

  get alive(): number {
    return [...this.workers].filter((worker) => !worker.isDead()).length;
  }

  /** Each listening worker's engine and why it runs it. */
  get workerReports(): WorkerReport[] {
    return [...this.engines].map(([worker, report]) => ({ pid: worker.process.pid ?? 0, ...report }));
  }

  /**
   * Why the proxy is in a crash loop, or null: more than 3 worker deaths in
   * 10 s, or more than 3 in a row of workers that did not last 10 s (the
   * backoff spaces deaths out, so a loop that goes on is seen either way).
   * The reason ends with the last error.
   */
  get crashLoop(): string | null {
    const since = Date.now() - CRASH_WINDOW_MS;
    const recent = this.deaths.filter((at) => at > since).length;
    if (recent > CRASH_LIMIT) return `proxy workers died ${recent} times in the last ${CRASH_WINDOW_MS / 1000} s; last: ${this.lastError}`;
    if (this.restartsInRow > CRASH_LIMIT) return `proxy workers died ${this.restartsInRow} times in a row, each within ${STABLE_MS / 1000} s of starting; last: ${this.lastError}`;
    return null;
  }

  /** Adds the workers' summed per-app metrics to `registry` (computed on each scrape). */
  exposeMetrics(registry: Registry<RegistryContentType>): void {
    for (const [name, help, type] of PROXY_METRICS) {
      const empty = { name, help, type, values: [], aggregator: 'sum' as const };
      registry.registerMetric({
        name,
        get: async () => (await this.collect()).getSingleMetric(name)?.get() ?? empty,
      } as never);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const force = setTimeout(() => worker.process.kill('SIGKILL'), 8_000);
            worker.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            worker.send({ type: 'stop' } satisfies ToWorker);
          }),
      ),
    );
  }

  private fork(): Promise<void> {
    const worker = cluster.fork();
    this.workers.add(worker);
    const started = Date.now();
    let fatal: string | null = null;
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          worker.send({ type: 'start', start: this.start } satisfies ToWorker);
          if (this.policies) worker.send({ type: 'policies', policies: this.policies } satisfies ToWorker);
          if (this.routes) worker.send({ type: 'routes', snapshot: this.routes } satisfies ToWorker);
          const certificates = this.certificatesNow();
          if (certificates.length) worker.send({ type: 'certificates', changes: certificates } satisfies ToWorker);
        } else if (message.type === 'listening') {
          listening = true;
          this.engines.set(worker, message.engine);
          // Serving for a while ends a run of deaths: restarts are quick again and health forgets the loop.
          setTimeout(() => {
            if (!worker.isDead()) this.restartsInRow = 0;
          }, STABLE_MS).unref();
          resolve();
        } else if (message.type === 'failed') {
          fatal = message.message;
          reject(new Error(`proxy worker could not start: ${message.message}`));
        } else if (message.type === 'fatal') {
          fatal = message.message;
        } else if (message.type === 'metrics') {
          this.pending.get(message.id)?.(message.metrics);
        }
      });
      worker.once('exit', (code, signal) => {
        this.workers.delete(worker);
        this.engines.delete(worker);
        if (this.stopping) return reject(new Error('the proxy is stopping'));
        const reason = fatal ?? `exited with code ${code}${signal ? `, signal ${signal}` : ''}`;
        this.died(reason, Date.now() - started);
        if (!listening) return reject(new Error(`proxy worker exited before listening (${reason})`));
        // `pid` is the logger's own field (this process): the worker's goes under its own name.
        this.log.error({ workerPid: worker.process.pid, code, signal, reason, restartInMs: this.respawn() }, 'proxy worker died; starting another');
      });
    });
  }

  private died(reason: string, livedMs: number): void {
    const now = Date.now();
    this.deaths = [...this.deaths.filter((at) => at > now - CRASH_WINDOW_MS), now];
    this.lastError = reason;
    this.restartsInRow = livedMs >= STABLE_MS ? 1 : this.restartsInRow + 1;
  }

  /** Starts a worker in place of a dead one, later each time while they keep dying (a crash loop must not spin); returns the wait. */
  private respawn(): number {
    const delay = backoffDelay(this.restartsInRow, RESTART_BACKOFF);
    setTimeout(() => {
      if (this.stopping) return;
      this.fork().catch((error: Error) => {
        if (this.stopping) return;
        this.log.error({ err: error, retryInMs: backoffDelay(this.restartsInRow, RESTART_BACKOFF) }, 'proxy worker restart failed');
        this.respawn();
      });
    }, delay).unref();
    return delay;
  }

  /** A worker not yet ready gets the latest routes, policies and certificates with its start message instead. */
  private broadcast(message: ToWorker): void {
    for (const worker of this.workers) if (worker.isConnected()) worker.send(message);
  }

  /** One aggregation per scrape, shared by the four metrics that ask for it. */
  private collect(): Promise<Registry<RegistryContentType>> {
    if (this.scrape && Date.now() - this.scrape.at < 500) return this.scrape.result;
    const result = Promise.all([...this.workers].filter((worker) => worker.isConnected()).map((worker) => this.ask(worker))).then((all) =>
      AggregatorRegistry.aggregate(all.filter((metrics): metrics is MetricsJson => metrics !== null)),
    );
    this.scrape = { at: Date.now(), result };
    return result;
  }

  private ask(worker: Worker): Promise<MetricsJson | null> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, METRICS_TIMEOUT_MS);
      this.pending.set(id, (metrics) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(metrics);
      });
      worker.send({ type: 'metrics', id } satisfies ToWorker);
    });
  }
}

import cluster, { type Worker } from 'node:cluster';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry, type RegistryContentType } from 'prom-client';
import { PROXY_METRICS, type MetricsJson } from './proxy-metrics.js';
import type { RouteSnapshot } from '../registry/routes.js';
import type { PolicySet } from './policy.js';
import type { FromWorker, ToWorker, WorkerStart } from './worker-messages.js';

const WORKER_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'proxy.worker.js');
/**
 * There is one worker per core, each busy on its own: V8's parallel
 * scavenges would only take helper threads from the neighbouring workers'
 * cores (measured with `npm run bench:proxy`: about 4 % more requests/s).
 */
const WORKER_V8_FLAGS = ['--single-threaded-gc'];
const RESTART_DELAY_MS = 1_000;
const METRICS_TIMEOUT_MS = 2_000;

/**
 * The proxy's worker processes (node:cluster, sharing the listener). The
 * primary (the Nest process) holds the latest route snapshot and policies and
 * sends them to every worker over IPC, including workers restarted after a
 * crash; it sums the workers' metrics into the admin registry on scrape.
 */
export class ProxyCluster {
  private readonly workers = new Set<Worker>();
  private routes: RouteSnapshot | null = null;
  private policies: PolicySet | null = null;
  private stopping = false;
  private nextId = 1;
  private readonly pending = new Map<number, (metrics: MetricsJson) => void>();
  private scrape: { at: number; result: Promise<Registry<RegistryContentType>> } | null = null;

  constructor(
    private readonly start: WorkerStart,
    private readonly count: number,
    private readonly log: Logger,
  ) {}

  /** Forks the workers and resolves once every one is listening (rejects with the first failure). */
  async run(): Promise<void> {
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], execArgv: [...process.execArgv, ...WORKER_V8_FLAGS] });
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

  get alive(): number {
    return [...this.workers].filter((worker) => !worker.isDead()).length;
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
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          worker.send({ type: 'start', start: this.start } satisfies ToWorker);
          if (this.policies) worker.send({ type: 'policies', policies: this.policies } satisfies ToWorker);
          if (this.routes) worker.send({ type: 'routes', snapshot: this.routes } satisfies ToWorker);
        } else if (message.type === 'listening') {
          listening = true;
          resolve();
        } else if (message.type === 'failed') {
          reject(new Error(`proxy worker could not start: ${message.message}`));
        } else if (message.type === 'metrics') {
          this.pending.get(message.id)?.(message.metrics);
        }
      });
      worker.once('exit', (code, signal) => {
        this.workers.delete(worker);
        if (!listening) return reject(new Error(`proxy worker exited before listening (code ${code}, signal ${signal})`));
        if (this.stopping) return;
        // `pid` is the logger's own field (this process): the worker's goes under its own name.
        this.log.error({ workerPid: worker.process.pid, code, signal }, 'proxy worker died; starting another');
        setTimeout(() => {
          if (!this.stopping) this.fork().catch((error: Error) => this.log.error({ err: error }, 'proxy worker restart failed'));
        }, RESTART_DELAY_MS).unref();
      });
    });
  }

  /** A worker not yet ready gets the latest routes and policies with its start message instead. */
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

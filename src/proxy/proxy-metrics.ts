import type { MetricObjectWithValues, MetricValue, Registry, RegistryContentType } from 'prom-client';
import { DEFAULT_MAX_CONNECTIONS } from './engine.js';
import type { ExchangeRecord } from './forward.js';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

const REQUESTS = 'dozen_proxy_requests_total';
const DURATION = 'dozen_proxy_request_duration_seconds';
const UPSTREAM_ERRORS = 'dozen_proxy_upstream_errors_total';
const RETRIES = 'dozen_proxy_retries_total';
const ENGINE = 'dozen_proxy_engine_workers';
const DROPPED = 'dozen_proxy_connections_dropped_total';

/** Help texts, also used by the primary for metrics no worker reported yet. */
export const PROXY_METRICS: [string, string, 'counter' | 'histogram' | 'gauge'][] = [
  [REQUESTS, 'Requests answered by the proxy, by app and status class', 'counter'],
  [DURATION, 'Time from request to the end of the response, by app', 'histogram'],
  [UPSTREAM_ERRORS, 'Backend failures seen by the proxy (connect, timeout, reset), by app and kind', 'counter'],
  [RETRIES, 'Requests sent again to another backend after a connection failure, by app', 'counter'],
  [ENGINE, 'Proxy worker processes by the engine they run (fast: llhttp on Node internals; portable: node:http and undici)', 'gauge'],
  [DROPPED, 'Client connections closed as they were accepted, the worker holding proxy.maxConnections already', 'counter'],
];

interface AppCounters {
  byClass: number[];
  buckets: number[];
  sum: number;
  count: number;
  retries: number;
  errors: Map<string, number>;
}

/**
 * Per-app proxy metrics, counted in plain arrays on the request path (a
 * prom-client observe hashes its labels on every call, which showed in the
 * profile) and turned into prom-client's JSON shape only when scraped. Each
 * worker keeps its own; the primary sums them with AggregatorRegistry.
 */
export class ProxyMetrics {
  private readonly apps = new Map<string, AppCounters>();
  private engine: string | null = null;
  private dropped = 0;

  /** The engine this process runs (each worker counts 1; the primary's sum is workers per engine). */
  setEngine(engine: string): void {
    this.engine = engine;
  }

  connectionDropped(): void {
    this.dropped++;
  }

  observe(record: ExchangeRecord): void {
    const app = record.app || '(none)';
    let counters = this.apps.get(app);
    if (!counters) {
      counters = { byClass: [0, 0, 0, 0, 0], buckets: new Array<number>(BUCKETS.length).fill(0), sum: 0, count: 0, retries: 0, errors: new Map() };
      this.apps.set(app, counters);
    }
    const statusClass = Math.floor(record.status / 100) - 1;
    if (statusClass >= 0 && statusClass < 5) counters.byClass[statusClass]++;
    const seconds = record.durationMs / 1000;
    for (let index = 0; index < BUCKETS.length; index++) {
      if (seconds <= BUCKETS[index]) {
        counters.buckets[index]++;
        break;
      }
    }
    counters.sum += seconds;
    counters.count++;
    counters.retries += record.retries;
    if (record.upstreamError) counters.errors.set(record.upstreamError, (counters.errors.get(record.upstreamError) ?? 0) + 1);
  }

  /** The metrics as prom-client's `getMetricsAsJSON()` would give them. */
  toJson(): MetricsJson {
    const requests: MetricValue<string>[] = [];
    const duration: MetricValue<string>[] = [];
    const errors: MetricValue<string>[] = [];
    const retries: MetricValue<string>[] = [];
    for (const [app, counters] of this.apps) {
      counters.byClass.forEach((value, index) => value && requests.push({ labels: { app, class: STATUS_CLASSES[index] }, value }));
      let cumulative = 0;
      BUCKETS.forEach((bound, index) => {
        cumulative += counters.buckets[index];
        duration.push({ labels: { le: bound, app }, value: cumulative, metricName: `${DURATION}_bucket` } as MetricValue<string>);
      });
      duration.push({ labels: { le: '+Inf', app }, value: counters.count, metricName: `${DURATION}_bucket` } as MetricValue<string>);
      duration.push({ labels: { app }, value: counters.sum, metricName: `${DURATION}_sum` } as MetricValue<string>);
      duration.push({ labels: { app }, value: counters.count, metricName: `${DURATION}_count` } as MetricValue<string>);
      for (const [kind, value] of counters.errors) errors.push({ labels: { app, kind }, value });
      retries.push({ labels: { app }, value: counters.retries });
    }
    const engines: MetricValue<string>[] = this.engine ? [{ labels: { engine: this.engine }, value: 1 }] : [];
    const values = [requests, duration, errors, retries, engines, [{ labels: {}, value: this.dropped }]];
    return PROXY_METRICS.map(([name, help, type], index) => ({ name, help, type, values: values[index], aggregator: 'sum' }) as unknown as MetricObjectWithValues<MetricValue<string>>);
  }

  /** Serves these metrics from `registry` (when the proxy runs inside the main process). */
  register(registry: Registry<RegistryContentType>): void {
    for (const [name] of PROXY_METRICS) {
      registry.registerMetric({ name, get: async () => this.toJson().find((metric) => metric.name === name) } as never);
    }
  }
}

/** What a listener calls when it closes a connection at proxy.maxConnections: counted, and a warning at most once a minute. */
export function droppedConnections(metrics: ProxyMetrics, log: { warn(fields: object, message: string): void }, max = DEFAULT_MAX_CONNECTIONS): () => void {
  let warnedAt = 0;
  let since = 0;
  return () => {
    metrics.connectionDropped();
    since++;
    const now = Date.now();
    if (now - warnedAt < 60_000) return;
    log.warn({ maxConnections: max, droppedSinceLastWarning: since }, 'proxy at proxy.maxConnections: new connections are closed as they are accepted');
    warnedAt = now;
    since = 0;
  };
}

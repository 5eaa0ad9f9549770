import { Counter, Histogram, type Registry } from 'prom-client';
import type { ExchangeRecord } from './forward.js';

const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** One app's metric children, looked up once per app instead of per request (label hashing is the costly part). */
interface AppMetrics {
  byClass: Map<number, Counter.Internal>;
  latency: Histogram.Internal<'app'>;
  retries: Counter.Internal;
}

/**
 * Per-app proxy metrics. Each worker process keeps its own; the primary sums
 * them for the admin /metrics (ProxyCluster), so the names and labels here are
 * what Prometheus sees.
 */
export class ProxyMetrics {
  private readonly requests: Counter<'app' | 'class'>;
  private readonly latency: Histogram<'app'>;
  private readonly upstreamErrors: Counter<'app' | 'kind'>;
  private readonly retries: Counter<'app'>;
  private readonly apps = new Map<string, AppMetrics>();

  constructor(readonly registry: Registry) {
    this.requests = new Counter({ name: 'dozen_proxy_requests_total', help: 'Requests answered by the proxy, by app and status class', labelNames: ['app', 'class'], registers: [registry] });
    this.latency = new Histogram({
      name: 'dozen_proxy_request_duration_seconds',
      help: 'Time from request to the end of the response, by app',
      labelNames: ['app'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.upstreamErrors = new Counter({ name: 'dozen_proxy_upstream_errors_total', help: 'Backend failures seen by the proxy (connect, timeout, reset), by app and kind', labelNames: ['app', 'kind'], registers: [registry] });
    this.retries = new Counter({ name: 'dozen_proxy_retries_total', help: 'Requests sent again to another backend after a connection failure, by app', labelNames: ['app'], registers: [registry] });
  }

  observe(record: ExchangeRecord): void {
    const app = record.app || '(none)';
    let metrics = this.apps.get(app);
    if (!metrics) {
      metrics = { byClass: new Map(), latency: this.latency.labels(app), retries: this.retries.labels(app) };
      this.apps.set(app, metrics);
    }
    const statusClass = Math.floor(record.status / 100);
    let counter = metrics.byClass.get(statusClass);
    if (!counter) metrics.byClass.set(statusClass, (counter = this.requests.labels(app, STATUS_CLASS[statusClass] ?? 'other')));
    counter.inc();
    metrics.latency.observe(record.durationMs / 1000);
    if (record.retries) metrics.retries.inc(record.retries);
    if (record.upstreamError) this.upstreamErrors.labels(app, record.upstreamError).inc();
  }
}

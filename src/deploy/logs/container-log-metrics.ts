import { Counter } from 'prom-client';
import type { Metrics } from '../../common/metrics.js';

/** Container output shipped to the store, by app (a bounded label: apps are few, containers come and go). */
export class ContainerLogMetrics {
  private readonly bytes: Counter<'app'>;
  private readonly lines: Counter<'app'>;
  private readonly failures: Counter<'app'>;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.bytes = new Counter({ name: 'dozen_deploy_container_log_bytes_total', help: "Bytes of containers' output appended to the object store", labelNames: ['app'], registers });
    this.lines = new Counter({ name: 'dozen_deploy_container_log_lines_total', help: "Lines of containers' output appended to the object store", labelNames: ['app'], registers });
    this.failures = new Counter({ name: 'dozen_deploy_container_log_append_failures_total', help: "Appends of containers' output the store refused or did not answer (each is retried)", labelNames: ['app'], registers });
  }

  shipped(app: string, bytes: number, lines: number): void {
    this.bytes.inc({ app }, bytes);
    this.lines.inc({ app }, lines);
  }

  failed(app: string): void {
    this.failures.inc({ app });
  }
}

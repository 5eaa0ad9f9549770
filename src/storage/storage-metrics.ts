import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { DomainError } from '../common/errors.js';
import { Metrics } from '../common/metrics.js';
import type { TailStatus } from './tailer/tail-status.js';

/** Where bytes come in: a whole object (PUT/POST, or another module's put), a part of a resumable upload, an append (the tailer). */
export type UploadRoute = 'put' | 'part' | 'append';

/** What the tailer reports as it ships; labelled by the configured glob the file matched. */
export interface TailerMetrics {
  shipped(source: string, bytes: number, lines: number): void;
  shipFailed(source: string): void;
}

/**
 * The storage module's Prometheus metrics, on the admin `/metrics`.
 *
 * Tailer metrics are labelled by `source`, the configured glob, not by file
 * path: paths under a glob come and go (rotation, dated names) and a path label
 * would grow without bound, while the globs are fixed by the config. Per-file
 * offsets and lag are in `GET /storage/tail` and the `tailStatus` query.
 */
@Injectable()
export class StorageMetrics implements TailerMetrics {
  private readonly uploadedBytes: Counter<'route'>;
  private readonly uploadedObjects: Counter<'route'>;
  private readonly uploadErrors: Counter<'route' | 'kind'>;
  private readonly duration: Histogram<'operation' | 'driver'>;
  private readonly retries: Counter<'driver' | 'request'>;
  private readonly shippedBytes: Counter<'source'>;
  private readonly shippedLines: Counter<'source'>;
  private readonly shipErrors: Counter<'source'>;
  private tail: { sources: string[]; status: () => TailStatus } | null = null;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.uploadedBytes = new Counter({ name: 'dozen_storage_uploaded_bytes_total', help: 'Bytes stored, by route: put (a whole object), part (of a resumable upload), append', labelNames: ['route'], registers });
    this.uploadedObjects = new Counter({
      name: 'dozen_storage_uploaded_objects_total',
      help: 'Objects written, by route: put (one per object), part (one per completed resumable upload), append (one per append that created its object)',
      labelNames: ['route'],
      registers,
    });
    this.uploadErrors = new Counter({ name: 'dozen_storage_upload_errors_total', help: 'Writes that failed, by route and kind (the error code of the API answer, aborted, or internal)', labelNames: ['route', 'kind'], registers });
    this.duration = new Histogram({
      name: 'dozen_storage_operation_duration_seconds',
      help: 'Time an object store operation took, retries included (get: until the body starts), by operation and driver',
      labelNames: ['operation', 'driver'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.retries = new Counter({ name: 'dozen_storage_store_retries_total', help: 'Requests to the store sent again after a 5xx or network failure, by driver and store request', labelNames: ['driver', 'request'], registers });
    this.shippedBytes = new Counter({ name: 'dozen_storage_tail_shipped_bytes_total', help: 'Log bytes the tailer appended to the store, by source glob', labelNames: ['source'], registers });
    this.shippedLines = new Counter({ name: 'dozen_storage_tail_shipped_lines_total', help: 'Complete log lines (newlines) the tailer appended to the store, by source glob', labelNames: ['source'], registers });
    this.shipErrors = new Counter({ name: 'dozen_storage_tail_ship_errors_total', help: 'Batches the tailer failed to append (retried with backoff), by source glob', labelNames: ['source'], registers });
    const tailGauge = (name: string, help: string, value: (files: TailStatus['files']) => number) => {
      const storage = this;
      new Gauge({
        name,
        help,
        labelNames: ['source'],
        registers,
        // Read at each scrape, so a file the tailer stopped following leaves no stale value.
        collect() {
          this.reset();
          if (!storage.tail) return;
          const files = storage.tail.status().files;
          for (const source of storage.tail.sources) this.set({ source }, value(files.filter((file) => file.source === source)));
        },
      });
    };
    tailGauge('dozen_storage_tail_files', 'Files the tailer follows now, by source glob', (files) => files.length);
    tailGauge('dozen_storage_tail_lag_bytes', 'Bytes written to followed files and not yet in the store, by source glob', (files) => files.reduce((sum, file) => sum + file.lagBytes, 0));
    tailGauge('dozen_storage_tail_lag_seconds', 'Age of the oldest unshipped bytes among the followed files, by source glob', (files) => files.reduce((most, file) => Math.max(most, file.lagSeconds), 0));
  }

  /** Times `call` as `operation` on `driver`. */
  async timed<T>(operation: string, driver: string, call: () => Promise<T>): Promise<T> {
    const end = this.duration.startTimer({ operation, driver });
    try {
      return await call();
    } finally {
      end();
    }
  }

  uploaded(route: UploadRoute, bytes: number, objects: number): void {
    if (bytes) this.uploadedBytes.inc({ route }, bytes);
    if (objects) this.uploadedObjects.inc({ route }, objects);
  }

  uploadFailed(route: UploadRoute, error: unknown): void {
    this.uploadErrors.inc({ route, kind: errorKind(error) });
  }

  retried(driver: string, request: string): void {
    this.retries.inc({ driver, request });
  }

  shipped(source: string, bytes: number, lines: number): void {
    this.shippedBytes.inc({ source }, bytes);
    if (lines) this.shippedLines.inc({ source }, lines);
  }

  shipFailed(source: string): void {
    this.shipErrors.inc({ source });
  }

  /** Serves the tailer's gauges from its status at each scrape. */
  watchTailer(sources: string[], status: () => TailStatus): void {
    this.tail = { sources, status };
  }
}

/** A bounded label: the API error code of a DomainError, `aborted` when the client's body broke off, else `internal`. */
function errorKind(error: unknown): string {
  if (error instanceof DomainError) return error.error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error | undefined)?.message === 'aborted') return 'aborted';
  return 'internal';
}

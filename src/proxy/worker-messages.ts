import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { RouteSnapshot } from '../registry/routes.js';
import type { EngineReport } from './engine.js';
import type { PolicySet } from './policy.js';
import type { ProxyServerOptions } from './proxy.server.js';
import type { BookChange } from './tls/certificate-book.js';

/** What a proxy worker needs to start: the server options minus callbacks, and its logging. */
export interface WorkerStart {
  server: Omit<ProxyServerOptions, 'onExchange' | 'onConnectionDropped'>;
  accessLog: boolean;
  logLevel: string;
  /** As log.format; absent means JSON lines. */
  logFormat?: 'auto' | 'pretty' | 'json';
}

/** Primary -> worker, over the IPC channel of node:cluster (or child_process.fork). */
export type ToWorker =
  | { type: 'start'; start: WorkerStart }
  | { type: 'routes'; snapshot: RouteSnapshot }
  | { type: 'policies'; policies: PolicySet }
  /** Certificates and ACME challenges (tls/certificate-book.ts); a new worker gets the book's replay after `start`. */
  | { type: 'certificates'; changes: BookChange[] }
  | { type: 'metrics'; id: number }
  | { type: 'stats'; id: number }
  | { type: 'stop' };

/** Worker -> primary. */
export type FromWorker =
  /** Sent once the worker listens for messages (anything sent before may be lost). */
  | { type: 'ready' }
  | { type: 'listening'; port: number; tlsPort: number | null; engine: EngineReport }
  /** An error no code caught: sent just before the worker exits, so health can name it. */
  | { type: 'fatal'; message: string }
  | { type: 'failed'; message: string }
  | { type: 'applied'; version: number }
  | { type: 'metrics'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { type: 'stats'; id: number; rss: number; heapUsed: number; arrayBuffers: number };

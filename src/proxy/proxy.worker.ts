/**
 * A proxy worker process (node:cluster worker, or a forked child in tests):
 * runs one ProxyServer and takes its routes, policies and start options from
 * the primary over IPC, so it needs no config file, database or Nest.
 */
import { pino } from 'pino';
import { isPretty } from '../common/logger.js';
import { prettyLines } from '../common/pretty-log.js';
import type { RouteSnapshot } from '../registry/routes.js';
import type { PolicySet } from './policy.js';
import type { BookChange } from './tls/certificate-book.js';
import { droppedConnections, ProxyMetrics } from './proxy-metrics.js';
import { ProxyServer } from './proxy.server.js';
import type { FromWorker, ToWorker, WorkerStart } from './worker-messages.js';
import { redactQuerySecrets } from '../common/query-secrets.js';

let server: ProxyServer | null = null;
// Routes or policies that arrive while the server is still starting are applied once it is up.
let pendingRoutes: RouteSnapshot | null = null;
let pendingPolicies: PolicySet | null = null;
let pendingCertificates: BookChange[] = [];
const metrics = new ProxyMetrics();

function send(message: FromWorker): void {
  process.send?.(message);
}

async function start(options: WorkerStart): Promise<void> {
  const destination = pino.destination({ dest: 1, sync: false });
  const terminal = Boolean(process.stdout.isTTY);
  const log = pino({ level: options.logLevel, base: { pid: process.pid, module: 'proxy' } }, isPretty(options.logFormat ?? 'json', terminal) ? prettyLines(destination, { colors: terminal }) : destination);
  const accessLog = options.accessLog ? log.child({ component: 'access' }) : null;
  server = new ProxyServer({
    ...options.server,
    onConnectionDropped: droppedConnections(metrics, log, options.server.maxConnections),
    onExchange: (record) => {
      metrics.observe(record);
      accessLog?.info({ host: record.host, app: record.app, backend: record.backend, method: record.method, path: redactQuerySecrets(record.path), status: record.status, bytes: record.bytes, requestBytes: record.requestBytes, durationMs: Math.round(record.durationMs * 10) / 10, retries: record.retries, upstreamError: record.upstreamError ?? undefined, requestId: record.requestId }, 'request');
    },
  });
  if (pendingPolicies) server.setPolicies(pendingPolicies);
  if (pendingRoutes) server.setRoutes(pendingRoutes);
  for (const change of pendingCertificates) server.applyCertificates(change);
  pendingCertificates = [];
  const port = await server.listen();
  const engine = server.report!;
  metrics.setEngine(engine.engine);
  if (engine.fallback) log.warn({ engine: engine.engine, reason: engine.reason }, 'proxy worker runs the portable engine');
  log.info({ port, tlsPort: server.tlsPort ?? undefined, engine: engine.engine, tls: engine.tls }, 'proxy worker listening');
  send({ type: 'listening', port, tlsPort: server.tlsPort, engine });
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'start':
      start(message.start).catch((error: Error) => {
        send({ type: 'failed', message: error.message });
        process.exitCode = 1;
      });
      break;
    case 'routes':
      if (server) server.setRoutes(message.snapshot);
      else pendingRoutes = message.snapshot;
      send({ type: 'applied', version: message.snapshot.version });
      break;
    case 'policies':
      if (server) server.setPolicies(message.policies);
      else pendingPolicies = message.policies;
      break;
    case 'certificates':
      if (server) for (const change of message.changes) server.applyCertificates(change);
      else pendingCertificates.push(...message.changes);
      break;
    case 'metrics':
      send({ type: 'metrics', id: message.id, metrics: metrics.toJson() });
      break;
    case 'stats': {
      // Under --expose-gc (tests), what is held rather than garbage awaiting collection.
      (globalThis as { gc?: () => void }).gc?.();
      const usage = process.memoryUsage();
      send({ type: 'stats', id: message.id, rss: usage.rss, heapUsed: usage.heapUsed, arrayBuffers: usage.arrayBuffers });
      break;
    }
    case 'stop':
      void (server?.close() ?? Promise.resolve()).then(() => process.exit(0));
      break;
  }
});

// Say what killed the worker before it goes, so /health can give the reason of a crash loop.
process.on('uncaughtException', (error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  const exit = () => process.exit(1);
  if (!process.send || !process.connected) return exit();
  process.send({ type: 'fatal', message: `${error.name}: ${error.message}` } satisfies FromWorker, undefined, undefined, exit);
  setTimeout(exit, 1_000).unref();
});

send({ type: 'ready' });

// The primary went away: nothing will ever send routes again.
process.on('disconnect', () => process.exit(0));

/**
 * `npm run bench:registry`: how long a change takes to reach a subscriber's
 * route table (RegistryService.watchRoutes, what the proxy uses), from
 * register and from deregister, for the embedded adapter (SQLite-persisted)
 * and the consul adapter against the Consul HTTP API stand-in. Reference, same
 * run, same stand-in: the `consul` client's own Watch helper on
 * /v1/health/service (no rate limit, no route table), measured the same way.
 * Loopback only; bounded (CHANGES per adapter).
 *
 * Then load figures at scale (embedded adapter): LOAD_INSTANCES instances each sending a heartbeat with
 * load figures once a second, as dozen's self-registration does; route snapshots built a second, their
 * bytes (what goes to each proxy worker), and the process's CPU. No reference: the figure to watch is
 * that snapshots a second stay flat as instances grow (docs/registry.md, "Load figures at scale").
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Consul from 'consul';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { configSchema, type DozenConfig } from '../src/config/config.schema.js';
import { MIGRATIONS } from '../src/database/migrations.js';
import type { Catalog } from '../src/registry/catalog.js';
import { ConsulCatalog } from '../src/registry/consul.catalog.js';
import { EmbeddedCatalog } from '../src/registry/embedded.catalog.js';
import { DatabaseEmbeddedStore } from '../src/registry/embedded.store.js';
import { RegistryInstanceEntity, RegistryKvEntity } from '../src/registry/registry.entity.js';
import { RegistryService } from '../src/registry/registry.service.js';
import type { RouteSnapshot } from '../src/registry/routes.js';
import { ConsulStandin } from '../test/support/consul-standin.js';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 1000);
const LOAD_INSTANCES = (process.env.BENCH_LOAD_INSTANCES ?? '300,1000').split(',').map(Number);
const LOAD_SECONDS = 5;
const TIMEOUT_MS = 5000;

interface Row {
  name: string;
  register: number[];
  deregister: number[];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Registers and deregisters CHANGES/2 instances one after another, timing each until the route table shows it. */
/** dozen's defaults (a hand-made partial config broke whenever the service read a new field) for one host named bench. */
function benchConfig(): DozenConfig {
  return configSchema.parse({ host: { name: 'bench' }, registry: { catalog: 'embedded' } });
}

async function measureService(name: string, catalog: Catalog): Promise<Row> {
  const config = benchConfig(); // 'embedded' here only skips announcing a host: one process, no peers
  const registry = new RegistryService(catalog, config, pino({ level: 'silent' }));
  await registry.onModuleInit();
  let waiting: { test: (snapshot: RouteSnapshot) => boolean; done: () => void } | null = null;
  registry.watchRoutes((snapshot) => {
    if (waiting?.test(snapshot)) waiting.done();
  });
  const until = (test: (snapshot: RouteSnapshot) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: ${what} not seen within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      waiting = { test, done: () => (clearTimeout(timer), (waiting = null), resolve()) };
      if (test(registry.routes())) waiting.done();
    });
  const has = (snapshot: RouteSnapshot, id: string) => snapshot.apps.some((app) => app.backends.some((backend) => backend.instance === id));
  // An instance that stays, so the app (and the consul adapter's watch on it) lives through the run, as in production.
  await registry.register({ id: 'anchor', app: 'bench', address: '127.0.0.1', port: 9000, domains: ['bench.example.net'], meta: {}, ttl: 600, deregisterAfter: 600 });
  await until((snapshot) => has(snapshot, 'anchor'), 'anchor');
  const row: Row = { name, register: [], deregister: [] };
  for (let change = 0; change < CHANGES / 2; change++) {
    const id = `bench-${change}`;
    let started = performance.now();
    const seen = until((snapshot) => has(snapshot, id), `register ${id}`);
    await registry.register({ id, app: 'bench', address: '127.0.0.1', port: 9001, domains: ['bench.example.net'], meta: {}, ttl: 600, deregisterAfter: 600 });
    await seen;
    row.register.push(performance.now() - started);
    started = performance.now();
    const gone = until((snapshot) => !has(snapshot, id), `deregister ${id}`);
    await registry.deregister(id);
    await gone;
    row.deregister.push(performance.now() - started);
  }
  await registry.onModuleDestroy();
  return row;
}

/** The reference: the consul client's Watch on health/service, timing the same register/deregister pairs. */
async function measureClientWatch(url: string): Promise<Row> {
  const { hostname, port } = new URL(url);
  const consul = new Consul({ host: hostname, port: Number(port) });
  let latest: { Service: { ID: string } }[] = [];
  let waiting: { test: () => boolean; done: () => void } | null = null;
  const watch = consul.watch({ method: consul.health.service, options: { service: 'reference', wait: '60s' } as never });
  watch.on('change', (data: typeof latest) => {
    latest = data;
    if (waiting?.test()) waiting.done();
  });
  watch.on('error', () => undefined);
  const until = (test: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('reference change not seen')), TIMEOUT_MS);
      waiting = { test, done: () => (clearTimeout(timer), (waiting = null), resolve()) };
      if (test()) waiting.done();
    });
  const has = (id: string) => latest.some((entry) => entry.Service.ID === id);
  const register = (id: string) => consul.agent.service.register({ name: 'reference', id, address: '127.0.0.1', port: 9002, check: { ttl: '600s', status: 'passing' } as never });
  await register('reference-anchor');
  await until(() => has('reference-anchor'));
  const row: Row = { name: 'reference: consul client Watch', register: [], deregister: [] };
  for (let change = 0; change < CHANGES / 2; change++) {
    const id = `reference-${change}`;
    let started = performance.now();
    const seen = until(() => has(id));
    await register(id);
    await seen;
    row.register.push(performance.now() - started);
    started = performance.now();
    const gone = until(() => !has(id));
    await consul.agent.service.deregister(id);
    await gone;
    row.deregister.push(performance.now() - started);
  }
  watch.end();
  consul.destroy();
  return row;
}

interface LoadRow {
  instances: number;
  heartbeats: number;
  snapshots: number;
  megabytes: number;
  cpuPercent: number;
}

/** `instances` instances, each with a heartbeat carrying load figures once a second (spread over the second), for LOAD_SECONDS. */
async function measureLoadFigures(instances: number, catalog: Catalog): Promise<LoadRow> {
  const config = benchConfig();
  const registry = new RegistryService(catalog, config, pino({ level: 'silent' }));
  await registry.onModuleInit();
  const apps = Math.max(1, Math.floor(instances / 3));
  for (let index = 0; index < instances; index++) {
    const app = `load-${index % apps}`;
    await registry.register({ id: `load-${instances}-${index}`, app, address: '127.0.0.1', port: 10_000 + index, domains: [`${app}.example.net`], meta: {}, ttl: 600, deregisterAfter: 600 });
  }
  let snapshots = 0;
  let bytes = 0;
  registry.watchRoutes((snapshot) => {
    snapshots++;
    bytes += JSON.stringify(snapshot).length; // what ProxyCluster sends each worker
  });
  const load = { cpu: 5, memory: 100_000_000, processes: 3, inflight: 0 };
  const slots = 100; // a heartbeat slot every 10 ms, each with its share of the instances
  const started = performance.now();
  const cpu = process.cpuUsage();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  while (performance.now() - started < LOAD_SECONDS * 1000) {
    for (let k = 0; k < Math.ceil(instances / slots); k++) pending.push(registry.heartbeat(`load-${instances}-${sent++ % instances}`, { load }));
    await new Promise((resolve) => setTimeout(resolve, 1000 / slots));
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const row = { instances, heartbeats: sent / seconds, snapshots: snapshots / seconds, megabytes: bytes / seconds / 1e6, cpuPercent: (used.user + used.system) / 1e4 / seconds };
  for (let index = 0; index < instances; index++) await registry.deregister(`load-${instances}-${index}`);
  await registry.onModuleDestroy();
  return row;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-bench-registry-'));
  const dataSource = new DataSource({ type: 'better-sqlite3', database: join(dir, 'dozen.sqlite'), entities: [RegistryInstanceEntity, RegistryKvEntity], migrations: MIGRATIONS, enableWAL: true });
  await dataSource.initialize();
  await dataSource.runMigrations();
  const standin = await ConsulStandin.start();
  const rows: Row[] = [];
  const loadRows: LoadRow[] = [];
  try {
    const embedded = await EmbeddedCatalog.open(new DatabaseEmbeddedStore(dataSource.getRepository(RegistryInstanceEntity), dataSource.getRepository(RegistryKvEntity)));
    rows.push(await measureService('embedded (SQLite)', embedded));
    // The settings dozen runs with: 60 s blocking waits, at least 25 ms (+ up to half as much jitter) between reads of one watch.
    const consul = new ConsulCatalog({ url: standin.url, stale: false, waitSeconds: 60, minIntervalMs: 25, onError: (error) => console.error(error) });
    rows.push(await measureService('consul (stand-in)', consul));
    rows.push(await measureClientWatch(standin.url));
    // A catalog each: RegistryService closes its catalog when it stops.
    for (const instances of LOAD_INSTANCES) loadRows.push(await measureLoadFigures(instances, await EmbeddedCatalog.open(new DatabaseEmbeddedStore(dataSource.getRepository(RegistryInstanceEntity), dataSource.getRepository(RegistryKvEntity)))));
  } finally {
    await standin.stop();
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  }

  const goals: Record<string, number> = { 'embedded (SQLite)': 50, 'consul (stand-in)': 250 };
  const reference = rows[2];
  const format = (value: number) => value.toFixed(2).padStart(8);
  console.log(`\nregistry propagation: change -> visible in a subscriber's route table (${CHANGES} changes per row, ms)\n`);
  console.log(`${'adapter'.padEnd(32)} ${'change'.padEnd(10)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)} ${'p99 goal'.padStart(9)} ${'p99 / ref'.padStart(10)}`);
  for (const row of rows) {
    for (const kind of ['register', 'deregister'] as const) {
      const values = row[kind];
      const p99 = percentile(values, 99);
      const goal = goals[row.name];
      console.log(
        `${row.name.padEnd(32)} ${kind.padEnd(10)} ${format(percentile(values, 50))} ${format(p99)} ${format(Math.max(...values))} ${(goal ? `${goal}` : '-').padStart(9)} ${(row === reference ? '1.00' : (p99 / percentile(reference[kind], 99)).toFixed(2)).padStart(10)}`,
      );
    }
  }
  const failed = rows.filter((row) => goals[row.name] && Math.max(percentile(row.register, 99), percentile(row.deregister, 99)) > goals[row.name]);
  console.log(failed.length ? `\nover the p99 goal: ${failed.map((row) => row.name).join(', ')}` : '\nall p99 figures within their goals');

  console.log(`\nload figures at scale (embedded): every instance's heartbeat with load once a second, ${LOAD_SECONDS} s\n`);
  console.log(`${'instances'.padStart(9)} ${'heartbeats/s'.padStart(13)} ${'snapshots/s'.padStart(12)} ${'MB/s per worker'.padStart(16)} ${'CPU % of a core'.padStart(16)}`);
  for (const row of loadRows) {
    console.log(`${String(row.instances).padStart(9)} ${row.heartbeats.toFixed(0).padStart(13)} ${row.snapshots.toFixed(1).padStart(12)} ${row.megabytes.toFixed(2).padStart(16)} ${row.cpuPercent.toFixed(1).padStart(16)}`);
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`bench:registry: ${error.message}`);
    process.exit(1);
  },
);

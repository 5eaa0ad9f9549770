/**
 * npm run bench:proxy — dozen's proxy against nginx, side by side, on loopback.
 *
 * One backend (nginx answering a fixed 13-byte body, so the proxies are what
 * is measured), then wrk through: (1) nothing, (2) nginx as reverse proxy,
 * (3) dozen random, (4) dozen least-load, (5) dozen with JWT auth, all on the
 * fast engine (proxy.engine: fast, so a fallback fails the bench), and
 * (6) dozen random on the portable engine, in the same rounds. nginx and
 * dozen run the same number of worker processes, keep-alive upstreams, no
 * access log. Prints req/s, p50/p99, CPU per request and the ratios to nginx; then nginx and
 * dozen random again with `Connection: close` (a new connection per request).
 *
 *   BENCH_WORKERS=2 BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=64 BENCH_WARMUP=10 BENCH_PRELOAD=5 npm run bench:proxy
 *   BENCH_ACCEPT=shared npm run bench:proxy   # dozen with that proxy.accept (auto, kernel, shared, primary)
 *   BENCH_PROFILE=1 npm run bench:proxy   # also: one worker under --cpu-prof, where its time goes
 *   BENCH_STANDALONE=1 node dist/bench/proxy.js   # dozen's proxy workers alone (one per engine, no
 *     dozen serve, so no better-sqlite3 built for this Node): for Node 22 and 24
 *   BENCH_BASELINE=/tmp/base npm run bench:proxy   # also: another checkout, built
 *     (git worktree add /tmp/base main && cd /tmp/base && npm ci && npm run build), in the same rounds
 */
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SignJWT } from 'jose';
import { requireBinary } from '../test/support/debian.js';
import { startDozen } from '../test/support/dozen-process.js';
import { freePort, waitFor } from '../test/support/ports.js';
import { DEFAULT_POLICY, type PolicySet } from '../src/proxy/policy.js';
import { backendConfig, median, nginxProxyConfig, PRELOAD_SECONDS, runWrk, runWrkCounted, startNginx, startProxyWorker, type CountedRun } from './proxy-support.js';

/** Proxy worker processes of nginx and of dozen; alone (BENCH_STANDALONE), dozen runs one per engine, and so nginx one. */
const WORKERS = process.env.BENCH_STANDALONE === '1' ? 1 : Number(process.env.BENCH_WORKERS ?? availableParallelism());
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Seconds of load on each target before the rounds: V8 is still tiering dozen's hot functions up for the first seconds (bench:proxy:tls says how long). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const SECRET = 'bench-hs256-secret-0123456789abcdef';
/** Another built checkout of dozen, run side by side with this one as 'baseline random' (see the header). */
const BASELINE = process.env.BENCH_BASELINE;
/** Proxy workers started alone, as the cluster forks them, instead of `dozen serve` (see the header). */
const STANDALONE = process.env.BENCH_STANDALONE === '1';
/** proxy.accept for every dozen started (its default when unset): how workers get their connections. */
const ACCEPT = process.env.BENCH_ACCEPT;
/** The suffix of the rows where every request comes on a new connection; they are compared with nginx's such row. */
const NEW_CONNECTIONS = ', new connections';

interface Result {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  /** CPU of the target's processes (all of them) per request, ms: steadier than requests/s on a shared machine. */
  cpuMs: number;
  errors: string;
}

/** A proxy to load: its port, and the process whose tree's CPU is counted. */
interface Target {
  port: number;
  pid: number;
}

async function main(): Promise<void> {
  const nginx = requireBinary('nginx', 'nginx');
  const wrk = requireBinary('wrk', 'wrk');
  const dir = mkdtempSync(join(tmpdir(), 'dozen-bench-proxy-'));
  const children: ChildProcess[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const backendPort = await freePort();
    const nginxProxyPort = await freePort();
    children.push(startNginx(nginx, dir, 'backend', 1, backendConfig(backendPort)));
    children.push(startNginx(nginx, dir, 'proxy', WORKERS, nginxProxyConfig(nginxProxyPort, backendPort)));
    await waitFor('the nginx backend', async () => (await fetch(`http://127.0.0.1:${backendPort}/`)).ok, 10_000);
    await waitFor('nginx as proxy', async () => (await fetch(`http://127.0.0.1:${nginxProxyPort}/`)).ok, 10_000);

    const token = await new SignJWT({ scope: 'read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setAudience('bench').setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
    const start = STANDALONE ? (engine: 'fast' | 'portable') => startAlone(backendPort, stops, engine) : (engine: 'fast' | 'portable') => startRouted(startDozen, backendPort, token, stops, engine);
    const fast = await start('fast');
    const portable = await start('portable');
    const baseline = BASELINE ? await startRouted((await import(pathToFileURL(join(BASELINE, 'dist/test/support/dozen-process.js')).href)).startDozen, backendPort, token, stops) : null;
    const backend = { port: backendPort, pid: children[0].pid! };
    const nginxProxy = { port: nginxProxyPort, pid: children[1].pid! };

    const close = ['-H', 'Connection: close'];
    const runs: [string, Target, string[]][] = [
      ['backend direct', backend, []],
      ['nginx proxy', nginxProxy, ['-H', 'Host: random.bench.test']],
      ['dozen random', fast, ['-H', 'Host: random.bench.test']],
      ['dozen least-load', fast, ['-H', 'Host: least.bench.test']],
      ['dozen JWT (HS256)', fast, ['-H', 'Host: jwt.bench.test', '-H', `Authorization: Bearer ${token}`]],
      ['dozen portable random', portable, ['-H', 'Host: random.bench.test']],
      ...(baseline ? [['baseline random', baseline, ['-H', 'Host: random.bench.test']] as [string, Target, string[]]] : []),
      // A new connection per request (Connection: close): accept, a socket and a parser set up and torn down each time.
      [`nginx proxy${NEW_CONNECTIONS}`, nginxProxy, ['-H', 'Host: random.bench.test', ...close]],
      [`dozen random${NEW_CONNECTIONS}`, fast, ['-H', 'Host: random.bench.test', ...close]],
      ...(baseline ? [[`baseline random${NEW_CONNECTIONS}`, baseline, ['-H', 'Host: random.bench.test', ...close]] as [string, Target, string[]]] : []),
    ];
    const results: Result[] = [];
    // Warm every target first (JIT, keep-alive pools), so run order does not favour the later ones.
    for (const [, target, headers] of runs) await runWrk(wrk, target.port, headers, WARMUP, CONNECTIONS);
    // Rounds interleave the targets, and each figure is the median of its rounds, so a burst of
    // other work on the machine hits every target alike instead of one. Each round starts one target
    // later, so no target always runs right after the same other one (dozen's workers sit idle while
    // nginx runs, and the first target of a round follows a pause).
    const samples = new Map<string, CountedRun[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, target, headers] of [...runs.slice(round % runs.length), ...runs.slice(0, round % runs.length)]) {
        const sample = await runWrkCounted(wrk, target.pid, target.port, headers, SECONDS, CONNECTIONS);
        samples.set(name, [...(samples.get(name) ?? []), sample]);
        process.stderr.write(`round ${round + 1}/${ROUNDS} ${name}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99.toFixed(1)} ms, ${sample.cpuMsPerRequest.toFixed(3)} CPU ms/request\n`);
      }
    }
    for (const [name] of runs) {
      const list = samples.get(name)!;
      const middle = (pick: (one: CountedRun) => number) => median(list.map(pick));
      results.push({ name, rps: middle((one) => one.rps), p50: middle((one) => one.p50), p99: middle((one) => one.p99), cpuMs: middle((one) => one.cpuMsPerRequest), errors: [...new Set(list.map((one) => one.errors))].join('; ') });
    }
    print(results);
    if (process.env.BENCH_PROFILE === '1') await profileWorker(wrk, backendPort, dir);
  } finally {
    for (const stop of stops) await stop();
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolveWait) => setTimeout(resolveWait, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts dozen (from the checkout `start` belongs to) with the three bench
 * apps routed to the backend; returns its proxy port once every route answers.
 */
async function startRouted(start: typeof startDozen, backendPort: number, token: string, stops: (() => Promise<unknown>)[], engine: 'fast' | 'portable' | null = null): Promise<Target> {
  const proxyPort = await freePort();
  const dozen = await start({
    env: {
      DOZEN_MODULES: 'proxy,registry',
      DOZEN_PROXY_WORKERS: String(WORKERS),
      DOZEN_PROXY_LISTEN_PORT: String(proxyPort),
      DOZEN_PROXY_ACCESS_LOG: 'false',
      DOZEN_LOG_LEVEL: 'warn',
      // A baseline checkout may predate proxy.engine (its config refuses unknown keys).
      ...(engine ? { DOZEN_PROXY_ENGINE: engine } : {}),
      ...(ACCEPT ? { DOZEN_PROXY_ACCEPT: ACCEPT } : {}),
    },
  });
  stops.push(() => dozen.stop());
  const api = async (path: string, method: string, body: unknown) => {
    const response = await dozen.api(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
  for (const app of ['random', 'least', 'jwt']) {
    await api('/registry/instances', 'POST', { id: `bench-${app}`, app: `bench-${app}`, address: '127.0.0.1', port: backendPort, domains: [`${app}.bench.test`], ttl: 3600 });
  }
  await api('/proxy/apps/bench-least/policy', 'PUT', { balancer: 'least-load' });
  await api('/proxy/apps/bench-jwt/policy', 'PUT', { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET, audience: 'bench' } });
  for (const host of ['random', 'least', 'jwt']) {
    await waitFor(`dozen route ${host}`, async () => {
      const status = await curlStatus(proxyPort, `${host}.bench.test`, host === 'jwt' ? token : null);
      return status === 200;
    }, 10_000);
  }
  return { port: proxyPort, pid: dozen.child.pid! };
}

/** One proxy worker of `engine` (the cluster's worker entry, alone), with the three bench apps. */
async function startAlone(backendPort: number, stops: (() => Promise<unknown>)[], engine: 'fast' | 'portable'): Promise<Target> {
  const apps = { 'bench-random': 'random.bench.test', 'bench-least': 'least.bench.test', 'bench-jwt': 'jwt.bench.test' };
  const policies: PolicySet = {
    'bench-least': { ...DEFAULT_POLICY, balancer: 'least-load' },
    'bench-jwt': { ...DEFAULT_POLICY, auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET, audience: 'bench', scopes: {} } },
  };
  const worker = await startProxyWorker(await freePort(), { backendPort, apps, policies, engine });
  stops.push(() => worker.stop());
  return { port: worker.port, pid: worker.child.pid! };
}

/** The status of one request with the Host header set (fetch cannot set Host). */
function curlStatus(port: number, host: string, token: string | null): Promise<number> {
  return new Promise<number>((resolveStatus, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) }, agent: false }, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Runs one proxy worker (the same entry the cluster forks) under --cpu-prof
 * against the backend, loads it with wrk, and prints where its CPU time went.
 */
async function profileWorker(wrk: string, backendPort: number, dir: string): Promise<void> {
  const worker = await startProxyWorker(await freePort(), { backendPort, apps: { profile: 'profile.bench.test' }, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  const sample = await runWrk(wrk, worker.port, ['-H', 'Host: profile.bench.test'], SECONDS, CONNECTIONS);
  await worker.stop();
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error('the profiled worker wrote no .cpuprofile');
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: { id: number; callFrame: { functionName: string; url: string } }[]; samples: number[]; timeDeltas: number[] };
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byCategory = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const frame = nodes.get(id)!.callFrame;
    const category = categoryOf(frame.functionName, frame.url);
    byCategory.set(category, (byCategory.get(category) ?? 0) + profile.timeDeltas[index]);
    total += profile.timeDeltas[index];
  });
  const lines = [...byCategory].sort((a, b) => b[1] - a[1]).map(([category, time]) => `| ${category} | ${((time / total) * 100).toFixed(1)} % |`);
  process.stdout.write(`\none worker under --cpu-prof, wrk -c${CONNECTIONS} ${SECONDS}s: ${Math.round(sample.rps)} req/s; self time by category:\n\n| where | share |\n|---|---:|\n${lines.join('\n')}\n`);
}

function categoryOf(name: string, url: string): string {
  if (name === 'writev' || name === 'writeLatin1String' || name === 'writeUtf8String' || name === 'writeBuffer') return 'socket writes (system calls)';
  if (name === '(idle)') return 'idle (waiting for the network)';
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'V8/native, not attributed';
  if (url.includes('/undici/') || url.startsWith('wasm://')) return 'undici (pool, llhttp wasm)';
  if (url.includes('/dist/src/proxy/')) return "dozen's proxy code";
  if (url.includes('prom-client') || url.includes('pino') || url.includes('jose')) return 'libraries (pino, jose, prom-client)';
  if (/^node:(_http|internal\/streams|stream|net|internal\/stream_base|events|internal\/process|internal\/timers|timers|buffer|internal\/url)/.test(url)) return "node's http, net, streams, events, timers";
  if (/^node:(internal\/modules|internal\/bootstrap|internal\/deps\/cjs|path|fs|module)/.test(url) || url.includes('/node_modules/')) return 'start-up (loading modules)';
  return 'other';
}

function print(results: Result[]): void {
  const nginxOf = (name: string) => results.find((result) => result.name === (name.endsWith(NEW_CONNECTIONS) ? `nginx proxy${NEW_CONNECTIONS}` : 'nginx proxy'))!;
  const lines = [
    `proxy benchmark: ${STANDALONE ? '1 worker process each (nginx, and each dozen engine alone)' : `${WORKERS} worker processes each (nginx and dozen)`}, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s x ${ROUNDS} interleaved rounds (medians) after ${WARMUP} s of warm-up each, each run after ${PRELOAD_SECONDS} s of the same load (BENCH_PRELOAD), proxy.accept ${ACCEPT ?? 'auto'}, keep-alive except the rows \"${NEW_CONNECTIONS.slice(2)}\" (Connection: close, compared with nginx's such row), loopback, ${availableParallelism()} cores`,
    '',
    '| target | req/s | p50 ms | p99 ms | req/s vs nginx | p99 vs nginx | CPU ms per request | vs nginx | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const result of results) {
    const proxied = result.name.startsWith('dozen') || result.name.startsWith('baseline') || result.name.startsWith('ceiling');
    const nginx = nginxOf(result.name);
    const ratio = proxied ? `${(result.rps / nginx.rps).toFixed(2)}x` : '';
    const p99 = proxied ? `${(result.p99 / nginx.p99).toFixed(2)}x` : '';
    const cpu = proxied ? `${(result.cpuMs / nginx.cpuMs).toFixed(2)}x` : '';
    lines.push(`| ${result.name} | ${Math.round(result.rps)} | ${result.p50.toFixed(2)} | ${result.p99.toFixed(2)} | ${ratio} | ${p99} | ${result.cpuMs.toFixed(3)} | ${cpu} | ${result.errors} |`);
  }
  process.stdout.write(lines.join('\n') + `\n\nNode ${process.version}; goal: dozen (fast engine) >= 0.80x nginx req/s, p99 <= 1.5x nginx; with JWT >= 0.70x; portable engine >= 0.55x\n`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench:proxy: ${error.message}\n`);
    process.exit(1);
  },
);

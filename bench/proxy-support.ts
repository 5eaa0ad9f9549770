/** What the proxy benchmarks share: nginx as backend and as the reference proxy, wrk, and one dozen proxy worker run alone. */
import type { EngineSetting } from '../src/proxy/engine.js';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDozen } from '../test/support/dozen-process.js';
import { freePort, GiveUp, waitFor } from '../test/support/ports.js';
import { treeCpuSeconds } from './process-cpu.js';
import type { AcceptSetting } from '../src/proxy/accept-mode.js';
import type { PolicySet } from '../src/proxy/policy.js';
import type { FromWorker, ToWorker } from '../src/proxy/worker-messages.js';

export interface WrkResult {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  errors: string;
}

/** The backend every proxy forwards to: nginx answering a fixed 13-byte body, so the proxies are what is measured. */
export function backendConfig(port: number): string {
  return `server { listen 127.0.0.1:${port}; location / { default_type text/plain; return 200 "hello, dozen\\n"; } }`;
}

/** What dozen does per request, for nginx: keep-alive upstreams, Host kept, X-Forwarded-*, a request id. */
export const NGINX_PROXY_LOCATION = `
      location / {
        proxy_pass http://backend;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Request-Id $request_id;
      }`;

/** nginx as a reverse proxy of `backendPort` (NGINX_PROXY_LOCATION). */
export function nginxProxyConfig(port: number, backendPort: number): string {
  return `
    upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; }
    server {
      listen 127.0.0.1:${port};${NGINX_PROXY_LOCATION}
    }`;
}

/**
 * Starts nginx in the foreground with `http` as its http block, no access log.
 * `workers` 0 runs it as one process without a master (as a profiler needs it);
 * `wrapper` is a command line to run it under (valgrind).
 */
export function startNginx(binary: string, dir: string, name: string, workers: number, http: string, wrapper: string[] = []): ChildProcess {
  const conf = join(dir, `${name}.conf`);
  const own = join(dir, name);
  mkdirSync(own, { recursive: true });
  const processes = workers === 0 ? 'master_process off; worker_processes 1;' : `master_process on; worker_processes ${workers};`;
  writeFileSync(
    conf,
    `daemon off; ${processes} pid ${join(own, 'nginx.pid')}; error_log ${join(own, 'error.log')} warn;
     events { worker_connections 4096; }
     http { access_log off; keepalive_requests 100000; client_body_temp_path ${own}; proxy_temp_path ${own};
            fastcgi_temp_path ${own}; uwsgi_temp_path ${own}; scgi_temp_path ${own}; ${http} }`,
  );
  const command = [...wrapper, binary, '-c', conf, '-p', dir, '-e', join(own, 'error.log')];
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  child.once('exit', (code) => code && process.stderr.write(`nginx ${name} exited with ${code}\n`));
  return child;
}

/** Runs wrk against 127.0.0.1:`port` (over `scheme`) and reads its figures. */
export function runWrk(binary: string, port: number, headers: string[], seconds: number, connections: number, scheme: 'http' | 'https' = 'http'): Promise<WrkResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(binary, ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...headers, `${scheme}://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('error', reject);
    child.once('exit', () => {
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
      const p50 = toMs(/^\s+50%\s+([\d.]+\w+)/m.exec(out)?.[1]);
      const p99 = toMs(/^\s+99%\s+([\d.]+\w+)/m.exec(out)?.[1]);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
      const socketErrors = /Socket errors: (.*)/.exec(out)?.[1];
      resolveRun({ rps, requests, p50, p99, errors: [non2xx ? `${non2xx} non-2xx` : '', socketErrors ?? ''].filter(Boolean).join('; ') || '-' });
    });
  });
}

/** A wrk run, and the CPU the target's processes (`pid` and all below it) spent per request meanwhile, in ms. */
export type CountedRun = WrkResult & { cpuMsPerRequest: number };

/**
 * Seconds of the same load, not measured, right before each measured run. A target sits idle while the
 * others run (20-60 s between its rounds), and over an idle spell V8 lets go of part of dozen's
 * optimized code: the first full GC of the spell deoptimized 87 functions of a worker ("weak objects":
 * the maps of connections that no longer exist), and the next 10 s of new TLS connections re-optimized
 * 39-145 functions, most within 6 s (`--log-code --log-deopt`, 2026-11-30). Under steady traffic that does
 * not happen; the figures are of a proxy under load, as nginx (no JIT) always is.
 */
export const PRELOAD_SECONDS = Number(process.env.BENCH_PRELOAD ?? 5);

/** runWrk after PRELOAD_SECONDS of the same load, counting the CPU of the process tree at `pid` (on a shared VM it holds still where requests/s swing). */
export async function runWrkCounted(binary: string, pid: number, port: number, headers: string[], seconds: number, connections: number, scheme: 'http' | 'https' = 'http'): Promise<CountedRun> {
  if (PRELOAD_SECONDS > 0) await runWrk(binary, port, headers, PRELOAD_SECONDS, connections, scheme);
  const cpuBefore = treeCpuSeconds(pid);
  const result = await runWrk(binary, port, headers, seconds, connections, scheme);
  return { ...result, cpuMsPerRequest: ((treeCpuSeconds(pid) - cpuBefore) * 1000) / result.requests };
}

export interface ProxyWorkerOptions {
  backendPort: number;
  /** App name -> domain; every app is routed to the one backend. */
  apps: Record<string, string>;
  policies?: PolicySet;
  /** proxy.engine of the worker (default auto). */
  engine?: EngineSetting;
  /** V8 flags, and what to run node under (valgrind and its options). */
  nodeFlags?: string[];
  wrapper?: string[];
}

export interface ProxyWorker {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** One dozen proxy worker (the entry the cluster forks), alone, routed to the backend: what the profilers measure. */
export async function startProxyWorker(port: number, options: ProxyWorkerOptions): Promise<ProxyWorker> {
  const entry = fileURLToPath(new URL('../src/proxy/proxy.worker.js', import.meta.url));
  const [wrapper, ...wrapperArgs] = options.wrapper ?? [];
  // fork runs execPath with [...execArgv, entry]: a wrapper goes first and names node itself.
  const execArgv = [...(wrapper ? [...wrapperArgs, process.execPath] : []), '--single-threaded-gc', ...(options.nodeFlags ?? [])];
  const child = fork(entry, [], { execPath: wrapper ?? process.execPath, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const message = (type: FromWorker['type']) =>
    new Promise<void>((resolveMessage, reject) => {
      child.once('exit', (code) => reject(new Error(`the proxy worker exited with ${code} before '${type}'`)));
      child.on('message', (received: FromWorker) => received.type === type && resolveMessage());
    });
  await message('ready');
  const listening = message('listening');
  child.send({ type: 'start', start: { server: { host: '127.0.0.1', port, engine: options.engine ?? 'auto', retries: 2, timeouts: { connect: 3_000, headers: 60_000, idle: 60_000, clientHeaders: 30_000, clientKeepAlive: 65_000 }, trustedProxies: [], upstreamConnections: 128 }, accessLog: false, logLevel: 'warn' } } satisfies ToWorker);
  if (options.policies) child.send({ type: 'policies', policies: options.policies } satisfies ToWorker);
  const apps = Object.entries(options.apps).map(([app, domain]) => ({ app, domains: [domain], backends: [{ instance: app, app, address: '127.0.0.1', port: options.backendPort, host: 'bench', load: null }] }));
  child.send({ type: 'routes', snapshot: { version: 1, apps } } satisfies ToWorker);
  await listening;
  return {
    child,
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.send({ type: 'stop' } satisfies ToWorker);
      await exited;
    },
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function toMs(value: string | undefined): number {
  const match = value ? /^([\d.]+)(us|ms|s)$/.exec(value) : null;
  if (!match) return NaN;
  const number = Number(match[1]);
  return match[2] === 'us' ? number / 1000 : match[2] === 's' ? number * 1000 : number;
}

export interface DozenTlsOptions {
  engine: 'fast' | 'portable';
  workers: number;
  /** The one app's domain, routed to `backendPort`. */
  host: string;
  backendPort: number;
  certificate: { certFile: string; keyFile: string };
  /** Names the certificate covers besides `host`. */
  alsoCovers?: string[];
  http2?: boolean;
  /** Whose certificate a client without SNI gets. */
  defaultDomain?: string;
  /** proxy.accept (default: dozen's, auto). */
  accept?: AcceptSetting;
}

/** `dozen serve` with a TLS listener on the bench certificate and one app routed to the backend; `stops` gets its stop. */
export async function startDozenTls(options: DozenTlsOptions, stops: (() => Promise<unknown>)[]): Promise<{ port: number; pid: number }> {
  const port = await freePort();
  const dozen = await startDozen({
    env: {
      DOZEN_MODULES: 'proxy,registry',
      DOZEN_PROXY_WORKERS: String(options.workers),
      DOZEN_PROXY_ACCESS_LOG: 'false',
      DOZEN_PROXY_ENGINE: options.engine,
      DOZEN_LOG_LEVEL: 'warn',
      DOZEN_PROXY_TLS_LISTEN_HOST: '127.0.0.1',
      DOZEN_PROXY_TLS_LISTEN_PORT: String(port),
      ...(options.accept ? { DOZEN_PROXY_ACCEPT: options.accept } : {}),
      ...(options.http2 ? { DOZEN_PROXY_TLS_HTTP2: 'true' } : {}),
      ...(options.defaultDomain ? { DOZEN_PROXY_TLS_DEFAULT_DOMAIN: options.defaultDomain } : {}),
      DOZEN_PROXY_TLS_CERTIFICATES: JSON.stringify([{ domains: [options.host, ...(options.alsoCovers ?? [])], certFile: options.certificate.certFile, keyFile: options.certificate.keyFile }]),
    },
  });
  stops.push(() => dozen.stop());
  const app = options.host.split('.')[0] + '-app';
  const response = await dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: app, app, address: '127.0.0.1', port: options.backendPort, domains: [options.host], ttl: 3600 }) });
  if (!response.ok) throw new Error(`registering the bench app: ${response.status} ${await response.text()}`);
  // The fast engine terminates TLS itself (tls/lean-tls.ts) unless this Node or its flags rule that out: a bench of
  // its fallback (node:tls) would be measuring the portable engine's TLS under the fast engine's name.
  const wanted = options.engine === 'fast' ? 'TLSWrap' : 'node:tls';
  await waitFor(`every ${options.engine} worker terminating TLS with ${wanted}`, async () => {
    const health = (await (await dozen.api('/proxy/health')).json()) as { details?: { engines?: { engine: string; tls?: string }[] } };
    const engines = health.details?.engines ?? [];
    const wrong = engines.find((report) => report.engine !== options.engine || (report.tls !== undefined && report.tls !== wanted));
    if (wrong) throw new GiveUp(`a worker runs ${wrong.engine} with TLS by ${wrong.tls}, not ${options.engine} with ${wanted}`);
    return engines.length === options.workers && engines.every((report) => report.tls === wanted);
  }, 10_000);
  return { port, pid: dozen.child.pid! };
}

/**
 * npm run bench:proxy:tls — HTTPS at dozen's proxy against nginx terminating
 * TLS with the same certificate (ECDSA P-256 from a throwaway test CA), side
 * by side on loopback, in the same rounds:
 *
 * - keep-alive: wrk over HTTPS connections kept open, requests/s and p99;
 * - handshakes: wrk with `Connection: close`, so every request is a new TLS
 *   connection: handshakes/s. wrk offers each connection the session its
 *   previous one got (OpenSSL's SSL_clear keeps it), so these are resumed
 *   handshakes (no certificate signature) wherever the server sends a new
 *   ticket at every resumption, as nginx and dozen do (tls/ticket-renewal.ts).
 *
 * Both proxies forward to one nginx backend answering a fixed body, run the
 * same number of worker processes, TLS 1.2-1.3 with the same suites (dozen's
 * list, tls/served-certificates.ts), session tickets on, no access log.
 * dozen runs its fast engine (a fallback fails the bench) and its portable one with proxy.accept's default
 * (kernel on Node 22.12 on, else primary), then the fast engine with each other accept mode (accept-mode.ts).
 * Last, the floor: Node's TLS set up as dozen's, answering without proxying (tls-floor-server.ts), new
 * handshakes only: how near nginx anything on node:tls can come.
 *
 *   BENCH_WORKERS=2 BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=64 BENCH_WARMUP=10 BENCH_PRELOAD=5 npm run bench:proxy:tls
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseAccept, type AcceptMode } from '../src/proxy/accept-mode.js';
import { TLS12_CIPHERS } from '../src/proxy/tls/served-certificates.js';
import { requireBinary } from '../test/support/debian.js';
import { freePort, waitFor } from '../test/support/ports.js';
import { makeTestCa, type IssuedCertificate } from '../test/support/test-ca.js';
import { backendConfig, median, NGINX_PROXY_LOCATION, PRELOAD_SECONDS, runWrk, runWrkCounted, startDozenTls, startNginx, type CountedRun } from './proxy-support.js';

const WORKERS = Number(process.env.BENCH_WORKERS ?? availableParallelism());
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
/**
 * Seconds of load on each target and mode before the rounds. dozen's workers are still compiling their hot
 * functions (V8 tiers them up) for the first 20-40 s of new connections: perf put V8's compiler threads at
 * 57 us of CPU per handshake in the first 12 s of load, 1.4 us after 40 s. A proxy serves for days; the
 * figures are of one that has warmed up, as nginx (no JIT) always is.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const HOST = 'app.bench.test';

type Mode = 'keep-alive' | 'handshakes';
const MODES: Record<Mode, string[]> = { 'keep-alive': ['-H', `Host: ${HOST}`], handshakes: ['-H', `Host: ${HOST}`, '-H', 'Connection: close'] };

/** The row of Node's floor (tls-floor-server.ts): it answers on a new connection each time, so it has no keep-alive figure. */
const FLOOR = 'floor: node:tls, fixed answer, no proxying';
const modesOf = (target: string): Mode[] => (target === FLOOR ? ['handshakes'] : ['keep-alive', 'handshakes']);

/** nginx terminating TLS as dozen does, then proxying as bench:proxy's nginx does. */
function nginxTlsConfig(port: number, backendPort: number, certificate: IssuedCertificate): string {
  return `
    upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; }
    server {
      listen 127.0.0.1:${port} ssl;
      ssl_certificate ${certificate.certFile};
      ssl_certificate_key ${certificate.keyFile};
      ssl_protocols TLSv1.2 TLSv1.3;
      ssl_ciphers ${TLS12_CIPHERS};
      ssl_session_tickets on;${NGINX_PROXY_LOCATION}
    }`;
}

async function main(): Promise<void> {
  const nginx = requireBinary('nginx', 'nginx');
  const wrk = requireBinary('wrk', 'wrk');
  const dir = mkdtempSync(join(tmpdir(), 'dozen-bench-tls-'));
  const ca = makeTestCa('dozen bench CA');
  const certificate = ca.issue([HOST, '*.bench.test'], { name: 'bench' });
  const children: ChildProcess[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const backendPort = await freePort();
    const nginxPort = await freePort();
    children.push(startNginx(nginx, dir, 'backend', 1, backendConfig(backendPort)));
    children.push(startNginx(nginx, dir, 'proxy-tls', WORKERS, nginxTlsConfig(nginxPort, backendPort, certificate)));
    await waitFor('the nginx backend', async () => (await fetch(`http://127.0.0.1:${backendPort}/`)).ok, 10_000);

    // [name, TLS port, the process whose tree's CPU is counted]
    const targets: [string, number, number][] = [['nginx https', nginxPort, children[1].pid!]];
    // The default accept mode (kernel where this Node has SO_REUSEPORT, else primary) for both engines, then
    // the fast engine with each other mode this Node has, to show what each costs (primary: the round robin through the primary).
    const auto = chooseAccept({ accept: 'auto', workers: WORKERS }).mode;
    const others = (['shared', 'primary'] as const).filter((mode) => mode !== auto);
    const variants: ['fast' | 'portable', AcceptMode][] = [['fast', auto], ['portable', auto], ...others.map((mode) => ['fast', mode] as ['fast', AcceptMode])];
    for (const [engine, accept] of variants) {
      const { port, pid } = await startDozenTls({ engine, workers: WORKERS, host: HOST, alsoCovers: ['*.bench.test'], defaultDomain: HOST, backendPort, certificate, accept }, stops);
      targets.push([`dozen https (${engine}, ${accept})`, port, pid]);
    }
    // Node's floor: its TLS as dozen sets it up, a fixed answer, no proxying (tls-floor-server.ts); new handshakes only.
    const floorPort = await freePort();
    const floorServer = fileURLToPath(new URL('./tls-floor-server.js', import.meta.url));
    const floorEnv = { FLOOR_PORT: String(floorPort), FLOOR_CERT: certificate.certFile, FLOOR_KEY: certificate.keyFile, FLOOR_HOST: HOST, FLOOR_WORKERS: String(WORKERS) };
    children.push(spawn(process.execPath, [floorServer], { env: { ...process.env, ...floorEnv }, stdio: ['ignore', 'ignore', 'inherit'] }));
    targets.push([FLOOR, floorPort, children[children.length - 1].pid!]);
    // wrk sends the address as SNI: dozen's proxy.tls.defaultDomain and nginx's only server answer it with the same certificate.
    for (const [name, port] of targets) await waitFor(`${name} over HTTPS`, async () => (await runWrk(wrk, port, MODES['keep-alive'], 1, 1, 'https')).errors === '-', 20_000, 200);

    const runs = targets.flatMap(([name, port, pid]) => modesOf(name).map((mode) => [`${name}|${mode}`, port, pid, mode] as const));
    for (const [, port, , mode] of runs) await runWrk(wrk, port, MODES[mode], WARMUP, CONNECTIONS, 'https');
    const samples = new Map<string, CountedRun[]>();
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts one target later, as in bench:proxy, so none always follows the same other.
      for (const [key, port, pid, mode] of [...runs.slice(round % runs.length), ...runs.slice(0, round % runs.length)]) {
        // CPU of all the target's processes: nginx's master and workers, dozen's primary and workers.
        const sample = await runWrkCounted(wrk, pid, port, MODES[mode], SECONDS, CONNECTIONS, 'https');
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        process.stderr.write(`round ${round + 1}/${ROUNDS} ${key}: ${Math.round(sample.rps)}/s, p99 ${sample.p99.toFixed(1)} ms, ${sample.cpuMsPerRequest.toFixed(3)} CPU ms/request ${sample.errors}\n`);
      }
    }
    print(targets.map(([name]) => name), samples);
  } finally {
    for (const stop of stops) await stop();
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolveWait) => setTimeout(resolveWait, 300));
    rmSync(dir, { recursive: true, force: true });
    ca.remove();
  }
}

function print(targets: string[], samples: Map<string, CountedRun[]>): void {
  const figure = (target: string, mode: Mode) => {
    const list = samples.get(`${target}|${mode}`);
    if (!list) return null;
    return { rps: median(list.map((one) => one.rps)), p99: median(list.map((one) => one.p99)), cpu: median(list.map((one) => one.cpuMsPerRequest)), errors: [...new Set(list.map((one) => one.errors))].join('; ') };
  };
  const lines = [
    `HTTPS benchmark: ${WORKERS} worker processes each (nginx and dozen), wrk -t1 -c${CONNECTIONS} -d${SECONDS}s x ${ROUNDS} interleaved rounds (medians) after ${WARMUP} s of warm-up per target and mode, each run after ${PRELOAD_SECONDS} s of the same load (BENCH_PRELOAD), TLS 1.3, ECDSA P-256, loopback, ${availableParallelism()} cores`,
    '',
    '| target | keep-alive req/s | p99 ms | vs nginx | handshakes/s (Connection: close) | p99 ms | vs nginx | CPU ms per handshake | nginx / this | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  // Every target has handshakes; the floor has no keep-alive figure (modesOf).
  const nginxKeep = figure('nginx https', 'keep-alive')!;
  const nginxShake = figure('nginx https', 'handshakes')!;
  for (const target of targets) {
    const keep = figure(target, 'keep-alive');
    const shake = figure(target, 'handshakes')!;
    const mine = target !== 'nginx https';
    const ratio = (value: number) => (mine ? `${value.toFixed(2)}x` : '');
    const errors = [keep?.errors ?? '-', shake.errors].filter((text) => text !== '-').join('; ') || '-';
    const keepCells = keep === null ? '— | — | —' : `${Math.round(keep.rps)} | ${keep.p99.toFixed(2)} | ${ratio(keep.rps / nginxKeep.rps)}`;
    lines.push(`| ${target} | ${keepCells} | ${Math.round(shake.rps)} | ${shake.p99.toFixed(2)} | ${ratio(shake.rps / nginxShake.rps)} | ${shake.cpu.toFixed(3)} | ${ratio(nginxShake.cpu / shake.cpu)} | ${errors} |`);
  }
  process.stdout.write(lines.join('\n') + `\n\nNode ${process.version}; goal: dozen (fast engine) >= 0.70x nginx keep-alive req/s, >= 0.80x nginx handshakes/s\n`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench:proxy:tls: ${error.message}\n`);
    process.exit(1);
  },
);

/**
 * npm run bench:proxy:instructions — user-space instructions per request,
 * dozen's proxy against nginx, counted by valgrind's callgrind.
 *
 * Why next to bench:proxy: on a shared VM, requests/s move by 10–30 % from
 * one minute to the next, so a change worth 3 % cannot be seen there.
 * Instruction counts repeat within about 3 %. Each proxy runs alone, as one
 * process, under callgrind, with one wrk connection (no batching of
 * requests per read); it is warmed up, then counted for a fixed time.
 * Kernel work (system calls, TCP) is not counted: both proxies make the
 * same system calls per request (two reads and two writes, by strace).
 * `main` is the thread that serves requests; `all` adds V8's compiler and
 * GC helper threads.
 *
 *   BENCH_WARM=20 BENCH_SECONDS=10 npm run bench:proxy:instructions
 *   BENCH_KEEP=1 npm run bench:proxy:instructions   # keeps the dumps, for callgrind_annotate
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { requireBinary } from '../test/support/debian.js';
import { freePort, waitFor } from '../test/support/ports.js';
import { backendConfig, nginxProxyConfig, runWrk, startNginx, startProxyWorker } from './proxy-support.js';

const WARM = Number(process.env.BENCH_WARM ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SECRET = 'bench-hs256-secret-0123456789abcdef';

interface Count {
  name: string;
  requests: number;
  main: number;
  all: number;
}

async function main(): Promise<void> {
  const nginx = requireBinary('nginx', 'nginx');
  const wrk = requireBinary('wrk', 'wrk');
  const valgrind = requireBinary('valgrind', 'valgrind');
  const control = requireBinary('callgrind_control', 'valgrind');
  const dir = mkdtempSync(join(tmpdir(), 'dozen-bench-instructions-'));
  const children: ChildProcess[] = [];
  const callgrind = (name: string) => [valgrind, '-q', '--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${join(dir, `${name}.%p.out`)}`];
  const results: Count[] = [];
  try {
    const backendPort = await freePort();
    children.push(startNginx(nginx, dir, 'backend', 1, backendConfig(backendPort)));
    await waitFor('the nginx backend', async () => (await fetch(`http://127.0.0.1:${backendPort}/`)).ok, 10_000);

    const nginxPort = await freePort();
    const proxy = startNginx(nginx, dir, 'proxy', 0, nginxProxyConfig(nginxPort, backendPort), callgrind('nginx'));
    children.push(proxy);
    await waitFor('nginx under callgrind', async () => (await fetch(`http://127.0.0.1:${nginxPort}/`)).ok, 60_000);
    results.push(await count('nginx proxy', 'nginx', proxy.pid!, nginxPort, []));
    proxy.kill('SIGTERM');

    const token = await new SignJWT({ scope: 'read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setAudience('bench').setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
    const worker = await startProxyWorker(await freePort(), {
      backendPort,
      apps: { random: 'random.bench.test', jwt: 'jwt.bench.test' },
      policies: { jwt: { balancer: 'random', hashQuery: false, auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET, audience: 'bench', scopes: {} }, tls: 'auto', redirectHttp: false, keys: [] } },
      wrapper: callgrind('dozen'),
    });
    children.push(worker.child);
    results.push(await count('dozen random', 'dozen', worker.child.pid!, worker.port, ['-H', 'Host: random.bench.test']));
    results.push(await count('dozen JWT (HS256)', 'dozen', worker.child.pid!, worker.port, ['-H', 'Host: jwt.bench.test', '-H', `Authorization: Bearer ${token}`]));
    await worker.stop();
    print(results);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolveWait) => setTimeout(resolveWait, 300));
    if (process.env.BENCH_KEEP === '1') process.stderr.write(`callgrind dumps kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }

  /** Warms the target, zeroes its counters, loads it for SECONDS, dumps them and reads the totals of that dump. */
  async function count(name: string, file: string, pid: number, port: number, headers: string[]): Promise<Count> {
    process.stderr.write(`${name}: warming ${WARM} s, counting ${SECONDS} s\n`);
    await runWrk(wrk, port, headers, WARM, 1);
    execFileSync(control, ['-z', String(pid)], { stdio: 'ignore' });
    const load = await runWrk(wrk, port, headers, SECONDS, 1);
    if (load.errors !== '-' || !(load.requests > 0)) throw new Error(`${name}: wrk saw errors (${load.errors}) or no requests`);
    const before = new Set(readdirSync(dir));
    execFileSync(control, ['-d', String(pid)], { stdio: 'ignore' });
    // The dump is written when the process next runs; a request wakes an idle one (it is counted, whatever it answers).
    let dumped: string[] = [];
    let extra = 0;
    await waitFor(`${name}: the callgrind dump`, async () => {
      dumped = readdirSync(dir).filter((entry) => entry.startsWith(`${file}.${pid}.out.`) && !before.has(entry));
      if (dumped.length) return true;
      await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      extra++;
      return false;
    }, 30_000);
    // One file per thread, written one after the other: read them once their number stops growing.
    for (let seen = 0; seen !== dumped.length; ) {
      seen = dumped.length;
      await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
      dumped = readdirSync(dir).filter((entry) => entry.startsWith(`${file}.${pid}.out.`) && !before.has(entry));
    }
    const totals = dumped.sort().map((entry) => totalOf(readFileSync(join(dir, entry), 'utf8')));
    const requests = load.requests + extra;
    return { name, requests, main: totals[0] / requests, all: totals.reduce((sum, value) => sum + value, 0) / requests };
  }
}

function totalOf(dump: string): number {
  const match = /^(?:summary|totals):\s+(\d+)/m.exec(dump);
  if (!match) throw new Error('a callgrind dump without totals');
  return Number(match[1]);
}

function print(results: Count[]): void {
  const nginx = results.find((result) => result.name === 'nginx proxy')!;
  const lines = [
    `proxy instructions per request: callgrind, one process each, wrk -t1 -c1, ${WARM} s warm-up, ${SECONDS} s counted, loopback`,
    '',
    '| target | requests counted | instructions/request (main thread) | all threads | main vs nginx |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const result of results) {
    const ratio = result === nginx ? '' : `${(result.main / nginx.main).toFixed(2)}x`;
    lines.push(`| ${result.name} | ${result.requests} | ${Math.round(result.main)} | ${Math.round(result.all)} | ${ratio} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench:proxy:instructions: ${error.message}\n`);
    process.exit(1);
  },
);

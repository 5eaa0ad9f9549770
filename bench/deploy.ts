/**
 * `npm run bench:deploy`: what dozen adds on top of Docker, side by side in
 * one run, BENCH_RUNS (10) runs each, interleaved so load hits both alike:
 *
 * - createInstance (release built) -> first 200 through dozen's proxy, against
 *   the floor: `docker run` of the same image -> first 200 on its port;
 * - deploy of a new ref -> the new version answering through the proxy, against
 *   the same by hand: `git clone`, `docker build` of the same Dockerfile (the
 *   nodejs template), `docker run` -> the new version on its port.
 *
 * Both sides poll every POLL_MS. The Docker Engine is the test bench's
 * (started if needed), the base image its local one; loopback only.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nodejsDockerfile } from '../src/deploy/build/runtime-template.js';
import { BASE_IMAGE, ensureBaseImage } from '../test/support/base-image.js';
import { startDockerEngine } from '../test/support/docker-engine.js';
import { startDozen, type DozenProcess } from '../test/support/dozen-process.js';
import { freePort, waitFor } from '../test/support/ports.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const POLL_MS = 10;
const HOST = 'benchhost';
const APP = 'benchapp';
const DOMAIN = 'benchapp.bench.test';
const BY_HAND_REPO = 'dozen-bench/by-hand';
const run = promisify(execFile);

function source(version: number): string {
  return `const http = require('node:http');
http.createServer((req, res) => res.end(JSON.stringify({ version: ${version} }))).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;
}

/** main answers version 0; tags d<i> (deployed by dozen) and h<i> (built by hand) each a distinct version, so no build is a cache hit. */
function makeRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-bench-repo-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=bench@dozen', '-c', 'user.name=bench', ...args], { cwd: dir });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: APP, scripts: { start: 'node server.js' } }));
  const commit = (version: number, tag?: string) => {
    writeFileSync(join(dir, 'server.js'), source(version));
    git('add', '.');
    git('commit', '-qm', `version ${version}`);
    if (tag) git('tag', tag);
  };
  commit(0);
  for (let i = 1; i <= RUNS; i++) {
    commit(100 + i, `d${i}`);
    commit(200 + i, `h${i}`);
  }
  return dir;
}

/** GET with a Host header; the status and the version answered (null when it did not answer). */
function get(port: number, host: string): Promise<{ status: number; version: number | null }> {
  return new Promise((resolve) => {
    const outgoing = request({ host: '127.0.0.1', port, path: '/', headers: { host }, timeout: 2000 }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        let version: number | null = null;
        try {
          version = (JSON.parse(body) as { version?: number }).version ?? null;
        } catch {
          // a proxy error page
        }
        resolve({ status: response.statusCode ?? 0, version });
      });
    });
    outgoing.on('timeout', () => outgoing.destroy());
    outgoing.on('error', () => resolve({ status: 0, version: null }));
    outgoing.end();
  });
}

/** Milliseconds from `start()` until a GET on `port` answers 200 (with `version`, when given). */
async function timeToAnswer(start: () => Promise<unknown>, port: () => number, host: string, version?: number): Promise<number> {
  const started = performance.now();
  await start();
  await waitFor('an answer', async () => {
    const answer = await get(port(), host);
    return answer.status === 200 && (version === undefined || answer.version === version);
  }, 120_000, POLL_MS);
  return performance.now() - started;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const engine = await startDockerEngine();
  await ensureBaseImage(engine.docker);
  const docker = (...args: string[]) => run('docker', ['-H', `unix://${engine.socketPath}`, ...args], { env: { ...process.env, DOCKER_BUILDKIT: '0' } }).then((out) => out.stdout.trim());
  const repository = makeRepository();
  const proxyPort = await freePort();
  const dozen: DozenProcess = await startDozen({
    env: {
      DOZEN_MODULES: 'proxy,registry,deploy,storage', DOZEN_HOST_NAME: HOST, DOZEN_PROXY_LISTEN_PORT: String(proxyPort), DOZEN_LOG_LEVEL: 'warn',
      DOZEN_DEPLOY_DOCKER_SOCKET_PATH: engine.socketPath, DOZEN_DEPLOY_RUNTIMES_NODEJS_BASE_IMAGE: BASE_IMAGE,
      // Its repository is a local folder: a file:// URL.
      DOZEN_DEPLOY_GIT_ALLOW_FILE: 'true',
    },
  });
  const api = async (path: string, method = 'GET', body?: unknown) => {
    const response = await dozen.api(path, { method, ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}\n${dozen.logs().slice(-2000)}`);
    return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  };
  const rows = { create: [] as number[], dockerRun: [] as number[], deploy: [] as number[], byHand: [] as number[] };
  try {
    await api('/deploy/apps', 'POST', { name: APP, repository: `file://${repository}`, domains: [DOMAIN] });
    const first = await api(`/deploy/apps/${APP}/deploy`, 'POST', {});
    await waitFor('the first release', async () => (await api(`/deploy/releases/${String(first.id)}`)).status === 'ready', 120_000, 100);
    const image = String((await api(`/deploy/releases/${String(first.id)}`)).imageId);

    for (let i = 0; i < RUNS; i++) {
      let instance = '';
      rows.create.push(await timeToAnswer(async () => (instance = String((await api('/deploy/instances', 'POST', { app: APP, host: HOST })).id)), () => proxyPort, DOMAIN));
      await api(`/deploy/instances/${instance}`, 'DELETE');
      await waitFor('the route to go', async () => (await get(proxyPort, DOMAIN)).status !== 200, 30_000, 50);

      const port = await freePort();
      let container = '';
      rows.dockerRun.push(await timeToAnswer(async () => (container = await docker('run', '-d', '--network', 'host', '-e', `PORT=${port}`, '--label', 'dozen.bench=deploy', image)), () => port, 'localhost'));
      await docker('rm', '-f', container);
      process.stdout.write('.');
    }

    await api('/deploy/instances', 'POST', { app: APP, host: HOST });
    await waitFor('the instance to answer', async () => (await get(proxyPort, DOMAIN)).status === 200, 60_000, 50);
    for (let i = 1; i <= RUNS; i++) {
      rows.deploy.push(await timeToAnswer(() => api(`/deploy/apps/${APP}/deploy`, 'POST', { ref: `d${i}` }), () => proxyPort, DOMAIN, 100 + i));

      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'dozen-bench-by-hand-'));
      let container = '';
      rows.byHand.push(await timeToAnswer(async () => {
        await run('git', ['clone', '-q', '--depth', '1', '--branch', `h${i}`, `file://${repository}`, dir]);
        writeFileSync(join(dir, 'Dockerfile'), nodejsDockerfile(readFileSync(join(dir, 'package.json'), 'utf8'), BASE_IMAGE));
        await docker('build', '-q', '--network', 'host', '-t', `${BY_HAND_REPO}:h${i}`, dir);
        container = await docker('run', '-d', '--network', 'host', '-e', `PORT=${port}`, '--label', 'dozen.bench=deploy', `${BY_HAND_REPO}:h${i}`);
      }, () => port, 'localhost', 200 + i));
      await docker('rm', '-f', container);
      rmSync(dir, { recursive: true, force: true });
      process.stdout.write('.');
    }
  } finally {
    await dozen.api(`/deploy/apps/${APP}`, { method: 'DELETE' }).catch(() => undefined);
    await waitFor('the app containers to go', async () => (await docker('ps', '-aq', '--filter', `label=dozen.app=${APP}`)) === '', 60_000, 200).catch(() => undefined);
    await dozen.stop();
    rmSync(dozen.dataDir, { recursive: true, force: true });
    rmSync(repository, { recursive: true, force: true });
    const images = (await docker('images', '-q', '--filter', `label=dozen.app=${APP}`)) + '\n' + (await docker('images', '-q', BY_HAND_REPO));
    const ids = [...new Set(images.split('\n').filter(Boolean))];
    if (ids.length) await docker('rmi', '-f', ...ids).catch(() => undefined);
  }

  const seconds = (ms: number) => (ms / 1000).toFixed(2).padStart(7);
  console.log(`\n\ndeploy: ${RUNS} runs each, seconds (load average ${loadavg().map((load) => load.toFixed(1)).join(' ')})\n`);
  console.log(`${'measure'.padEnd(62)} ${'p50'.padStart(7)} ${'p99'.padStart(7)}`);
  const line = (name: string, values: number[]) => console.log(`${name.padEnd(62)} ${seconds(percentile(values, 50))} ${seconds(percentile(values, 99))}`);
  line('createInstance -> first 200 through the proxy', rows.create);
  line('floor: docker run -> first 200 on its port', rows.dockerRun);
  line('deploy of a new ref -> new version through the proxy', rows.deploy);
  line('by hand: git clone + docker build + docker run -> answers', rows.byHand);
  const createRatio = percentile(rows.create, 50) / percentile(rows.dockerRun, 50);
  const deployExtra = percentile(rows.deploy, 50) - percentile(rows.byHand, 50);
  console.log(`\ncreateInstance / docker run (p50): ${createRatio.toFixed(2)} x (goal <= 1.5 x; p50 ${seconds(percentile(rows.create, 50)).trim()} s, goal <= 2 s)`);
  console.log(`createInstance / docker run (p99): ${(percentile(rows.create, 99) / percentile(rows.dockerRun, 99)).toFixed(2)} x`);
  console.log(`deploy / by hand (p50): ${(percentile(rows.deploy, 50) / percentile(rows.byHand, 50)).toFixed(2)} x, ${deployExtra >= 0 ? '+' : ''}${(deployExtra / 1000).toFixed(2)} s (goal <= +3 s)`);
  console.log(`deploy / by hand (p99): ${(percentile(rows.deploy, 99) / percentile(rows.byHand, 99)).toFixed(2)} x`);
  const missed = [
    ...(percentile(rows.create, 50) > 2000 ? ['createInstance over 2 s'] : []),
    ...(createRatio > 1.5 ? ['createInstance over 1.5 x the floor'] : []),
    ...(deployExtra > 3000 ? ['deploy over 3 s more than by hand'] : []),
  ];
  console.log(missed.length ? `\ngoals missed: ${missed.join(', ')}` : '\nall goals met');
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`bench:deploy: ${error.message}`);
    process.exit(1);
  },
);

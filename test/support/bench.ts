/**
 * The test bench: `npm test` runs this. It starts the real engines the
 * selected test files need (Docker Engine, MariaDB with binlog, Redis,
 * Chromium) and only those, hands their addresses to the test files through
 * env, runs `node --test` on the built test files, then stops what it started.
 * Files that need no shared engine run two at a time; beside them, once the
 * engines are up, those that need one run one at a time (the longest lane, so
 * it starts first); after the first lane (no filter, as in CI) the node-lines
 * files run on each other Node LTS line (node-lines.ts), the lines side by side.
 *
 *   node dist/test/support/bench.js [filter ...]                # test files whose path contains a filter
 *   node dist/test/support/bench.js --node-lines test/proxy     # those, then the node-lines files among them on Node 22 and 24
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { enginesUsedBy, startEngines, type EngineName } from './bench-engines.js';
import { installMissingPackages, PENDING_MARK_ENV } from './debian.js';
import { isNodeLineTest, NODE_LINES, prepareNodeLine, type NodeLine } from './node-lines.js';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** A run that has not ended by then is stopped: a file whose failure leaves a handle open never exits, and node --test waits for it. */
const RUN_LIMIT_MINUTES = { main: 35, nodeLine: 12 };
const STARTED = Date.now();
const FAILURE_REPORTER = join(DIST, 'test/support/failure-reporter.js');
/** Where each run's failure-reporter.js writes its failed tests, read back at the end of the bench. */
const failureFiles: { file: string; run: string }[] = [];
let failureDir: string | undefined;

function failuresFile(run: string): string {
  failureDir ??= mkdtempSync(join(tmpdir(), 'dozen-test-failures-'));
  const file = join(failureDir, `run-${failureFiles.length}.txt`);
  failureFiles.push({ file, run });
  return file;
}

/** Every failed test of every run, one line each, so the tail of the output (all CI keeps) names them. */
function sayFailures(): void {
  for (const { file, run } of failureFiles) {
    const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    for (const line of lines) say(`failed (${run}): ${line}`);
  }
  if (failureDir) rmSync(failureDir, { recursive: true, force: true });
}

function testFiles(filters: string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'support' && name !== 'node_modules') walk(path);
      } else if (/\.(test|spec)\.js$/.test(name)) {
        found.push(path);
      }
    }
  };
  walk(join(DIST, 'src'));
  walk(join(DIST, 'test'));
  return found.filter((file) => !filters.length || filters.some((filter) => relative(DIST, file).includes(filter.replace(/\.ts$/, '')))).sort();
}

interface TestRun {
  /** Named in the failure lines at the end: which lane, which Node line. */
  name: string;
  node: string;
  files: string[];
  concurrency: number;
  env: NodeJS.ProcessEnv;
  collect?: boolean;
  limitMinutes?: number;
}

/**
 * Runs `node --test` on `files`, `concurrency` files at a time; resolves with its exit code. With
 * `collect`, its output is printed in one piece when it ends, so it does not interleave with a run beside it.
 */
function runTests({ name, node, files, concurrency, env, collect = false, limitMinutes = RUN_LIMIT_MINUTES.main }: TestRun): Promise<number> {
  if (!files.length) return Promise.resolve(0);
  const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${FAILURE_REPORTER}`, `--test-reporter-destination=${failuresFile(name)}`];
  return new Promise<number>((resolveExit) => {
    const child = spawn(node, ['--test', `--test-concurrency=${concurrency}`, ...reporters, ...files], {
      stdio: collect ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: { ...process.env, DOZEN_TEST_BENCH: '1', ...env },
    });
    const output: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    const limit = setTimeout(() => {
      say(`a test run took over ${limitMinutes} min (a test file that does not exit?): stopping it`);
      child.kill('SIGTERM');
    }, limitMinutes * 60_000);
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      if (collect) process.stdout.write(Buffer.concat(output));
      resolveExit(code ?? (signal ? 1 : 0));
    });
  });
}

function say(line: string): void {
  const seconds = Math.round((Date.now() - STARTED) / 1000);
  process.stderr.write(`test bench [${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}]: ${line}\n`);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  const filters = args.filter((arg) => !arg.startsWith('--'));
  const files = testFiles(filters);
  if (!files.length) {
    say(`no test files match ${filters.join(' ')}`);
    return 1;
  }
  const needs = new Map(files.map((file) => [file, enginesUsedBy(file)]));
  const wanted = new Set<EngineName>([...needs.values()].flatMap((engines) => [...engines]));
  const alone = files.filter((file) => !needs.get(file)!.size);
  const shared = files.filter((file) => needs.get(file)!.size);
  const lineFiles = !filters.length || args.includes('--node-lines') ? files.filter(isNodeLineTest) : [];

  // Where every process of this run claims the ports it hands out (ports.ts), so no two get the same one.
  const portClaims = mkdtempSync(join(tmpdir(), 'dozen-test-ports-'));
  process.env.DOZEN_TEST_PORT_CLAIMS = portClaims;
  // Debian packages, engines and the other Node lines get ready while the files that need none of them run.
  const packagesPending = join(tmpdir(), `dozen-test-packages-${process.pid}`);
  process.env[PENDING_MARK_ENV] = packagesPending;
  const engines = installMissingPackages(packagesPending, say).then(() => startEngines(wanted, say));
  const lines = lineFiles.length ? NODE_LINES.map((version) => prepareNodeLine(version, say)) : [];
  for (const pending of [engines, ...lines]) pending.catch(() => {});
  let failed = 0;
  try {
    say(`${alone.length} files need no shared engine (2 at a time)${shared.length ? `, ${shared.length} need ${[...wanted].join(', ')} (1 at a time)` : ''}`);
    // The files that need shared engines, one at a time, from as soon as the engines are up: run one after another,
    // they take longer than everything else together.
    const sharedRun = (async () => {
      if (!shared.length) return;
      const ready = await engines;
      if ((await runTests({ name: 'engine files', node: process.execPath, files: shared, concurrency: 1, env: ready.env })) !== 0) failed++;
    })();
    sharedRun.catch(() => {});
    // Collected: its output would interleave with the shared run's.
    if ((await runTests({ name: 'files without engines', node: process.execPath, files: alone, concurrency: 2, env: {}, collect: shared.length > 0 })) !== 0) failed++;
    // The lines side by side, each one file at a time: run one after the other they were the last 4-5 min of the
    // whole run, with the engine files over for most of it.
    const linesRun = Promise.all(
      lines.map(async (pending) => {
        const ready = await engines;
        const line: NodeLine = await pending;
        const what = `Node ${line.version}${line.nodeOptions ? ` with ${line.nodeOptions}` : ''}: ${lineFiles.map((file) => relative(DIST, file)).join(' ')}`;
        say(`started on ${what}`);
        const env = { ...ready.env, PATH: `${dirname(line.node)}:${process.env.PATH}`, DOZEN_DATABASE_SQLITE_BINDING: line.sqliteBinding, NODE_OPTIONS: line.nodeOptions };
        const code = await runTests({ name: `Node ${line.version}`, node: line.node, files: lineFiles, concurrency: 1, env, collect: true, limitMinutes: RUN_LIMIT_MINUTES.nodeLine });
        say(`${code === 0 ? 'passed' : 'FAILED'} on ${what}`);
        if (code !== 0) failed++;
      }),
    );
    await Promise.all([sharedRun, linesRun]);
    if (!lineFiles.length && filters.length) {
      say(`Node ${NODE_LINES.join(' and ')} not run (a filter was given; add --node-lines to run the node-lines files among the selected ones on them)`);
    }
  } finally {
    await (await engines.catch(() => null))?.stop();
    rmSync(portClaims, { recursive: true, force: true });
    sayFailures();
    const seconds = Math.round((Date.now() - STARTED) / 1000);
    say(`wall time ${Math.floor(seconds / 60)} min ${seconds % 60} s${failed ? `, ${failed} run(s) failed` : ''}`);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    say(error.message);
    process.exit(1);
  },
);

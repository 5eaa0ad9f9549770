/**
 * The test bench: `npm test` runs this. It starts the real engines the
 * selected test files need (Docker Engine, MariaDB with binlog, Redis,
 * Chromium, pebble) and only those, hands their addresses to the test files
 * through env, runs every built test file with `node --test` (three files at a
 * time, as bench-scheduler.ts decides), then stops what it started. With no
 * filter (as in CI) the node-lines files also run on each other Node LTS line
 * (node-lines.ts), as jobs among the others.
 *
 *   node dist/test/support/bench.js [filter ...]                # test files whose path contains a filter
 *   node dist/test/support/bench.js --node-lines test/proxy     # those, and the node-lines files among them on Node 22 and 24
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { enginesUsedBy, startEngines, type EngineName, type StartedEngines } from './bench-engines.js';
import { runJobs, type Job, type JobResult } from './bench-scheduler.js';
import { installMissingPackages, PENDING_MARK_ENV } from './debian.js';
import { isNodeLineTest, isStrictLine, NODE_LINES, prepareNodeLine, type NodeLine } from './node-lines.js';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Test files at a time: on two cores, a third keeps them busy while a file waits on an engine (a build, a health check). */
const SLOTS = 3;
const STARTED = Date.now();
const FAILURE_REPORTER = join(DIST, 'test/support/failure-reporter.js');

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

/** Every failed test of every file, one line each, so the tail of the output (all CI keeps) names them. */
function sayFailures(results: JobResult[]): void {
  for (const { job } of results) {
    const lines = existsSync(job.failures) ? readFileSync(job.failures, 'utf8').split('\n').filter(Boolean) : [];
    for (const line of lines) say(`failed (${job.label}): ${line}`);
  }
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
  const lineFiles = !filters.length || args.includes('--node-lines') ? files.filter(isNodeLineTest) : [];

  // Where every process of this run claims the ports it hands out (ports.ts), so no two get the same one.
  const portClaims = mkdtempSync(join(tmpdir(), 'dozen-test-ports-'));
  process.env.DOZEN_TEST_PORT_CLAIMS = portClaims;
  const failureDir = mkdtempSync(join(tmpdir(), 'dozen-test-failures-'));
  // Debian packages, engines and the other Node lines get ready while the files that need none of them run.
  const packagesPending = join(tmpdir(), `dozen-test-packages-${process.pid}`);
  process.env[PENDING_MARK_ENV] = packagesPending;
  const engines = installMissingPackages(packagesPending, say).then(() => startEngines(wanted, say));
  engines.catch(() => {});
  const jobs: Job[] = files.map((file, index) => ({
    file,
    label: relative(DIST, file),
    engines: needs.get(file)!,
    ready: needs.get(file)!.size ? engines.then((ready) => ({ node: process.execPath, env: ready.env })) : Promise.resolve({ node: process.execPath, env: {} }),
    failures: join(failureDir, `${index}.txt`),
  }));
  for (const version of lineFiles.length ? NODE_LINES : []) {
    const line = prepareNodeLine(version, say);
    line.catch(() => {});
    const ready = Promise.all([engines, line]).then(([{ env }, line]: [StartedEngines, NodeLine]) => ({
      node: line.node,
      env: { ...env, PATH: `${dirname(line.node)}:${process.env.PATH}`, DOZEN_DATABASE_SQLITE_BINDING: line.sqliteBinding, NODE_OPTIONS: line.nodeOptions },
    }));
    const strict = isStrictLine(version) ? ' with deprecations fatal' : '';
    for (const file of lineFiles) {
      jobs.push({ file, label: `${relative(DIST, file)} on Node ${version}${strict}`, engines: needs.get(file)!, ready, failures: join(failureDir, `${jobs.length}.txt`) });
    }
  }
  say(`${jobs.length} test files${lineFiles.length ? ` (${lineFiles.length} of them on Node ${NODE_LINES.join(' and ')} too)` : ''}, ${SLOTS} at a time${wanted.size ? `; engines: ${[...wanted].join(', ')}` : ''}`);
  let results: JobResult[] = [];
  try {
    results = await runJobs(jobs, { slots: SLOTS, reporter: FAILURE_REPORTER, say });
    if (!lineFiles.length && filters.length) {
      say(`Node ${NODE_LINES.join(' and ')} not run (a filter was given; add --node-lines to run the node-lines files among the selected ones on them)`);
    }
  } finally {
    await (await engines.catch(() => null))?.stop();
    rmSync(portClaims, { recursive: true, force: true });
    sayFailures(results);
    rmSync(failureDir, { recursive: true, force: true });
  }
  const failed = results.filter((result) => !result.passed).length;
  const seconds = Math.round((Date.now() - STARTED) / 1000);
  say(`wall time ${Math.floor(seconds / 60)} min ${seconds % 60} s, ${results.length} files run${failed ? `, ${failed} failed` : ', all passed'}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    say(error.message);
    process.exit(1);
  },
);

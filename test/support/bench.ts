/**
 * The test bench: `npm test` runs this. It starts the real engines the tests
 * need (Docker Engine, MariaDB with binlog), makes sure Chromium and the local
 * base images are there, hands their addresses to the test files through env,
 * runs `node --test` on the built test files, then stops what it started.
 *
 *   node dist/test/support/bench.js [filter ...]   # only test files whose path contains a filter
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBaseImage, ensureTestAppImage } from './base-image.js';
import { chromiumPath } from './chromium.js';
import { startDockerEngine } from './docker-engine.js';
import { startMariaDb } from './mariadb.js';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

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

async function main(): Promise<number> {
  const filters = process.argv.slice(2).filter((arg) => arg !== '--');
  const files = testFiles(filters);
  if (!files.length) {
    process.stderr.write(`test bench: no test files match ${filters.join(' ')}\n`);
    return 1;
  }
  const started = Date.now();
  const docker = await startDockerEngine();
  await ensureBaseImage(docker.docker);
  await ensureTestAppImage(docker.docker);
  const mariadb = await startMariaDb();
  const chromium = chromiumPath();
  process.stderr.write(
    `test bench ready in ${Date.now() - started} ms: docker ${docker.socketPath}, mariadb ${mariadb.url} (server_id ${mariadb.serverId}), chromium ${chromium}\n`,
  );
  try {
    return await new Promise<number>((resolveExit) => {
      const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
        stdio: 'inherit',
        env: {
          ...process.env,
          DOZEN_TEST_DOCKER_SOCKET: docker.socketPath,
          DOZEN_TEST_MYSQL_URL: mariadb.url,
          DOZEN_TEST_MYSQL_SERVER_ID: String(mariadb.serverId),
          DOZEN_TEST_BENCH: '1',
        },
      });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.once('SIGINT', forward);
      process.once('SIGTERM', forward);
      child.once('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0)));
    });
  } finally {
    await mariadb.stop();
    await docker.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`test bench: ${error.message}\n`);
    process.exit(1);
  },
);

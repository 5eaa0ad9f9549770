import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ensureBaseImage, ensureTestAppImage } from './base-image.js';
import { chromiumPath } from './chromium.js';
import { startDockerEngine } from './docker-engine.js';
import { startMariaDb } from './mariadb.js';
import { startPebbleForBench } from './pebble.js';
import { startRedis } from './redis.js';

/**
 * The shared engines, each with the env variable through which test files
 * reach it. A test file needs an engine when its built code, or a file it
 * imports, names that variable (the helpers in test/support do, through
 * fromBench), so no test file has to declare its engines by hand.
 */
const ENGINES = {
  docker: 'DOZEN_TEST_DOCKER_SOCKET',
  mariadb: 'DOZEN_TEST_MYSQL_URL',
  redis: 'DOZEN_TEST_REDIS_URL',
  chromium: 'DOZEN_TEST_CHROMIUM',
  pebble: 'DOZEN_TEST_ACME_PEBBLE',
} as const;

export type EngineName = keyof typeof ENGINES;

export interface StartedEngines {
  /** What the test files read: the ENGINES variables (and MariaDB's server_id). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** The engines a built test file uses, from its text and the text of every file it imports (relative, static imports). */
export function enginesUsedBy(file: string): Set<EngineName> {
  const seen = new Set<string>();
  const texts: string[] = [];
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = readFileSync(path, 'utf8');
    texts.push(text);
    for (const match of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+\.js)['"]/g)) visit(resolve(dirname(path), match[1]));
  };
  visit(file);
  const text = texts.join('\n');
  return new Set((Object.keys(ENGINES) as EngineName[]).filter((engine) => new RegExp(`\\b${ENGINES[engine]}\\b`).test(text)));
}

/** Starts the `wanted` engines side by side; if one fails, stops the others and throws. */
export async function startEngines(wanted: Set<EngineName>, say: (line: string) => void): Promise<StartedEngines> {
  const started = Date.now();
  const stops: (() => Promise<void>)[] = [];
  const env: Record<string, string> = {};
  const starting: Record<EngineName, () => Promise<string>> = {
    docker: async () => {
      const engine = await startDockerEngine();
      stops.push(engine.stop);
      await ensureBaseImage(engine.docker);
      await ensureTestAppImage(engine.docker);
      env[ENGINES.docker] = engine.socketPath;
      return `docker ${engine.socketPath}`;
    },
    mariadb: async () => {
      const mariadb = await startMariaDb();
      stops.push(mariadb.stop);
      env[ENGINES.mariadb] = mariadb.url;
      env.DOZEN_TEST_MYSQL_SERVER_ID = String(mariadb.serverId);
      return `mariadb ${mariadb.url} (server_id ${mariadb.serverId})`;
    },
    redis: async () => {
      const redis = await startRedis();
      stops.push(redis.stop);
      env[ENGINES.redis] = redis.url;
      return `redis ${redis.url}`;
    },
    chromium: async () => {
      env[ENGINES.chromium] = chromiumPath();
      return `chromium ${env[ENGINES.chromium]}`;
    },
    pebble: async () => {
      const pebble = await startPebbleForBench();
      stops.push(pebble.stop);
      env[ENGINES.pebble] = pebble.json;
      return pebble.describe;
    },
  };
  const stop = async () => {
    await Promise.all(stops.map((stopOne) => stopOne().catch((error: Error) => say(`stopping an engine: ${error.message}`))));
  };
  if (!wanted.size) return { env, stop };
  const results = await Promise.allSettled([...wanted].map((engine) => starting[engine]()));
  const failures = results.filter((result) => result.status === 'rejected').map((result) => (result as PromiseRejectedResult).reason as Error);
  if (failures.length) {
    await stop();
    throw new Error(failures.map((error) => error.message).join('; '));
  }
  say(`engines ready in ${Date.now() - started} ms: ${results.map((result) => (result as PromiseFulfilledResult<string>).value).join(', ')}`);
  return { env, stop };
}

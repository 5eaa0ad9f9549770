import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis as RedisClient } from 'ioredis';
import { fromBench } from './bench-env.js';
import { requireBinary } from './debian.js';
import { freePort, GiveUp, waitFor } from './ports.js';

export interface Redis {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** Stops the server if this call started it; the bench's is left to the bench. */
  stop(): Promise<void>;
}

/**
 * A throwaway Redis (Debian's redis-server) on a free port with its own
 * directory and no persistence. Uses the bench's (DOZEN_TEST_REDIS_URL) when
 * the bench gave one; a file run on its own starts its own.
 */
export async function startRedis(): Promise<Redis> {
  const given = fromBench('DOZEN_TEST_REDIS_URL', 'Redis');
  if (given) return { url: given, stop: async () => {} };
  const redisServer = requireBinary('redis-server', 'redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'dozen-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr!.on('data', (chunk) => (errors += chunk));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`Redis on ${url}`, async () => {
      if (child.exitCode !== null) throw new GiveUp(`redis-server exited with ${child.exitCode}: ${errors.slice(-500)}`);
      const client = new RedisClient(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => {}); // connect() rejects with it; unheard, ioredis prints "Unhandled error event" while Redis starts
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } finally {
        client.disconnect();
      }
    }, 30_000, 100);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { ProxyCluster } from '../../src/proxy/proxy.cluster.js';

/** Waits for `check` to hold, polling, with a deadline. */
async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('proxy worker log lines', { timeout: 60_000 }, () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  // As src/common/logger.ts makes it: `pid` is a base field of every line.
  const log = pino({ level: 'info', base: { pid: process.pid } }, sink);
  const workers = new ProxyCluster(
    {
      server: { host: '127.0.0.1', port: 0, engine: 'auto', retries: 0, timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 5_000, clientKeepAlive: 10_000 }, trustedProxies: [], upstreamConnections: 4 },
      accessLog: false,
      logLevel: 'warn',
    },
    1,
    'primary',
    log,
  );
  after(() => workers.stop());

  it('"proxy worker died" names the worker once, apart from the primary\'s own pid', async () => {
    await workers.run();
    const worker = Object.values(cluster.workers ?? {})[0]!;
    const pid = worker.process.pid!;
    worker.process.kill('SIGKILL');
    await waitFor(() => lines.some((line) => line.includes('proxy worker died')), 'the "proxy worker died" line');
    const line = lines.find((candidate) => candidate.includes('proxy worker died'))!;
    assert.equal(line.split('"pid":').length - 1, 1, `pid appears more than once: ${line}`);
    const parsed = JSON.parse(line);
    assert.equal(parsed.pid, process.pid);
    assert.equal(parsed.workerPid, pid);
    assert.equal(parsed.signal, 'SIGKILL');
  });
});

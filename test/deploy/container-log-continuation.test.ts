/**
 * The container-log shipper when the day's object takes no more appends (OSS's 5 GB limit on an
 * appendable object, or a PUT over the key): it goes on in `<date>.1.log`, as the tailer does, where it
 * retried the same refused append for ever. The Engine's log stream is given as its bytes (the real
 * Engine's path is test/deploy/container-logs.test.ts); the store is dozen's OSS adapter on the stand-in.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Repository } from 'typeorm';
import type { DockerClient } from '../../src/deploy/agent/docker.client.js';
import type { ContainerLogMetrics } from '../../src/deploy/logs/container-log-metrics.js';
import { ContainerLogSession, logObjectKey } from '../../src/deploy/logs/container-log-session.js';
import type { LogCheckpointEntity } from '../../src/deploy/logs/log-checkpoint.entity.js';
import { LogAppenders } from '../../src/storage/log-appenders.js';
import { continuationKey } from '../../src/storage/tailer/key-template.js';
import { startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { waitFor } from '../support/ports.js';
import { standInStore } from '../storage/tailer-support.js';

const log = pino({ level: process.env.DEBUG_LOG ? 'debug' : 'silent' });
const MAX_APPENDABLE = 4000;
const DAY = '2026-12-01';

/** The Engine's multiplexed stdout frames of lines `from` to `to`, timestamped. */
function engineFrames(from: number, to: number): Buffer {
  const frames: Buffer[] = [];
  for (let n = from; n <= to; n++) {
    const payload = Buffer.from(`${DAY}T10:00:${String(n % 60).padStart(2, '0')}.${String(n).padStart(9, '0')}Z line ${String(n).padStart(5, '0')} ${'x'.repeat(40)}\n`);
    const header = Buffer.alloc(8);
    header[0] = 1;
    header.writeUInt32BE(payload.length, 4);
    frames.push(header, payload);
  }
  return Buffer.concat(frames);
}

describe('container logs when the day object takes no more appends', { timeout: 60_000 }, () => {
  let standIn: OssStandIn;
  before(async () => {
    standIn = await startOssStandIn({ maxAppendableBytes: MAX_APPENDABLE });
  });
  after(() => standIn?.stop());

  it('goes on in <date>.1.log, .2.log, ... and loses no line', async () => {
    const rows = new Map<string, LogCheckpointEntity>();
    const checkpoints = {
      findOneBy: async ({ containerId }: { containerId: string }) => rows.get(containerId) ?? null,
      create: (row: LogCheckpointEntity) => ({ ...row }),
      save: async (row: LogCheckpointEntity) => (rows.set(row.containerId, { ...row }), row),
    } as unknown as Repository<LogCheckpointEntity>;
    const metrics = { failed: () => undefined, shipped: () => undefined } as unknown as ContainerLogMetrics;
    // Twenty lines (~1.8 kB) at a time, each group after the last was flushed (flushMs): batches as a live container's.
    async function* output() {
      for (let from = 1; from <= 200; from += 20) {
        yield engineFrames(from, from + 19);
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
    }
    const docker = { timestampedLogs: async () => Readable.from(output()) } as unknown as DockerClient;
    const appenders = new LogAppenders(standInStore(standIn, log, { retries: 1 }), log);
    const session = new ContainerLogSession({ id: 'c0ffee0000000000', app: 'shop', instance: 'shop-1' }, { docker, appenders, checkpoints, host: 'h1', flushMs: 20, log, metrics });
    await session.run();
    const base = logObjectKey('shop', 'h1', DAY);
    const keys = [base, ...[1, 2, 3, 4, 5].map((n) => continuationKey(base, n))].filter((key) => standIn.objects.has(key));
    await waitFor('every line stored', async () => keys.map((key) => standIn.objects.get(key)!.data.toString()).join('').split('\n').length > 200, 5_000).catch(() => undefined);
    const lines = keys.map((key) => standIn.objects.get(key)!.data.toString()).join('').split('\n').filter(Boolean);
    assert.ok(keys.length >= 3, `the lines went to ${keys.join(', ')}`);
    for (const key of keys) assert.ok(standIn.objects.get(key)!.data.length <= MAX_APPENDABLE, `${key} holds ${standIn.objects.get(key)!.data.length} bytes`);
    assert.equal(lines.length, 200);
    assert.deepEqual(lines.map((line) => line.split(' ')[4]), Array.from({ length: 200 }, (_, n) => String(n + 1).padStart(5, '0')), 'every line once, in order');
  });
});

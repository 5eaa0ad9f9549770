import assert from 'node:assert/strict';
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { waitFor } from '../support/ports.js';

describe('the tailer on the oss store (against the OSS API stand-in)', { timeout: 120_000 }, () => {
  let standIn: OssStandIn;
  let dozen: DozenProcess;
  let logs: string;
  before(async () => {
    standIn = await startOssStandIn();
    logs = await mkdtemp(join(tmpdir(), 'dozen-logs-'));
    dozen = await startDozen({
      env: {
        ...dozenOssEnv(standIn),
        DOZEN_HOST_NAME: 'osshost',
        DOZEN_STORAGE_OSS_RETRIES: '1',
        DOZEN_STORAGE_OSS_TIMEOUT_MS: '2000',
        DOZEN_STORAGE_TAIL: JSON.stringify([{ glob: join(logs, '*.log'), key: 'logs/{host}/{file}/{date}.log' }]),
        DOZEN_STORAGE_TAILER_FLUSH_MS: '200',
        DOZEN_STORAGE_TAILER_SCAN_MS: '200',
        DOZEN_STORAGE_TAILER_MAX_BACKOFF_MS: '1000',
      },
    });
  });
  after(async () => {
    await dozen?.stop();
    await standIn?.close();
    await rm(logs, { recursive: true, force: true });
  });

  it('keeps its offsets while the store is down for 10 s, then catches up: nothing lost, nothing twice', async () => {
    const key = `logs/osshost/app.log/${new Date().toISOString().slice(0, 10)}.log`;
    const writer = await open(join(logs, 'app.log'), 'a');
    let written = '';
    let line = 0;
    const write = async (count: number) => {
      let text = '';
      for (let index = 0; index < count; index++) text += `line ${++line} ${'y'.repeat(line % 50)}\n`;
      await writer.write(text);
      written += text;
    };
    await write(1000);
    await waitFor('first lines in OSS', async () => standIn.objects.get(key)?.data.length === Buffer.byteLength(written), 15_000, 50);

    await standIn.stop();
    const downSince = Date.now();
    while (Date.now() - downSince < 10_000) {
      await write(200);
      await sleep(250);
    }
    const status = await (await dozen.api('/storage/tail')).json();
    assert.equal(status.storeUp, false, JSON.stringify(status));
    assert.ok(status.lagBytes > 0, JSON.stringify(status));
    const health = await (await dozen.api('/storage/health')).json();
    assert.equal(health.status, 'down', JSON.stringify(health));

    await standIn.start();
    await write(1000);
    await writer.close();
    await waitFor('caught up', async () => (standIn.objects.get(key)?.data.length ?? 0) >= Buffer.byteLength(written), 30_000, 100);
    assert.equal(standIn.objects.get(key)?.data.toString(), written);
    const after = await (await dozen.api('/storage/tail')).json();
    assert.equal(after.storeUp, true);
    assert.equal(after.lagBytes, 0);
  });
});

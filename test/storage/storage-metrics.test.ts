import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { waitFor } from '../support/ports.js';

/** The value of one series in Prometheus text: `name{label="value",...} number`, matched on the labels given. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1], pair[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return null;
}

describe('storage metrics on /metrics (oss store signing v4, tailer on)', { timeout: 120_000 }, () => {
  let standIn: OssStandIn;
  let dozen: DozenProcess;
  let logs: string;
  let glob: string;
  const metrics = async () => (await fetch(dozen.url + '/metrics')).text();

  before(async () => {
    standIn = await startOssStandIn({ signatures: ['v4'] });
    logs = await mkdtemp(join(tmpdir(), 'dozen-metrics-logs-'));
    glob = join(logs, '*.log');
    dozen = await startDozen({
      env: {
        ...dozenOssEnv(standIn, 'v4'),
        DOZEN_HOST_NAME: 'metrics-host',
        DOZEN_STORAGE_OSS_RETRIES: '2',
        DOZEN_STORAGE_OSS_TIMEOUT_MS: '2000',
        DOZEN_STORAGE_TAIL: JSON.stringify([{ glob, key: 'logs/{host}/{file}/{date}.log' }]),
        DOZEN_STORAGE_TAILER_FLUSH_MS: '100',
        DOZEN_STORAGE_TAILER_SCAN_MS: '100',
        DOZEN_STORAGE_TAILER_MAX_BACKOFF_MS: '500',
      },
    });
  });
  after(async () => {
    await dozen?.stop();
    await standIn?.close();
    await rm(logs, { recursive: true, force: true });
  });

  it('counts bytes and objects by route, errors by kind, retries, and times operations by driver', async () => {
    assert.equal((await dozen.api('/storage/objects/metrics/a.txt', { method: 'PUT', body: '0123456789' })).status, 201);
    const wrongMd5 = createHash('md5').update('something else').digest('base64');
    assert.equal((await dozen.api('/storage/objects/metrics/b.txt', { method: 'PUT', body: 'payload', headers: { 'content-md5': wrongMd5 } })).status, 400);
    standIn.failNext(2);
    assert.equal((await dozen.api('/storage/objects/metrics/retried.txt', { method: 'PUT', body: 'abc' })).status, 201);

    const start = await dozen.api('/storage/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'metrics/resumable.bin' }) });
    const { uploadId } = await start.json();
    assert.equal((await dozen.api(`/storage/uploads/${uploadId}/parts/1`, { method: 'PUT', body: Buffer.alloc(100 * 1024, 'p') })).status, 200);
    assert.equal((await dozen.api(`/storage/uploads/${uploadId}/parts/2`, { method: 'PUT', body: Buffer.alloc(1000, 'q') })).status, 200);
    assert.equal((await dozen.api(`/storage/uploads/${uploadId}/complete`, { method: 'POST' })).status, 201);

    const text = await metrics();
    assert.equal(sample(text, 'dozen_storage_uploaded_bytes_total', { route: 'put' }), 13, text);
    assert.equal(sample(text, 'dozen_storage_uploaded_objects_total', { route: 'put' }), 2);
    assert.equal(sample(text, 'dozen_storage_upload_errors_total', { route: 'put', kind: 'checksum_mismatch' }), 1);
    assert.equal(sample(text, 'dozen_storage_uploaded_bytes_total', { route: 'part' }), 100 * 1024 + 1000);
    assert.equal(sample(text, 'dozen_storage_uploaded_objects_total', { route: 'part' }), 1);
    assert.equal(sample(text, 'dozen_storage_store_retries_total', { driver: 'oss', request: 'PutObject' }), 2);
    assert.equal(sample(text, 'dozen_storage_operation_duration_seconds_count', { operation: 'put', driver: 'oss' }), 3);
    assert.equal(sample(text, 'dozen_storage_operation_duration_seconds_count', { operation: 'completeMultipart', driver: 'oss' }), 1);
    // The retried put waited out two backoffs (200 + 400 ms): it is in no bucket under 0.5 s.
    assert.ok((sample(text, 'dozen_storage_operation_duration_seconds_bucket', { operation: 'put', driver: 'oss', le: '0.5' }) ?? 3) <= 2, text);
  });

  it('counts shipped log bytes and lines, files followed, and lag while the store is down', async () => {
    const first = 'one\ntwo\nthree\n';
    await appendFile(join(logs, 'app.log'), first);
    await waitFor('3 lines shipped', async () => sample(await metrics(), 'dozen_storage_tail_shipped_lines_total', { source: glob }) === 3, 15_000, 100);
    let text = await metrics();
    assert.equal(sample(text, 'dozen_storage_tail_shipped_bytes_total', { source: glob }), first.length);
    assert.equal(sample(text, 'dozen_storage_tail_files', { source: glob }), 1);
    assert.equal(sample(text, 'dozen_storage_tail_lag_bytes', { source: glob }), 0);
    assert.equal(sample(text, 'dozen_storage_uploaded_bytes_total', { route: 'append' }), first.length);
    assert.equal(sample(text, 'dozen_storage_uploaded_objects_total', { route: 'append' }), 1);

    await standIn.stop();
    const second = 'four\nfive\n';
    await appendFile(join(logs, 'app.log'), second);
    await waitFor('a failed batch', async () => (sample(await metrics(), 'dozen_storage_tail_ship_errors_total', { source: glob }) ?? 0) >= 1, 15_000, 100);
    text = await metrics();
    assert.equal(sample(text, 'dozen_storage_tail_lag_bytes', { source: glob }), second.length);
    assert.ok((sample(text, 'dozen_storage_tail_lag_seconds', { source: glob }) ?? 0) > 0, text);
    assert.ok((sample(text, 'dozen_storage_upload_errors_total', { route: 'append', kind: 'store_unavailable' }) ?? 0) >= 1, text);

    await standIn.start();
    await waitFor('caught up', async () => sample(await metrics(), 'dozen_storage_tail_shipped_lines_total', { source: glob }) === 5, 15_000, 100);
    text = await metrics();
    assert.equal(sample(text, 'dozen_storage_tail_lag_bytes', { source: glob }), 0);
    assert.equal(sample(text, 'dozen_storage_tail_lag_seconds', { source: glob }), 0);
    assert.equal(standIn.objects.get(`logs/metrics-host/app.log/${new Date().toISOString().slice(0, 10)}.log`)?.data.toString(), first + second);
  });
});

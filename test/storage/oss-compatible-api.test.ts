import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc64Of } from '../../src/storage/crc64.js';
import { runCli } from '../support/cli.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';

/** A GET with node:http, which shows the headers as sent (fetch refuses a bad Content-Length before a test could look). */
function rawGet(url: string, token: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { authorization: `Bearer ${token}` } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

describe('dozen on an OSS-compatible server that sends GETs chunked and no CRC64', { timeout: 120_000 }, () => {
  let standIn: OssStandIn;
  let dozen: DozenProcess;
  let folder: string;
  before(async () => {
    standIn = await startOssStandIn({ quirks: { chunkedGets: true, noCrc64: true } });
    dozen = await startDozen({ env: dozenOssEnv(standIn) });
    folder = await mkdtemp(join(tmpdir(), 'dozen-upload-'));
  });
  after(async () => {
    await dozen?.stop();
    await standIn?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('serves an object of unknown size chunked, not with content-length: NaN', async () => {
    const data = Buffer.alloc(70_000, 'chunked body ');
    assert.equal((await dozen.api('/storage/objects/chunked/file.txt', { method: 'PUT', body: data })).status, 201);
    const response = await rawGet(`${dozen.url}/storage/objects/chunked/file.txt`, dozen.token);
    assert.equal(response.status, 200, response.body.toString().slice(0, 300));
    assert.equal(response.headers['content-length'], undefined);
    assert.equal(response.headers['transfer-encoding'], 'chunked');
    assert.ok(response.body.equals(data));
  });

  it('answers a PUT with the CRC64 dozen computed, marked unconfirmed by the store', async () => {
    const data = Buffer.from('no crc64 from this store\n');
    const response = await dozen.api('/storage/objects/nocrc/one.txt', { method: 'PUT', body: data });
    const body = await response.json();
    assert.equal(response.status, 201, JSON.stringify(body));
    assert.equal(body.crc64, crc64Of(data));
    assert.equal(body.crc64Confirmed, false);
  });

  it('lets `dozen upload` succeed, checking the file against the CRC64 dozen computed', async () => {
    const file = join(folder, 'small.txt');
    const data = Buffer.alloc(1024, 'u');
    await writeFile(file, data);
    const run = await runCli(['upload', file, 'nocrc/small.txt', '--json'], { DOZEN_URL: dozen.url, DOZEN_TOKEN: dozen.token });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.crc64, crc64Of(data));
    assert.equal(result.crc64Confirmed, false);
    assert.ok(standIn.objects.get('nocrc/small.txt')?.data.equals(data));
  });

  it('lets a resumable `dozen upload` succeed, with the CRC64 joined from the parts dozen received', async () => {
    const file = join(folder, 'parts.bin');
    const data = Buffer.alloc(250 * 1024, 'parts ');
    await writeFile(file, data);
    const run = await runCli(['upload', file, 'nocrc/parts.bin', '--json', '--threshold', '100KiB', '--part-size', '100KiB'], { DOZEN_URL: dozen.url, DOZEN_TOKEN: dozen.token });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.deepEqual([result.crc64, result.crc64Confirmed, result.partsSent], [crc64Of(data), false, 3]);
    assert.equal(standIn.objects.get('nocrc/parts.bin')?.type, 'Multipart');
  });
});

describe('dozen while the OSS store refuses connections', { timeout: 120_000 }, () => {
  let standIn: OssStandIn;
  let dozen: DozenProcess;
  let folder: string;
  before(async () => {
    standIn = await startOssStandIn();
    await standIn.stop();
    dozen = await startDozen({
      env: { ...dozenOssEnv(standIn), DOZEN_MODULES: 'storage,registry,deploy', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: join(tmpdir(), 'no-such-docker.sock') },
      waitHealthy: false,
    });
    folder = await mkdtemp(join(tmpdir(), 'dozen-upload-'));
  });
  after(async () => {
    await dozen?.stop();
    await standIn?.close().catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  });

  it('answers 503 on /storage/health and every down module’s health, with the cause', async () => {
    const storage = await dozen.api('/storage/health');
    const body = await storage.json();
    assert.equal(storage.status, 503, JSON.stringify(body));
    assert.equal(body.status, 'down');
    assert.match(body.reason, new RegExp(`connect ECONNREFUSED ${new URL(standIn.endpoint).host.replace(/\./g, '\\.')}`));
    const deploy = await dozen.api('/deploy/health');
    assert.equal(deploy.status, 503, JSON.stringify(await deploy.clone().json()));
    assert.equal((await fetch(dozen.url + '/health')).status, 503);
  });

  it('makes `dozen upload` of a small file fail within seconds, in one line', async () => {
    const file = join(folder, 'one-kb.txt');
    await writeFile(file, Buffer.alloc(1024, 'k'));
    const started = Date.now();
    const run = await runCli(['upload', file, 'down/one-kb.txt'], { DOZEN_URL: dozen.url, DOZEN_TOKEN: dozen.token });
    const took = Date.now() - started;
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^dozen: 503 the store did not answer PutObject "down\/one-kb.txt": connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/);
    // dozen's own retries against the store take ≈ 3 s (4 retries) and the client adds none of its own;
    // with the client retrying 5xx too it took ≈ 26 s. The margin is for a loaded test machine.
    assert.ok(took < 12_000, `took ${took} ms`);
  });
});

describe('dozen serve with driver oss and no access key secret', () => {
  it('stops with the one-line config error and exit 2', async () => {
    const run = await runCli(['serve'], {
      DOZEN_DATA_DIR: join(tmpdir(), 'dozen-unused'),
      DOZEN_MODULES: 'storage',
      DOZEN_STORAGE_DRIVER: 'oss',
      DOZEN_STORAGE_OSS_BUCKET: 'bucket-one',
      DOZEN_STORAGE_OSS_ACCESS_KEY_ID: 'LTAIexample',
      DOZEN_STORAGE_OSS_REGION: 'oss-cn-hangzhou',
    });
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.equal(run.stderr, 'dozen: bad config: storage.oss.accessKeySecret = (missing): is required with storage.driver oss\n');
    assert.equal(run.stdout, '');
  });
});

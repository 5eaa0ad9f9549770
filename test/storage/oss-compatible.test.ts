import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { crc64Of } from '../../src/storage/crc64.js';
import { OssObjectStore } from '../../src/storage/oss.object-store.js';
import { freePort } from '../support/ports.js';
import { startOssStandIn, type OssStandIn, type Quirks } from '../support/oss-standin.js';

function ossStore(standIn: OssStandIn | { endpoint: string; region: string; bucket: string; accessKeyId: string; accessKeySecret: string }, overrides: { pathStyle?: boolean; retries?: number; accessKeySecret?: string } = {}) {
  return new OssObjectStore(
    {
      oss: {
        endpoint: standIn.endpoint,
        region: `oss-${standIn.region}`,
        bucket: standIn.bucket,
        accessKeyId: standIn.accessKeyId,
        accessKeySecret: overrides.accessKeySecret ?? standIn.accessKeySecret,
        authorizationVersion: 'v1',
        pathStyle: overrides.pathStyle ?? true,
        retries: overrides.retries ?? 2,
        timeoutMs: 10_000,
      },
      multipartThreshold: 200 * 1024,
      partSize: 100 * 1024,
    },
    pino({ level: 'silent' }),
  );
}

async function withStandIn(quirks: Quirks, test: (standIn: OssStandIn) => Promise<void>): Promise<void> {
  const standIn = await startOssStandIn({ quirks });
  try {
    await test(standIn);
  } finally {
    await standIn.close();
  }
}

describe('the oss adapter against OSS-compatible servers', { timeout: 60_000 }, () => {
  let standIn: OssStandIn;
  before(async () => {
    standIn = await startOssStandIn();
  });
  after(async () => standIn?.close());

  it('sends the endpoint’s own host and port as Host in path style, also for an IP-address endpoint', async () => {
    const store = ossStore(standIn);
    const before = standIn.requests.length;
    await store.put('host/path-style.txt', Readable.from([Buffer.from('path style')]));
    assert.equal(await store.head('host/missing.txt'), null);
    const hosts = new Set(standIn.requests.slice(before).map((request) => request.host));
    assert.deepEqual([...hosts], [new URL(standIn.endpoint).host]);
    assert.equal(standIn.objects.get('host/path-style.txt')?.data.toString(), 'path style');
  });

  it('still addresses the bucket by its domain in virtual-hosted style (the stand-in routes by Host)', async () => {
    const store = ossStore(standIn, { pathStyle: false });
    const before = standIn.requests.length;
    await store.put('host/virtual.txt', Readable.from([Buffer.from('virtual')]));
    assert.equal(standIn.objects.get('host/virtual.txt')?.data.toString(), 'virtual');
    assert.deepEqual([...new Set(standIn.requests.slice(before).map((request) => request.host))], [`${standIn.bucket}.oss-${standIn.region}.aliyuncs.com`]);
  });

  it('reads an object the store sends chunked, without Content-Length, as of unknown size', () =>
    withStandIn({ chunkedGets: true }, async (chunked) => {
      const data = Buffer.alloc(50_000, 'chunked ');
      const store = ossStore(chunked);
      await store.put('chunked.bin', Readable.from([data]));
      const { info, body } = await store.get('chunked.bin');
      assert.equal(info.size, null);
      const received: Buffer[] = [];
      for await (const chunk of body) received.push(chunk as Buffer);
      assert.ok(Buffer.concat(received).equals(data));
    }));

  it('reports the CRC64 it computed, as unconfirmed, when the store sends none (single put and multipart)', () =>
    withStandIn({ noCrc64: true }, async (plain) => {
      const store = ossStore(plain);
      for (const [key, size] of [['small.bin', 1000], ['large.bin', 350 * 1024]] as const) {
        const data = Buffer.alloc(size, key);
        const info = await store.put(key, Readable.from([data]));
        assert.equal(info.crc64, crc64Of(data), key);
        assert.equal(info.crc64Confirmed, false, key);
      }
      const confirmed = await ossStore(standIn).put('confirmed.bin', Readable.from([Buffer.from('x')]));
      assert.notEqual(confirmed.crc64Confirmed, false);
    }));

  it('lists every object when the store says a page is truncated but sends no continuation token', () =>
    withStandIn({ truncatedListingsWithoutToken: true }, async (lax) => {
      const store = ossStore(lax);
      const keys = Array.from({ length: 25 }, (_, index) => `list/${String(index).padStart(2, '0')}`);
      for (const key of keys) await store.put(key, Readable.from([Buffer.from(key)]));
      const listed: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const result = await store.list('list/', { cursor, limit: 10 });
        listed.push(...result.objects.map((object) => object.key));
        cursor = result.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual(listed, keys);
    }));

  it('says the cause and the request of a network failure, without the HTTP agent’s state, and a health check does not retry', async () => {
    const port = await freePort();
    const down = ossStore({ ...standIn, endpoint: `http://127.0.0.1:${port}` }, { retries: 4 });
    const started = Date.now();
    const error = (await down.check().then(() => null, (thrown: Error) => thrown)) as Error & { status?: number };
    assert.ok(error, 'check() of a store that refuses connections must fail');
    assert.equal(error.status, 503);
    assert.match(error.message, new RegExp(`^the store did not answer ListObjectsV2 "": connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
    // Four retries with backoff take 3 s; the 2 s health timeout would hide the cause.
    assert.ok(Date.now() - started < 1000, `check took ${Date.now() - started} ms`);
  });

  it('keeps an OSS error short: request, status, code and message', async () => {
    const error = (await ossStore(standIn, { accessKeySecret: 'wrong' }).head('denied.txt').then(() => null, (thrown: Error) => thrown)) as Error;
    assert.match(error.message, /^the store refused HeadObject "denied.txt": 403 SignatureDoesNotMatch/);
    assert.ok(error.message.length < 300, error.message);
  });

  it('does not retry a 501 NotImplemented as an outage', async () => {
    const before = standIn.requests.length;
    standIn.failNext(1, 501, 'NotImplemented');
    await assert.rejects(ossStore(standIn, { retries: 3 }).head('host/path-style.txt'), { status: 502, error: 'store_error', message: /501 NotImplemented/ });
    assert.equal(standIn.requests.length - before, 1);
  });

  it('reports a missing upload as a missing upload, naming it, from ListParts, Complete and Abort', async () => {
    const store = ossStore(standIn);
    for (const call of [() => store.listParts('some/key', 'NOSUCHUPLOAD'), () => store.completeMultipart('some/key', 'NOSUCHUPLOAD'), () => store.abortMultipart('some/key', 'NOSUCHUPLOAD')]) {
      await assert.rejects(call(), { status: 404, message: 'upload "NOSUCHUPLOAD" does not exist' });
    }
  });
});

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { crc64Of } from '../../src/storage/crc64.js';
import { OssObjectStore } from '../../src/storage/oss.object-store.js';
import { startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { objectStoreContract } from './object-store.contract.js';

function ossStore(standIn: OssStandIn, overrides: { accessKeySecret?: string; retries?: number } = {}) {
  return new OssObjectStore(
    {
      oss: {
        endpoint: standIn.endpoint,
        bucket: standIn.bucket,
        accessKeyId: standIn.accessKeyId,
        accessKeySecret: overrides.accessKeySecret ?? standIn.accessKeySecret,
        authorizationVersion: 'v1',
        pathStyle: true,
        retries: overrides.retries ?? 3,
        timeoutMs: 10_000,
      },
      // Small sizes so the contract's 300 kB body goes through multipart.
      multipartThreshold: 200 * 1024,
      partSize: 100 * 1024,
    },
    pino({ level: 'silent' }),
  );
}

objectStoreContract('oss against the OSS API stand-in', async () => {
  const standIn = await startOssStandIn();
  return { store: ossStore(standIn), close: () => standIn.close() };
});

describe('the oss adapter', { timeout: 60_000 }, () => {
  let standIn: OssStandIn;
  before(async () => {
    standIn = await startOssStandIn();
  });
  after(async () => standIn?.close());

  it('sends a large body as a multipart upload and the stand-in holds the same bytes and CRC64', async () => {
    const data = Buffer.alloc(350 * 1024, 'multipart ');
    const info = await ossStore(standIn).put('multi/part.bin', Readable.from([data]));
    assert.equal(info.crc64, crc64Of(data));
    const stored = standIn.objects.get('multi/part.bin');
    assert.equal(stored?.type, 'Multipart');
    assert.ok(stored?.data.equals(data));
    const parts = standIn.requests.filter((request) => request.method === 'PUT' && request.path.includes('partNumber='));
    assert.equal(parts.length, 4);
  });

  it('retries 5xx answers with backoff and succeeds', async () => {
    standIn.failNext(2);
    const info = await ossStore(standIn).put('retry/ok.txt', Readable.from([Buffer.from('after two 503s')]));
    assert.equal(info.size, 'after two 503s'.length);
  });

  it('reports the store unavailable once retries are spent', async () => {
    standIn.failNext(10);
    await assert.rejects(ossStore(standIn, { retries: 1 }).head('retry/ok.txt'), { status: 503, error: 'store_unavailable' });
    standIn.failNext(0);
  });

  it('is refused by the stand-in when the signature is wrong', async () => {
    await assert.rejects(ossStore(standIn, { accessKeySecret: 'wrong' }).put('denied.txt', Readable.from([Buffer.from('x')])), (error: Error) =>
      /SignatureDoesNotMatch/.test(error.message),
    );
    assert.equal(standIn.objects.has('denied.txt'), false);
  });

  it('answers a stale append position with the real length (409 PositionNotEqualToLength)', async () => {
    const store = ossStore(standIn);
    await store.append('append/log', 0, Buffer.from('one\n'));
    await assert.rejects(store.append('append/log', 0, Buffer.from('one\n')), { status: 409, length: 4 });
    assert.equal(standIn.objects.get('append/log')?.data.toString(), 'one\n');
    assert.equal(standIn.objects.get('append/log')?.type, 'Appendable');
  });
});

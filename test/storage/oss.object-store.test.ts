import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { crc64Of } from '../../src/storage/crc64.js';
import { OssObjectStore } from '../../src/storage/oss.object-store.js';
import { startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { objectStoreContract } from './object-store.contract.js';

type Signature = 'v1' | 'v4';

function ossStore(standIn: OssStandIn, overrides: { accessKeySecret?: string; retries?: number; signature?: Signature } = {}) {
  return new OssObjectStore(
    {
      oss: {
        endpoint: standIn.endpoint,
        // ali-oss takes the region with or without `oss-`; V4 signs it without.
        region: `oss-${standIn.region}`,
        bucket: standIn.bucket,
        accessKeyId: standIn.accessKeyId,
        accessKeySecret: overrides.accessKeySecret ?? standIn.accessKeySecret,
        authorizationVersion: overrides.signature ?? 'v1',
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

// Each run's stand-in takes only that signature version, so a passing run proves the adapter signs it.
for (const signature of ['v1', 'v4'] as const) {
  objectStoreContract(`oss (${signature} signatures) against the OSS API stand-in`, async () => {
    const standIn = await startOssStandIn({ signatures: [signature] });
    return {
      store: ossStore(standIn, { signature }),
      close: async () => {
        await standIn.close();
        const other = standIn.requests.filter((request) => request.signature !== signature);
        if (other.length) throw new Error(`requests not signed ${signature}: ${JSON.stringify(other.slice(0, 3))}`);
      },
    };
  });
}

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

  for (const signature of ['v1', 'v4'] as const) {
    it(`is refused by the stand-in when signed ${signature} with a wrong secret`, async () => {
      const wrong = ossStore(standIn, { accessKeySecret: 'wrong', signature });
      await assert.rejects(wrong.put('denied.txt', Readable.from([Buffer.from('x')])), { status: 502, message: /SignatureDoesNotMatch/ });
      await assert.rejects(wrong.list(''), { status: 502, message: /SignatureDoesNotMatch/ });
      assert.equal(standIn.objects.has('denied.txt'), false);
      const refused = standIn.requests.filter((request) => request.signature === signature && request.path.includes('denied.txt'));
      assert.ok(refused.length > 0, 'the wrong-secret request reached the stand-in');
    });
  }

  it('is refused, whatever its secret, by a stand-in that takes only the other signature version', async () => {
    const v4Only = await startOssStandIn({ signatures: ['v4'] });
    try {
      await assert.rejects(ossStore(v4Only).head('anything'), { status: 502, message: /AccessDenied/ });
      assert.equal((await ossStore(v4Only, { signature: 'v4' }).head('anything')), null);
    } finally {
      await v4Only.close();
    }
  });

  it('answers the OSS XML error to a V4 request whose signature was tampered with', async () => {
    const timestamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const response = await fetch(`${standIn.endpoint}/${standIn.bucket}/tampered.txt`, {
      headers: {
        'x-oss-date': timestamp,
        'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
        authorization: `OSS4-HMAC-SHA256 Credential=${standIn.accessKeyId}/${timestamp.slice(0, 8)}/${standIn.region}/oss/aliyun_v4_request,Signature=${'0'.repeat(64)}`,
      },
    });
    assert.equal(response.status, 403);
    assert.match(response.headers.get('content-type') ?? '', /application\/xml/);
    assert.match(await response.text(), /<Error><Code>SignatureDoesNotMatch<\/Code><Message>[^<]*OSS4-HMAC-SHA256/);
  });

  it('refuses object names OSS refuses (InvalidObjectName), so the contract\'s key checks cannot pass on a lenient stand-in', async () => {
    const signedGet = (key: string) => {
      const date = new Date().toUTCString();
      const resource = `/${standIn.bucket}/${key}`;
      const signature = createHmac('sha1', standIn.accessKeySecret).update(`GET\n\n\n${date}\n${resource}`).digest('base64');
      return fetch(`${standIn.endpoint}/${standIn.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`, { headers: { date, authorization: `OSS ${standIn.accessKeyId}:${signature}` } });
    };
    assert.equal((await signedGet('fine/name.txt')).status, 404);
    for (const key of ['/absolute', '\\back', 'x'.repeat(1024)]) {
      const response = await signedGet(key);
      assert.equal(response.status, 400, key);
      assert.match(await response.text(), /<Code>InvalidObjectName<\/Code>/, key);
    }
  });

  it('answers a stale append position with the real length (409 PositionNotEqualToLength)', async () => {
    const store = ossStore(standIn);
    await store.append('append/log', 0, Buffer.from('one\n'));
    await assert.rejects(store.append('append/log', 0, Buffer.from('one\n')), { status: 409, length: 4 });
    assert.equal(standIn.objects.get('append/log')?.data.toString(), 'one\n');
    assert.equal(standIn.objects.get('append/log')?.type, 'Appendable');
  });
});

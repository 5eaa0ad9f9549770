import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { crc64Of } from '../../src/storage/crc64.js';
import type { ObjectInfo } from '../../src/storage/object-store.js';
import { startOssStandIn, type OssStandIn, type Quirks } from '../support/oss-standin.js';
import type { OssObjectStore } from '../../src/storage/oss.object-store.js';
import { standInStore } from './tailer-support.js';

/**
 * Several writers PUT different bodies to one key at once. Every write is applied by the store (last
 * writer wins), so every one must succeed with its own CRC64 and ETag, and the key must hold one of the
 * bodies whole. The adapter used to HEAD the key after its write and compare the object there, which
 * may already be another writer's: a 400 checksum_mismatch for a write that landed, or a 201 with the
 * other writer's ETag.
 */
function ossStore(standIn: OssStandIn, multipartThreshold: number) {
  return standInStore(standIn, pino({ level: 'silent' }), { retries: 0, timeoutMs: 30_000, multipartThreshold, partSize: 256 * 1024 });
}

const WRITERS = 6;
const ROUNDS = 3;
const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex').toUpperCase();

async function racePuts(standIn: OssStandIn, store: OssObjectStore, key: string) {
  const bodies = Array.from({ length: WRITERS }, () => randomBytes(1024 * 1024));
  const settled = await Promise.allSettled(bodies.map((body) => store.put(key, Readable.from([body]), { contentType: 'application/octet-stream' })));
  const failures = settled.flatMap((result, index) => (result.status === 'rejected' ? [`writer ${index}: ${(result.reason as Error).message}`] : []));
  assert.deepEqual(failures, [], 'every concurrent PUT succeeds');
  const infos = settled.map((result) => (result as PromiseFulfilledResult<ObjectInfo>).value);
  const left = standIn.objects.get(key);
  assert.ok(left, 'the key holds an object');
  assert.ok(bodies.some((body) => body.equals(left.data)), 'the object left is one of the bodies, whole');
  return { bodies, infos };
}

for (const quirks of [{}, { noCrc64: true }] as Quirks[]) {
  describe(`concurrent PUTs of one key on the oss adapter${quirks.noCrc64 ? ' (a store answering without CRC64)' : ''}`, { timeout: 120_000 }, () => {
    let standIn: OssStandIn;
    before(async () => {
      standIn = await startOssStandIn({ quirks });
    });
    after(async () => standIn?.close());

    it('each one-request PutObject succeeds with its own CRC64 and ETag', async () => {
      const store = ossStore(standIn, 2 * 1024 * 1024);
      for (let round = 0; round < ROUNDS; round++) {
        const { bodies, infos } = await racePuts(standIn, store, 'race/put.bin');
        infos.forEach((info, index) => {
          assert.equal(info.size, bodies[index].length);
          assert.equal(info.crc64, crc64Of(bodies[index]), `writer ${index}'s CRC64`);
          assert.equal(info.etag, `"${md5Hex(bodies[index])}"`, `writer ${index}'s ETag (OSS's ETag of a PutObject is the MD5)`);
          assert.equal(info.crc64Confirmed === false, Boolean(quirks.noCrc64));
        });
      }
    });

    it('each multipart upload succeeds with its own CRC64 and ETag', async () => {
      const store = ossStore(standIn, 512 * 1024);
      for (let round = 0; round < ROUNDS; round++) {
        const { bodies, infos } = await racePuts(standIn, store, 'race/multipart.bin');
        assert.equal(standIn.objects.get('race/multipart.bin')?.type, 'Multipart');
        infos.forEach((info, index) => {
          assert.equal(info.size, bodies[index].length);
          assert.equal(info.crc64, crc64Of(bodies[index]), `writer ${index}'s CRC64`);
          assert.match(info.etag, new RegExp(`^"${md5Hex(bodies[index])}-4"$`), `writer ${index}'s ETag`);
          assert.equal(info.crc64Confirmed === false, Boolean(quirks.noCrc64));
        });
      }
    });

    it('each resumable upload completed at once succeeds with its own CRC64, ETag and content type', async () => {
      const store = ossStore(standIn, 512 * 1024);
      const key = 'race/resumable.bin';
      for (let round = 0; round < ROUNDS; round++) {
        const bodies = Array.from({ length: WRITERS }, () => randomBytes(1024 * 1024));
        const uploads = await Promise.all(
          bodies.map(async (body, index) => {
            const uploadId = await store.createMultipart(key, { contentType: `application/x-writer-${index}` });
            for (let part = 0; part < 4; part++) await store.putPart(key, uploadId, part + 1, Readable.from([body.subarray(part * 256 * 1024, (part + 1) * 256 * 1024)]), 256 * 1024);
            return uploadId;
          }),
        );
        const settled = await Promise.allSettled(uploads.map((uploadId, index) => store.completeMultipart(key, uploadId, { contentType: `application/x-writer-${index}` })));
        const failures = settled.flatMap((result, index) => (result.status === 'rejected' ? [`writer ${index}: ${(result.reason as Error).message}`] : []));
        assert.deepEqual(failures, [], 'every concurrent completion succeeds');
        settled.forEach((result, index) => {
          const info = (result as PromiseFulfilledResult<ObjectInfo>).value;
          assert.equal(info.size, bodies[index].length);
          // Without CRC64s of the parts the adapter reports none; the service joins the ones it computed.
          assert.equal(info.crc64, quirks.noCrc64 ? '' : crc64Of(bodies[index]), `writer ${index}'s CRC64`);
          assert.equal(info.etag, `"${md5Hex(bodies[index])}-4"`, `writer ${index}'s ETag`);
          assert.equal(info.contentType, `application/x-writer-${index}`);
        });
        const left = standIn.objects.get(key);
        assert.ok(left && bodies.some((body) => body.equals(left.data)), 'the object left is one of the bodies, whole');
      }
    });
  });
}

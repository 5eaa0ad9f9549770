import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { crc64Of } from '../../src/storage/crc64.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';

for (const signature of ['v1', 'v4'] as const) describe(`the storage REST API on the oss store, signing ${signature} (against the OSS API stand-in)`, { timeout: 120_000 }, () => {
  let standIn: OssStandIn;
  let dozen: DozenProcess;
  before(async () => {
    // The stand-in takes only this version: a request signed otherwise fails the test.
    standIn = await startOssStandIn({ signatures: [signature] });
    dozen = await startDozen({
      env: {
        ...dozenOssEnv(standIn, signature),
        DOZEN_STORAGE_MULTIPART_THRESHOLD: String(1024 * 1024),
        DOZEN_STORAGE_PART_SIZE: String(512 * 1024),
      },
    });
  });
  after(async () => {
    await dozen?.stop();
    await standIn?.close();
  });

  it('streams an upload into OSS (multipart above the threshold) and serves it back', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 'oss ');
    const put = await dozen.api('/storage/objects/media/video.bin', { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
    const body = await put.json();
    assert.equal(put.status, 201, JSON.stringify(body) + dozen.logs().slice(-2000));
    assert.equal(body.crc64, crc64Of(data));
    assert.equal(standIn.objects.get('media/video.bin')?.type, 'Multipart');
    const get = await dozen.api('/storage/objects/media/video.bin');
    assert.equal(get.headers.get('x-dozen-crc64ecma'), crc64Of(data));
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(data));
    const refused = await dozen.api('/storage/objects/media/video.bin', { method: 'PUT', body: 'x', headers: { 'if-none-match': '*' } });
    assert.equal(refused.status, 412);
    const listed = await (await dozen.api('/storage/objects?prefix=media/')).json();
    assert.deepEqual(listed.objects.map((object: { key: string; size: number }) => [object.key, object.size]), [['media/video.bin', data.length]]);
    const everything = await dozen.api('/storage/objects');
    assert.equal(everything.status, 200, await everything.clone().text());
    assert.ok((await everything.json()).objects.some((object: { key: string }) => object.key === 'media/video.bin'));
    assert.equal((await dozen.api('/storage/objects/media/video.bin', { method: 'DELETE' })).status, 204);
    assert.equal((await dozen.api('/storage/objects/media/video.bin', { method: 'HEAD' })).status, 404);
  });

  it('runs a resumable upload on OSS multipart', async () => {
    const start = await dozen.api('/storage/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'resumable/on-oss.bin' }) });
    const { uploadId } = await start.json();
    const one = Buffer.alloc(200 * 1024, 'a');
    const two = Buffer.alloc(1000, 'b');
    assert.equal((await dozen.api(`/storage/uploads/${uploadId}/parts/1`, { method: 'PUT', body: one })).status, 200);
    assert.equal((await dozen.api(`/storage/uploads/${uploadId}/parts/2`, { method: 'PUT', body: two })).status, 200);
    const described = await (await dozen.api(`/storage/uploads/${uploadId}`)).json();
    assert.deepEqual(described.parts.map((part: { partNumber: number; crc64: string }) => [part.partNumber, part.crc64]), [[1, crc64Of(one)], [2, crc64Of(two)]]);
    const complete = await dozen.api(`/storage/uploads/${uploadId}/complete`, { method: 'POST' });
    const info = await complete.json();
    assert.equal(complete.status, 201, JSON.stringify(info));
    assert.equal(info.crc64, crc64Of(Buffer.concat([one, two])));
    assert.ok(standIn.objects.get('resumable/on-oss.bin')?.data.equals(Buffer.concat([one, two])));
  });

  it('answers every one of concurrent PUTs of one key with its own CRC64 and ETag', async () => {
    // 1 MB each, under the 1 MiB threshold: one PutObject each, racing in the stand-in.
    const bodies = Array.from({ length: 4 }, () => randomBytes(1_000_000));
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const put = await dozen.api('/storage/objects/race/same-key.bin', { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
        return { status: put.status, body: await put.json() };
      }),
    );
    answers.forEach((answer, index) => {
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      assert.equal(answer.body.crc64, crc64Of(bodies[index]));
      assert.equal(answer.body.etag, `"${createHash('md5').update(bodies[index]).digest('hex').toUpperCase()}"`);
    });
    const left = standIn.objects.get('race/same-key.bin');
    assert.ok(left && bodies.some((body) => body.equals(left.data)), 'the object left is one of the bodies, whole');
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { crc64Of } from '../../src/storage/crc64.js';

const objectPath = (key: string) => '/storage/objects/' + key.split('/').map(encodeURIComponent).join('/');

describe('the storage REST API on the local store', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'storage' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('stores an uploaded body and serves it back with its size, CRC64, type and ETag', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 'dozen ');
    const put = await dozen.api(objectPath('reports/2026/q1.json'), { method: 'PUT', body: data, headers: { 'content-type': 'application/json' } });
    const stored = await put.json();
    assert.equal(put.status, 201, JSON.stringify(stored) + dozen.logs());
    assert.deepEqual(Object.keys(stored).sort(), ['crc64', 'crc64Confirmed', 'etag', 'key', 'size']);
    assert.equal(stored.key, 'reports/2026/q1.json');
    assert.equal(stored.size, data.length);
    assert.equal(stored.crc64, crc64Of(data));
    assert.equal(stored.crc64Confirmed, true);
    const get = await dozen.api(objectPath('reports/2026/q1.json'));
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-type'), 'application/json');
    assert.equal(get.headers.get('etag'), stored.etag);
    assert.equal(get.headers.get('x-dozen-crc64ecma'), stored.crc64);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(data));
    const head = await dozen.api(objectPath('reports/2026/q1.json'), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(data.length));
  });

  it('takes POST as well, and detects the content type from the name when none is sent', async () => {
    const post = await fetch(dozen.url + objectPath('site/index.html'), { method: 'POST', body: '<h1>hi</h1>', headers: { authorization: `Bearer ${dozen.token}`, 'content-type': '' } });
    assert.equal(post.status, 201, await post.clone().text());
    const head = await dozen.api(objectPath('site/index.html'), { method: 'HEAD' });
    assert.match(head.headers.get('content-type') ?? '', /^text\/html/);
  });

  it('refuses to overwrite with If-None-Match: * (412) and keeps the old bytes', async () => {
    assert.equal((await dozen.api(objectPath('once.txt'), { method: 'PUT', body: 'first', headers: { 'if-none-match': '*' } })).status, 201);
    const again = await dozen.api(objectPath('once.txt'), { method: 'PUT', body: 'second', headers: { 'if-none-match': '*' } });
    assert.equal(again.status, 412);
    assert.equal((await again.json()).error, 'precondition_failed');
    assert.equal(await (await dozen.api(objectPath('once.txt'))).text(), 'first');
  });

  it('checks Content-MD5: a mismatch is 400 and stores nothing, a match is stored', async () => {
    const wrong = createHash('md5').update('other').digest('base64');
    const bad = await dozen.api(objectPath('md5.txt'), { method: 'PUT', body: 'payload', headers: { 'content-md5': wrong } });
    const body = await bad.json();
    assert.equal(bad.status, 400);
    assert.equal(body.error, 'checksum_mismatch');
    assert.equal((await dozen.api(objectPath('md5.txt'), { method: 'HEAD' })).status, 404);
    const right = createHash('md5').update('payload').digest('base64');
    assert.equal((await dozen.api(objectPath('md5.txt'), { method: 'PUT', body: 'payload', headers: { 'content-md5': right } })).status, 201);
    const malformed = await dozen.api(objectPath('md5.txt'), { method: 'PUT', body: 'payload', headers: { 'content-md5': 'nope' } });
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).field, 'Content-MD5');
  });

  it('answers 400 naming the key for unsafe keys', async () => {
    for (const encoded of ['a%2F..%2F..%2Fetc%2Fpasswd', '..%2Fx', '%2Fabsolute', 'tab%09key', 'x'.repeat(1024)]) {
      const response = await dozen.api('/storage/objects/' + encoded, { method: 'PUT', body: 'x' });
      const body = await response.json();
      assert.equal(response.status, 400, encoded);
      assert.equal(body.field, 'key', encoded);
    }
    // Broken percent-encoding is refused by the HTTP layer before any handler runs.
    assert.equal((await dozen.api('/storage/objects/bad%ZZ', { method: 'PUT', body: 'x' })).status, 400);
    const get = await dozen.api('/storage/objects/..%2Fx');
    assert.equal(get.status, 400);
  });

  it('lists by prefix page by page, deletes, and 404s what is gone', async () => {
    for (const name of ['c', 'a', 'b']) assert.equal((await dozen.api(objectPath(`listing/${name}`), { method: 'PUT', body: name })).status, 201);
    const first = await (await dozen.api('/storage/objects?prefix=listing/&limit=2')).json();
    assert.deepEqual(first.objects.map((object: { key: string }) => object.key), ['listing/a', 'listing/b']);
    assert.equal(first.nextCursor, 'listing/b');
    const second = await (await dozen.api(`/storage/objects?prefix=listing/&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`)).json();
    assert.deepEqual(second.objects.map((object: { key: string }) => object.key), ['listing/c']);
    assert.equal(second.nextCursor, undefined);
    assert.equal((await dozen.api(objectPath('listing/a'), { method: 'DELETE' })).status, 204);
    const gone = await dozen.api(objectPath('listing/a'));
    assert.equal(gone.status, 404);
    assert.equal((await gone.json()).error, 'not_found');
  });

  it('stores an empty object', async () => {
    const put = await dozen.api('/storage/objects/empty.txt', { method: 'PUT', body: '' });
    const body = await put.json();
    assert.equal(put.status, 201, JSON.stringify(body));
    assert.deepEqual([body.size, body.crc64], [0, '0']);
    assert.equal(await (await dozen.api('/storage/objects/empty.txt')).text(), '');
  });

  it('needs the admin token', async () => {
    const response = await fetch(dozen.url + objectPath('x'), { method: 'PUT', body: 'x' });
    assert.equal(response.status, 401);
  });
});

describe('resumable uploads over REST', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  after(async () => {
    await dozen?.stop();
  });

  it('keeps parts across a restart of dozen, then joins them into the object', async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'storage' } });
    const partOne = Buffer.alloc(1024 * 1024, 'one ');
    const partTwo = Buffer.alloc(300_000, 'two ');
    const start = await dozen.api('/storage/uploads', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'big/file.bin', metadata: { source: 'test' } }),
    });
    const upload = await start.json();
    assert.equal(start.status, 201, JSON.stringify(upload));
    assert.match(upload.uploadId, /^[0-9a-f]{32}$/);
    const part = await dozen.api(`/storage/uploads/${upload.uploadId}/parts/1`, { method: 'PUT', body: partOne, headers: { 'content-type': 'application/json' } });
    const partBody = await part.json();
    assert.equal(part.status, 200, JSON.stringify(partBody));
    assert.deepEqual({ partNumber: partBody.partNumber, size: partBody.size, crc64: partBody.crc64 }, { partNumber: 1, size: partOne.length, crc64: crc64Of(partOne) });

    const dataDir = dozen.dataDir;
    await dozen.stop('SIGKILL');
    dozen = await startDozen({ env: { DOZEN_MODULES: 'storage' }, dataDir });

    const listed = await (await dozen.api('/storage/uploads?key=big/file.bin')).json();
    assert.deepEqual(listed.uploads.map((entry: { uploadId: string; metadata: unknown }) => [entry.uploadId, entry.metadata]), [[upload.uploadId, { source: 'test' }]]);
    const described = await (await dozen.api(`/storage/uploads/${upload.uploadId}`)).json();
    assert.deepEqual(described.parts.map((entry: { partNumber: number; size: number }) => [entry.partNumber, entry.size]), [[1, partOne.length]]);
    assert.equal((await dozen.api(`/storage/uploads/${upload.uploadId}/parts/2`, { method: 'PUT', body: partTwo })).status, 200);
    const complete = await dozen.api(`/storage/uploads/${upload.uploadId}/complete`, { method: 'POST' });
    const info = await complete.json();
    assert.equal(complete.status, 201, JSON.stringify(info));
    const whole = Buffer.concat([partOne, partTwo]);
    assert.equal(info.size, whole.length);
    assert.equal(info.crc64, crc64Of(whole));
    assert.ok(Buffer.from(await (await dozen.api(objectPath('big/file.bin'))).arrayBuffer()).equals(whole));
    assert.equal((await dozen.api(`/storage/uploads/${upload.uploadId}`)).status, 404);
  });

  it('aborts an upload and rejects bad part numbers', async () => {
    const start = await dozen.api('/storage/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'aborted.bin' }) });
    const { uploadId } = await start.json();
    const zero = await dozen.api(`/storage/uploads/${uploadId}/parts/0`, { method: 'PUT', body: 'x' });
    assert.equal(zero.status, 400);
    assert.equal((await zero.json()).field, 'partNumber');
    assert.equal((await dozen.api(`/storage/uploads/${uploadId}`, { method: 'DELETE' })).status, 204);
    const gone = await dozen.api(`/storage/uploads/${uploadId}/parts/1`, { method: 'PUT', body: 'x' });
    assert.equal(gone.status, 404);
    const badKey = await dozen.api('/storage/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: '../x' }) });
    assert.equal(badKey.status, 400);
    assert.equal((await badKey.json()).field, 'key');
    const badPartSize = await dozen.api('/storage/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'x.bin', partSize: 0 }) });
    assert.equal(badPartSize.status, 400);
    assert.equal((await badPartSize.json()).field, 'partSize');
  });
});

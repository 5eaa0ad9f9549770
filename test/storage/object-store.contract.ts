import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { crc64Of } from '../../src/storage/crc64.js';
import { PositionMismatch, type ObjectStore } from '../../src/storage/object-store.js';

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The order OSS lists keys in: UTF-8 bytes of the whole key. */
function byteOrder(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}

/** Every key under `prefix`, page by page from `cursor`; fails on a page of the wrong size (a short page before the last, an empty last one). */
async function listAll(store: ObjectStore, prefix: string, limit: number, cursor?: string): Promise<string[]> {
  const keys: string[] = [];
  for (let pages = 0; pages < 100; pages++) {
    const page = await store.list(prefix, { cursor, limit });
    keys.push(...page.objects.map((object) => object.key));
    cursor = page.nextCursor;
    if (!cursor) {
      assert.ok(page.objects.length > 0 || pages === 0, `an empty last page listing ${JSON.stringify(prefix)} by ${limit}`);
      return keys;
    }
    assert.equal(page.objects.length, limit, `a short page before the last listing ${JSON.stringify(prefix)} by ${limit}`);
  }
  throw new Error(`listing ${JSON.stringify(prefix)} by ${limit} did not end`);
}

/**
 * Keys whose order by whole-key bytes differs from a per-folder sort by name: the folder `a/` sorts by
 * its '/' (0x2F), after 'a-b' (0x2D) and 'a.b' (0x2E) but before 'a0' (0x30); deep keys; multi-byte UTF-8.
 */
const TRICKY_KEYS = [
  'order/a b', 'order/a!x', 'order/a-b', 'order/a.b', 'order/a/1', 'order/a/b-c', 'order/a/b/c-d', 'order/a/b/c/d/e/f',
  'order/a/b/c/d/e/g', 'order/a/b/c/d0', 'order/a/b.c', 'order/a0', 'order/a~', 'order/aé', 'order/a\uff01', 'order/a\u{1f600}', 'order/Z', 'order/b',
];

function randomBytes(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size);
  let state = seed;
  for (let index = 0; index < size; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    buffer[index] = state >>> 24;
  }
  return buffer;
}

/** The behaviour every ObjectStore adapter must have; run once per adapter. */
export function objectStoreContract(name: string, open: () => Promise<{ store: ObjectStore; close(): Promise<void> }>): void {
  describe(`object store contract: ${name}`, { timeout: 60_000 }, () => {
    let store: ObjectStore;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await open());
    });
    after(async () => close?.());

    it('stores a streamed body and gives it back byte for byte with size, CRC64 and content type', async () => {
      const data = randomBytes(300_000, 1);
      const info = await store.put('contract/one.bin', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { contentType: 'application/x-test' });
      assert.equal(info.size, data.length);
      assert.equal(info.crc64, crc64Of(data));
      const head = await store.head('contract/one.bin');
      assert.equal(head?.size, data.length);
      assert.equal(head?.crc64, crc64Of(data));
      assert.equal(head?.contentType, 'application/x-test');
      const { info: got, body } = await store.get('contract/one.bin');
      assert.equal(got.size, data.length);
      assert.ok((await readAll(body)).equals(data));
    });

    it('guesses the content type from the key when none is given', async () => {
      const info = await store.put('contract/page.html', Readable.from([Buffer.from('<p>hi</p>')]));
      assert.match(info.contentType, /^text\/html/);
    });

    it('replaces an object, and refuses to with ifNoneMatch', async () => {
      await store.put('contract/replace.txt', Readable.from([Buffer.from('first')]));
      await store.put('contract/replace.txt', Readable.from([Buffer.from('second')]));
      assert.equal((await readAll((await store.get('contract/replace.txt')).body)).toString(), 'second');
      await assert.rejects(store.put('contract/replace.txt', Readable.from([Buffer.from('third')]), { ifNoneMatch: true }), { status: 412 });
      assert.equal((await readAll((await store.get('contract/replace.txt')).body)).toString(), 'second');
    });

    it('stores nothing when the MD5 does not match', async () => {
      const wrong = createHash('md5').update('something else').digest('base64');
      await assert.rejects(store.put('contract/md5.txt', Readable.from([Buffer.from('payload')]), { md5: wrong }), { status: 400, error: 'checksum_mismatch' });
      assert.equal(await store.head('contract/md5.txt'), null);
      const right = createHash('md5').update('payload').digest('base64');
      assert.equal((await store.put('contract/md5.txt', Readable.from([Buffer.from('payload')]), { md5: right })).size, 7);
    });

    it('answers null / not found / nothing for a missing object', async () => {
      assert.equal(await store.head('contract/missing'), null);
      await assert.rejects(store.get('contract/missing'), { status: 404 });
      await store.delete('contract/missing');
    });

    it("deletes nothing, without an error, for a missing key under an object's name", async () => {
      await store.put('contract/a-file.txt', Readable.from([Buffer.from('kept')]));
      assert.equal(await store.head('contract/a-file.txt/under'), null);
      await store.delete('contract/a-file.txt/under');
      assert.equal((await store.head('contract/a-file.txt'))?.size, 4);
    });

    it('appends at the right position only, and reports the real length otherwise', async () => {
      const first = await store.append('contract/log.txt', 0, Buffer.from('line 1\n'));
      assert.equal(first.nextPosition, 7);
      const second = await store.append('contract/log.txt', 7, Buffer.from('line 2\n'));
      assert.equal(second.nextPosition, 14);
      assert.equal(second.crc64, crc64Of(Buffer.from('line 1\nline 2\n')));
      // A retry of the second append: refused, and the object is unchanged.
      const retry = await store.append('contract/log.txt', 7, Buffer.from('line 2\n')).then(() => null, (error: unknown) => error);
      assert.ok(retry instanceof PositionMismatch, String(retry));
      assert.equal(retry.length, 14);
      assert.equal((await readAll((await store.get('contract/log.txt')).body)).toString(), 'line 1\nline 2\n');
      assert.equal((await store.head('contract/log.txt'))?.crc64, crc64Of(Buffer.from('line 1\nline 2\n')));
    });

    it('lists by prefix in key order, page by page', async () => {
      for (const key of ['list/b', 'list/a/1', 'list/a-2', 'list/c', 'listing-other']) await store.put(key, Readable.from([Buffer.from(key)]));
      const keys: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list('list/', { cursor, limit: 2 });
        keys.push(...page.objects.map((object) => object.key));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      assert.deepEqual(keys, ['list/a-2', 'list/a/1', 'list/b', 'list/c']);
      assert.equal(pages, 2);
      const all = await store.list('list/a');
      assert.deepEqual(all.objects.map((object) => object.key), ['list/a-2', 'list/a/1']);
      assert.equal(all.objects[0].size, 'list/a-2'.length);
    });

    it('lists the whole store with an empty prefix, in byte order, without repeats', async () => {
      await store.put('zz-everything/last', Readable.from([Buffer.from('z')]));
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list('', { cursor, limit: 3 });
        keys.push(...page.objects.map((object) => object.key));
        cursor = page.nextCursor;
      } while (cursor && keys.length < 1000);
      assert.ok(keys.includes('zz-everything/last') && keys.includes('list/a/1'), keys.join(' '));
      assert.deepEqual(keys, [...new Set(keys)].sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right))));
    });

    it('lists keys in whole-key byte order across folders, whatever the page size and prefix', async () => {
      for (const key of TRICKY_KEYS) await store.put(key, Readable.from([Buffer.from(key)]));
      const expected = [...TRICKY_KEYS].sort(byteOrder);
      // Page boundaries fall before, inside and after the deep folder.
      for (const limit of [1, 2, 3, 4, 5, 7, 1000]) assert.deepEqual(await listAll(store, 'order/', limit), expected, `by ${limit}`);
      for (const prefix of ['order/a', 'order/a/', 'order/a/b', 'order/a/b/c/', 'order/a-', 'order/a/b/c/d/e/f', 'order/ä', 'order/aé']) {
        assert.deepEqual(await listAll(store, prefix, 2), expected.filter((key) => key.startsWith(prefix)), prefix);
      }
    });

    it('goes on after a cursor whose key was deleted since', async () => {
      for (const key of TRICKY_KEYS) await store.put(key, Readable.from([Buffer.from(key)]));
      const expected = [...TRICKY_KEYS].sort(byteOrder);
      for (const size of [5, 7]) {
        const first = await store.list('order/', { limit: size });
        const last = first.objects[first.objects.length - 1].key;
        await store.delete(last);
        assert.deepEqual(await listAll(store, 'order/', 2, first.nextCursor), expected.slice(size), `after ${last}`);
        await store.put(last, Readable.from([Buffer.from(last)]));
      }
    });

    it('refuses a listing prefix that breaks the key rules with 400 naming the prefix, never a name it found', async () => {
      await store.put('list/inside', Readable.from([Buffer.from('x')]));
      for (const prefix of ['list/../../../../../../etc/sh', 'list/../', '../', '/etc/', 'list//', 'tab\tprefix']) {
        const refused = await store.list(prefix).then(() => null, (error: { status?: number; field?: string; message?: string }) => error);
        assert.equal(refused?.status, 400, prefix);
        assert.equal(refused?.field, 'prefix', prefix);
        assert.doesNotMatch(refused?.message ?? '', /shadow|passwd/, prefix);
      }
      assert.deepEqual((await store.list('list/ins')).objects.map((object) => object.key), ['list/inside']);
    });

    it('refuses a content type that is no media type, before storing anything', async () => {
      for (const contentType of ['text/html\r\nX-Injected: 1', 'html', 'text/html, text/plain']) {
        await assert.rejects(store.put('contract/typed.txt', Readable.from([Buffer.from('x')]), { contentType }), { status: 400, field: 'contentType' }, contentType);
        await assert.rejects(store.append('contract/typed.log', 0, Buffer.from('x'), { contentType }), { status: 400, field: 'contentType' }, contentType);
        await assert.rejects(store.createMultipart('contract/typed.bin', { contentType }), { status: 400, field: 'contentType' }, contentType);
      }
      assert.equal(await store.head('contract/typed.txt'), null);
      assert.equal(await store.head('contract/typed.log'), null);
    });

    it('keeps keys with spaces, plus signs and punctuation as they are', async () => {
      const key = "contract/odd names/a b+c=d&e*(1)!~'%20.txt";
      await store.put(key, Readable.from([Buffer.from('odd')]));
      assert.equal((await store.head(key))?.size, 3);
      assert.equal((await readAll((await store.get(key)).body)).toString(), 'odd');
      assert.deepEqual((await store.list('contract/odd names/')).objects.map((object) => object.key), [key]);
      await store.delete(key);
      assert.equal(await store.head(key), null);
    });

    it('deletes an object', async () => {
      await store.put('contract/delete-me', Readable.from([Buffer.from('x')]));
      await store.delete('contract/delete-me');
      assert.equal(await store.head('contract/delete-me'), null);
    });

    it('joins multipart parts in order, lists parts, and replaces a re-sent part', async () => {
      const partOne = randomBytes(200_000, 2);
      const partTwo = randomBytes(150_000, 3);
      const uploadId = await store.createMultipart('contract/multi.bin', { contentType: 'application/x-multi' });
      await store.putPart('contract/multi.bin', uploadId, 2, Readable.from([partTwo]), partTwo.length);
      await store.putPart('contract/multi.bin', uploadId, 1, Readable.from([randomBytes(200_000, 9)]), 200_000);
      await store.putPart('contract/multi.bin', uploadId, 1, Readable.from([partOne]), partOne.length);
      const parts = await store.listParts('contract/multi.bin', uploadId);
      assert.deepEqual(parts.map((part) => [part.partNumber, part.size]), [[1, 200_000], [2, 150_000]]);
      assert.equal(parts[0].crc64, crc64Of(partOne));
      const whole = Buffer.concat([partOne, partTwo]);
      const info = await store.completeMultipart('contract/multi.bin', uploadId);
      assert.equal(info.size, whole.length);
      assert.equal(info.crc64, crc64Of(whole));
      assert.ok((await readAll((await store.get('contract/multi.bin')).body)).equals(whole));
      await assert.rejects(store.listParts('contract/multi.bin', uploadId), { status: 404 });
    });

    it('refuses to join a part under 100 KB that is not the last one, and keeps the upload', async () => {
      const uploadId = await store.createMultipart('contract/small-part.bin');
      await store.putPart('contract/small-part.bin', uploadId, 1, Readable.from([Buffer.alloc(1000, 'a')]), 1000);
      await store.putPart('contract/small-part.bin', uploadId, 2, Readable.from([Buffer.alloc(1000, 'b')]), 1000);
      await assert.rejects(store.completeMultipart('contract/small-part.bin', uploadId), { status: 400, error: 'part_too_small' });
      assert.equal(await store.head('contract/small-part.bin'), null);
      await store.putPart('contract/small-part.bin', uploadId, 1, Readable.from([Buffer.alloc(100 * 1024, 'a')]), 100 * 1024);
      assert.equal((await store.completeMultipart('contract/small-part.bin', uploadId)).size, 100 * 1024 + 1000);
    });

    it('joins the parts of an upload started with a part size, sent out of order, the last one re-sent shorter', async () => {
      const partSize = 200_000;
      const parts = [randomBytes(partSize, 11), randomBytes(partSize, 12), randomBytes(50_000, 13)];
      const uploadId = await store.createMultipart('contract/sized.bin', { partSize });
      await store.putPart('contract/sized.bin', uploadId, 3, Readable.from([parts[2]]), parts[2].length);
      await store.putPart('contract/sized.bin', uploadId, 2, Readable.from([parts[1].subarray(0, 1000), parts[1].subarray(1000)]), partSize);
      await store.putPart('contract/sized.bin', uploadId, 1, Readable.from([parts[0]]), partSize);
      parts[2] = parts[2].subarray(0, 30_000);
      await store.putPart('contract/sized.bin', uploadId, 3, Readable.from([parts[2]]), parts[2].length);
      assert.deepEqual((await store.listParts('contract/sized.bin', uploadId)).map((part) => [part.partNumber, part.size, part.crc64]), parts.map((part, index) => [index + 1, part.length, crc64Of(part)]));
      const whole = Buffer.concat(parts);
      const info = await store.completeMultipart('contract/sized.bin', uploadId);
      assert.deepEqual([info.size, info.crc64], [whole.length, crc64Of(whole)]);
      assert.ok((await readAll((await store.get('contract/sized.bin')).body)).equals(whole));
      await assert.rejects(store.listParts('contract/sized.bin', uploadId), { status: 404 });
    });

    it('keeps an upload completable after If-None-Match refused to complete it', async () => {
      await store.put('contract/taken.bin', Readable.from([Buffer.from('first')]));
      const data = randomBytes(150_000, 14);
      const uploadId = await store.createMultipart('contract/taken.bin', { partSize: 200_000 });
      await store.putPart('contract/taken.bin', uploadId, 1, Readable.from([data]), data.length);
      await assert.rejects(store.completeMultipart('contract/taken.bin', uploadId, { ifNoneMatch: true }), { status: 412 });
      assert.equal((await readAll((await store.get('contract/taken.bin')).body)).toString(), 'first');
      assert.equal((await store.completeMultipart('contract/taken.bin', uploadId)).crc64, crc64Of(data));
      assert.ok((await readAll((await store.get('contract/taken.bin')).body)).equals(data));
    });

    it('drops an aborted multipart upload', async () => {
      const uploadId = await store.createMultipart('contract/aborted.bin');
      await store.putPart('contract/aborted.bin', uploadId, 1, Readable.from([Buffer.from('part')]), 4);
      await store.abortMultipart('contract/aborted.bin', uploadId);
      await assert.rejects(store.listParts('contract/aborted.bin', uploadId), { status: 404 });
      assert.equal(await store.head('contract/aborted.bin'), null);
    });

    it('refuses unsafe keys with 400 before touching the store', async () => {
      for (const key of ['../escape', 'a/../../b', '/absolute', 'tab\there', 'nul\u0000', 'x'.repeat(1024), 'é'.repeat(512)]) {
        await assert.rejects(store.put(key, Readable.from([Buffer.from('x')])), { status: 400, error: 'bad_key' }, key);
        await assert.rejects(store.head(key), { status: 400 }, key);
      }
      const longest = 'ok/' + Array.from({ length: 4 }, () => 'é'.repeat(120)).join('/');
      assert.ok(await store.put(longest, Readable.from([Buffer.from('x')])));
    });
  });
}

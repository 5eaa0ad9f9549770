import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { crc64Of } from '../../src/storage/crc64.js';
import { LocalObjectStore } from '../../src/storage/local.object-store.js';
import { objectStoreContract } from './object-store.contract.js';

objectStoreContract('local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dozen-objects-'));
  return {
    store: new LocalObjectStore(root),
    close: async () => {
      // Every write went through tmp and was renamed or removed: nothing may be left there.
      const leftovers = await readdir(join(root, 'tmp')).catch(() => []);
      await rm(root, { recursive: true, force: true });
      if (leftovers.length) throw new Error(`temp files left behind: ${leftovers.join(', ')}`);
    },
  };
});

describe('local store: parts written in place', () => {
  let root: string;
  let store: LocalObjectStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dozen-objects-'));
    store = new LocalObjectStore(root);
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('writes the bytes once: the object file is the one the parts were written into', async () => {
    const uploadId = await store.createMultipart('inplace/once.bin', { partSize: 1000 });
    const object = join(root, 'multipart', uploadId, 'object');
    const { ino } = await stat(object);
    await store.putPart('inplace/once.bin', uploadId, 1, Readable.from([Buffer.alloc(1000, 'a')]), 1000);
    await store.putPart('inplace/once.bin', uploadId, 2, Readable.from([Buffer.alloc(10, 'b')]), 10);
    await store.completeMultipart('inplace/once.bin', uploadId);
    assert.equal((await stat(join(root, 'data/inplace/once.bin'))).ino, ino);
    assert.deepEqual(await readdir(join(root, 'multipart')), []);
  });

  it('refuses a part longer than the part size, before it could overwrite the next one', async () => {
    const uploadId = await store.createMultipart('inplace/long.bin', { partSize: 1000 });
    await store.putPart('inplace/long.bin', uploadId, 2, Readable.from([Buffer.alloc(1000, 'b')]), 1000);
    await assert.rejects(store.putPart('inplace/long.bin', uploadId, 1, Readable.from([Buffer.alloc(1001, 'a')]), 1001), { status: 400, field: 'partSize' });
    // Without a length up front (a chunked body) it stops at the part size.
    await assert.rejects(store.putPart('inplace/long.bin', uploadId, 1, Readable.from([Buffer.alloc(600, 'a'), Buffer.alloc(600, 'a')])), { status: 400 });
    assert.deepEqual((await store.listParts('inplace/long.bin', uploadId)).map((part) => [part.partNumber, part.crc64]), [[2, crc64Of(Buffer.alloc(1000, 'b'))]]);
  });

  it('does not complete with a part missing or a short part before the last', async () => {
    const gap = await store.createMultipart('inplace/gap.bin', { partSize: 1000 });
    await store.putPart('inplace/gap.bin', gap, 1, Readable.from([Buffer.alloc(1000)]), 1000);
    await store.putPart('inplace/gap.bin', gap, 3, Readable.from([Buffer.alloc(5)]), 5);
    await assert.rejects(store.completeMultipart('inplace/gap.bin', gap), { status: 400, message: /part 2 is missing/ });
    const short = await store.createMultipart('inplace/short.bin', { partSize: 1000 });
    await store.putPart('inplace/short.bin', short, 1, Readable.from([Buffer.alloc(999)]), 999);
    await store.putPart('inplace/short.bin', short, 2, Readable.from([Buffer.alloc(5)]), 5);
    await assert.rejects(store.completeMultipart('inplace/short.bin', short), { status: 400, message: /part 1 has 999 bytes/ });
    assert.equal(await store.head('inplace/short.bin'), null);
  });

  it('unlists a stored part while it is sent again, so a send cut short leaves it unlisted', async () => {
    const uploadId = await store.createMultipart('inplace/cut.bin', { partSize: 1000 });
    await store.putPart('inplace/cut.bin', uploadId, 1, Readable.from([Buffer.alloc(1000, 'a')]), 1000);
    let sent = 0;
    const cut = new Readable({
      read() {
        if (sent++) this.destroy(new Error('connection reset'));
        else this.push(Buffer.alloc(400, 'x'));
      },
    });
    await assert.rejects(store.putPart('inplace/cut.bin', uploadId, 1, cut, 1000), /connection reset/);
    assert.deepEqual(await store.listParts('inplace/cut.bin', uploadId), []);
  });
});

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { crc64Of } from '../../src/storage/crc64.js';
import { LocalObjectStore } from '../../src/storage/local.object-store.js';
import { MIN_PART_SIZE } from '../../src/storage/object-store.js';
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

/** Parts but the last must be 100 KB at least (OSS's rule, kept by the local store). */
const PART = MIN_PART_SIZE;

describe('local store: parts written in place', () => {
  let root: string;
  let store: LocalObjectStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dozen-objects-'));
    store = new LocalObjectStore(root);
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('writes the bytes once: the object file is the one the parts were written into', async () => {
    const uploadId = await store.createMultipart('inplace/once.bin', { partSize: PART });
    const object = join(root, 'multipart', uploadId, 'object');
    const { ino } = await stat(object);
    await store.putPart('inplace/once.bin', uploadId, 1, Readable.from([Buffer.alloc(PART, 'a')]), PART);
    await store.putPart('inplace/once.bin', uploadId, 2, Readable.from([Buffer.alloc(10, 'b')]), 10);
    await store.completeMultipart('inplace/once.bin', uploadId);
    assert.equal((await stat(join(root, 'data/inplace/once.bin'))).ino, ino);
    assert.deepEqual(await readdir(join(root, 'multipart')), []);
  });

  it('refuses a part longer than the part size, before it could overwrite the next one', async () => {
    const uploadId = await store.createMultipart('inplace/long.bin', { partSize: PART });
    await store.putPart('inplace/long.bin', uploadId, 2, Readable.from([Buffer.alloc(PART, 'b')]), PART);
    await assert.rejects(store.putPart('inplace/long.bin', uploadId, 1, Readable.from([Buffer.alloc(PART + 1, 'a')]), PART + 1), { status: 400, field: 'partSize' });
    // Without a length up front (a chunked body) it stops at the part size.
    await assert.rejects(store.putPart('inplace/long.bin', uploadId, 1, Readable.from([Buffer.alloc(PART * 0.6, 'a'), Buffer.alloc(PART * 0.6, 'a')])), { status: 400 });
    assert.deepEqual((await store.listParts('inplace/long.bin', uploadId)).map((part) => [part.partNumber, part.crc64]), [[2, crc64Of(Buffer.alloc(PART, 'b'))]]);
  });

  it('does not complete with a part missing or a short part before the last', async () => {
    const gap = await store.createMultipart('inplace/gap.bin', { partSize: PART });
    await store.putPart('inplace/gap.bin', gap, 1, Readable.from([Buffer.alloc(PART)]), PART);
    await store.putPart('inplace/gap.bin', gap, 3, Readable.from([Buffer.alloc(5)]), 5);
    await assert.rejects(store.completeMultipart('inplace/gap.bin', gap), { status: 400, message: /part 2 is missing/ });
    const short = await store.createMultipart('inplace/short.bin', { partSize: PART });
    await store.putPart('inplace/short.bin', short, 1, Readable.from([Buffer.alloc(PART - 1)]), PART - 1);
    await store.putPart('inplace/short.bin', short, 2, Readable.from([Buffer.alloc(5)]), 5);
    await assert.rejects(store.completeMultipart('inplace/short.bin', short), { status: 400, message: new RegExp(`part 1 has ${PART - 1} bytes`) });
    assert.equal(await store.head('inplace/short.bin'), null);
  });

  it('unlists a stored part while it is sent again, so a send cut short leaves it unlisted', async () => {
    const uploadId = await store.createMultipart('inplace/cut.bin', { partSize: PART });
    await store.putPart('inplace/cut.bin', uploadId, 1, Readable.from([Buffer.alloc(PART, 'a')]), PART);
    let sent = 0;
    const cut = new Readable({
      read() {
        if (sent++) this.destroy(new Error('connection reset'));
        else this.push(Buffer.alloc(400, 'x'));
      },
    });
    await assert.rejects(store.putPart('inplace/cut.bin', uploadId, 1, cut, PART), /connection reset/);
    assert.deepEqual(await store.listParts('inplace/cut.bin', uploadId), []);
  });
});

describe('local store: listings stay in the data folder', () => {
  let root: string;
  let store: LocalObjectStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dozen-objects-'));
    store = new LocalObjectStore(root);
    await store.put('logs/app1/a.log', Readable.from([Buffer.from('a')]));
    // Beside the objects, not one of them: what a walk that escaped would find.
    await writeFile(join(root, 'canary-outside.txt'), 'not an object');
    await mkdir(join(root, 'elsewhere'));
    await writeFile(join(root, 'elsewhere', 'canary-linked.txt'), 'not an object');
    await symlink(join(root, 'elsewhere'), join(root, 'data', 'logs', 'app1', 'link'));
    await symlink(join(root, 'canary-outside.txt'), join(root, 'data', 'logs', 'app1', 'file-link'));
    // Put there by hand: a name no key can have.
    await writeFile(join(root, 'data', 'logs', 'app1', 'back\\slash'), 'x');
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('refuses a prefix that climbs out, without naming what is there', async () => {
    for (const prefix of ['logs/app1/../../../canary', 'logs/app1/../../..', 'logs/app1/../../../elsewhere/']) {
      await assert.rejects(store.list(prefix), (error: { status: number; field: string; message: string }) => {
        assert.equal(error.status, 400);
        assert.equal(error.field, 'prefix');
        assert.doesNotMatch(error.message, /canary-(outside|linked)/);
        return true;
      });
    }
  });

  it('neither follows nor lists symbolic links, and skips names that are no key', async () => {
    assert.deepEqual((await store.list('')).objects.map((object) => object.key), ['logs/app1/a.log']);
    assert.deepEqual((await store.list('logs/app1/')).objects.map((object) => object.key), ['logs/app1/a.log']);
    assert.deepEqual((await store.list('logs/app1/link/')).objects, []);
  });
});

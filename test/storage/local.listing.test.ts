import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { keysAfter, SortedFolders } from '../../src/storage/local.listing.js';
import { LocalObjectStore } from '../../src/storage/local.object-store.js';
import { isSafeKey } from '../../src/storage/object-store.js';
import { waitFor } from '../support/ports.js';

/** The order OSS lists keys in: UTF-8 bytes of the whole key. */
function byteOrder(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}

/** The first `count` keys a walk gives (the walk is then stopped, as a page stops it). */
async function firstKeys(keys: AsyncGenerator<string>, count: number): Promise<string[]> {
  const taken: string[] = [];
  for await (const key of keys) if (taken.push(key) >= count) break;
  return taken;
}

/** Waits until nothing changed in the folder at `path` for `ms`, so its names may be kept. */
async function settled(path: string, ms: number): Promise<void> {
  await waitFor(`${path} unchanged for ${ms} ms`, async () => Date.now() - (await stat(path)).ctimeMs > ms, 10_000, 20);
}

describe('local store: a page starts anywhere and keeps OSS key order', () => {
  let root: string;
  let store: LocalObjectStore;
  const keys: string[] = [];
  // Characters around '/' (0x2F) in byte order, and ones whose UTF-16 order differs from their UTF-8 order.
  const characters = ['a', 'b', ' ', '-', '.', '0', '~', 'é', '\uff01', '\u{1f600}'];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dozen-objects-'));
    store = new LocalObjectStore(root);
    let state = 7;
    // xorshift32: a fixed sequence, so a failure repeats.
    const random = (below: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % below;
    };
    const segment = () => Array.from({ length: 1 + random(2) }, () => characters[random(characters.length)]).join('');
    while (keys.length < 120) {
      const key = 'fuzz/' + Array.from({ length: 1 + random(4) }, segment).join('/');
      // The local store cannot keep a key that is another's folder; OSS could, but that is not what this is about.
      if (!isSafeKey(key) || keys.some((other) => other === key || other.startsWith(key + '/') || key.startsWith(other + '/'))) continue;
      keys.push(key);
      await store.put(key, Readable.from([Buffer.from(key)]));
    }
    keys.sort(byteOrder);
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('lists after any cursor (a key, a folder, a name between keys, one past the end) as a full sort would', async () => {
    // Windows of 7 names, kept at once (nothing changes here): a page runs across windows, read and kept.
    const windows = new SortedFolders({ window: 7, keptFrom: 1, settledMs: 0 });
    const folders = [...new Set(keys.flatMap((key) => key.split('/').slice(1, -1).map((_, index, parts) => 'fuzz/' + parts.slice(0, index + 1).join('/') + '/')))];
    const cursors = ['', 'a', 'fuzz', 'fuzz/', 'fuzz0', 'fuzz/\u{10ffff}', ...folders.filter((_, index) => index % 3 === 0), ...keys.filter((_, index) => index % 6 === 0), ...keys.filter((_, index) => index % 12 === 1).flatMap((key) => [key + ' ', key + '/', key.slice(0, -1), key + '\uffff'])];
    const prefixes = ['', 'fuzz/', 'fuzz/a', 'fuzz/é', ...folders.filter((_, index) => index % 12 === 0), ...folders.filter((_, index) => index % 12 === 1).map((folder) => folder + 'a')];
    assert.ok(cursors.length > 50 && prefixes.length > 8, `${cursors.length} cursors, ${prefixes.length} prefixes`);
    for (const prefix of prefixes) {
      const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      for (const cursor of cursors) {
        const expected = keys.filter((key) => key.startsWith(prefix) && byteOrder(key, cursor) > 0);
        const page = await store.list(prefix, { cursor, limit: 3 });
        const shown = `prefix ${JSON.stringify(prefix)} cursor ${JSON.stringify(cursor)}`;
        assert.deepEqual(page.objects.map((object) => object.key), expected.slice(0, 3), shown);
        assert.equal(page.nextCursor, expected.length > 3 ? expected[2] : undefined, shown);
        assert.deepEqual(await firstKeys(keysAfter(windows, join(root, 'data', folder), folder, prefix, cursor), 10), expected.slice(0, 10), `${shown}, in windows`);
      }
    }
    assert.deepEqual(await firstKeys(keysAfter(windows, join(root, 'data'), '', '', ''), 1000), keys, 'everything, in windows');
  });

  it('pages through everything in byte order, whatever the page size', async () => {
    for (const limit of [1, 2, 7, 1000]) {
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list('fuzz/', { cursor, limit });
        listed.push(...page.objects.map((object) => object.key));
        cursor = page.nextCursor;
      } while (cursor && listed.length <= keys.length);
      assert.deepEqual(listed, keys, `by ${limit}`);
    }
  });
});

describe('local store: a wide folder read once for many pages', () => {
  let root: string;
  let store: LocalObjectStore;
  const names = Array.from({ length: 1500 }, (_, index) => `k${String(index).padStart(4, '0')}`);
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dozen-objects-'));
    store = new LocalObjectStore(root);
    // Put there without the store, for speed: the store makes their metadata when it first sees them.
    for (const folder of ['wide', 'kept']) {
      await mkdir(join(root, 'data', folder), { recursive: true });
      for (const name of names) await writeFile(join(root, 'data', folder, name), name);
    }
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('keeps the names of a folder that did not change, and reads them again when it did', async () => {
    const path = join(root, 'data', 'kept');
    const fresh = new SortedFolders({ window: 1000, keptFrom: 10, settledMs: 60_000 });
    assert.notEqual((await fresh.from(path, ''))?.names, (await fresh.from(path, ''))?.names, 'kept though changed within settledMs');
    await settled(path, 100);
    const folders = new SortedFolders({ window: 1000, keptFrom: 10, settledMs: 100 });
    const first = await folders.from(path, 'k0100');
    assert.equal((await folders.from(path, 'k0500'))?.names, first?.names, 'not kept');
    assert.deepEqual(first?.names.slice(0, 2), ['k0100', 'k0101']);
    assert.equal(first?.complete, false);
    await writeFile(join(path, 'k0100a'), 'new');
    const again = await folders.from(path, 'k0100');
    assert.notEqual(again?.names, first?.names, 'kept though the folder changed');
    assert.deepEqual(again?.names.slice(0, 2), ['k0100', 'k0100a']);
  });

  it('a page shows what was stored and deleted since the page before', async () => {
    await settled(join(root, 'data', 'wide'), 2000);
    const first = await store.list('wide/', { limit: 1000 });
    assert.equal(first.nextCursor, 'wide/k0999');
    await store.put('wide/k0999a', Readable.from([Buffer.from('new')]));
    await store.delete('wide/k1001');
    const second = await store.list('wide/', { cursor: first.nextCursor, limit: 1000 });
    const expected = ['wide/k0999a', ...names.slice(1000).map((name) => `wide/${name}`).filter((key) => key !== 'wide/k1001')];
    assert.deepEqual(second.objects.map((object) => object.key), expected);
    assert.equal(second.nextCursor, undefined);
  });
});

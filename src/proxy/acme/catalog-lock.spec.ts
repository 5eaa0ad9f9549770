import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmbeddedCatalog } from '../../registry/embedded.catalog.js';
import { CatalogLock } from './catalog-lock.js';

async function catalog(): Promise<EmbeddedCatalog> {
  const noStore = { load: async () => ({ instances: [], kv: [] }), saveInstance: async () => {}, saveHealth: async () => {}, deleteInstance: async () => {}, putKv: async () => {}, deleteKv: async () => {} };
  return EmbeddedCatalog.open(noStore);
}

describe('the ACME lock in the catalog', () => {
  it('one holder at a time; free again once released', async () => {
    const store = await catalog();
    const a = new CatalogLock(store, 'dozen/acme/lock', 'host-a', 60_000);
    const b = new CatalogLock(store, 'dozen/acme/lock', 'host-b', 60_000);
    const [first, second] = await Promise.all([a.tryAcquire(), b.tryAcquire()]);
    assert.equal([first, second].filter(Boolean).length, 1);
    assert.match((await a.holder())!, first ? /^host-a\// : /^host-b\//);
    await (first ?? second)!.release();
    assert.equal(await a.holder(), null);
    assert.ok(await b.tryAcquire());
    await store.close();
  });

  it('a dead holder blocks only until its lock expires; its late release does not free the new holder', async () => {
    const store = await catalog();
    let now = 1_000_000;
    const dead = await new CatalogLock(store, 'lock', 'host-a', 10_000, () => now).tryAcquire();
    assert.ok(dead);
    const other = new CatalogLock(store, 'lock', 'host-b', 10_000, () => now);
    assert.equal(await other.tryAcquire(), null);
    now += 10_001;
    const taken = await other.tryAcquire();
    assert.ok(taken, 'taken over after expiry');
    await dead.release();
    assert.match((await other.holder())!, /^host-b\//, 'the old holder cannot release the new one');
    await store.close();
  });
});

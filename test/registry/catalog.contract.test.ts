/**
 * One contract for the Catalog port, run against both adapters: the embedded
 * catalog on a real SQLite database (dozen's migrations), and the consul
 * adapter speaking HTTP to the Consul API stand-in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import type { Catalog, CatalogInstance, InstanceRegistration, KvEntry } from '../../src/registry/catalog.js';
import { ConsulCatalog } from '../../src/registry/consul.catalog.js';
import { EmbeddedCatalog } from '../../src/registry/embedded.catalog.js';
import { DatabaseEmbeddedStore } from '../../src/registry/embedded.store.js';
import { RegistryInstanceEntity, RegistryKvEntity } from '../../src/registry/registry.entity.js';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { ConsulStandin } from '../support/consul-standin.js';
import { waitFor } from '../support/ports.js';

interface Adapter {
  name: string;
  open(): Promise<Catalog>;
  /** Reopens on the same state, as after a restart of dozen. */
  reopen?(): Promise<Catalog>;
  resetIndex?(): void;
  /** The last requests the engine served, for failure messages. */
  recentRequests?(): string;
  close(): Promise<void>;
  /** How long "nothing happens" is watched: longer than a blocking query's wait, so idle returns of it happen meanwhile. */
  idleMs: number;
}

function embeddedAdapter(): Adapter {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-catalog-'));
  let dataSource: DataSource;
  const open = async () => {
    dataSource = new DataSource({ type: 'better-sqlite3', database: join(dir, 'dozen.sqlite'), entities: [RegistryInstanceEntity, RegistryKvEntity], migrations: MIGRATIONS });
    await dataSource.initialize();
    await dataSource.runMigrations();
    return EmbeddedCatalog.open(new DatabaseEmbeddedStore(dataSource.getRepository(RegistryInstanceEntity), dataSource.getRepository(RegistryKvEntity)));
  };
  return {
    name: 'embedded',
    idleMs: 500,
    open,
    reopen: async () => {
      await dataSource.destroy();
      return open();
    },
    close: async () => {
      await dataSource?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function consulAdapter(): Adapter {
  let standin: ConsulStandin;
  return {
    name: 'consul (HTTP API stand-in)',
    idleMs: 2500,
    open: async () => {
      // Consul's own minimum deregister delay (1 min) and reaper period (30 s) shortened so the test runs in seconds.
      standin = await ConsulStandin.start({ deregisterMinimumMs: 0, reapIntervalMs: 100, token: 'consul-acl-token' });
      return new ConsulCatalog({ url: standin.url, token: 'consul-acl-token', stale: true, waitSeconds: 2, minIntervalMs: 20, onError: () => undefined });
    },
    resetIndex: () => standin.resetIndex(),
    recentRequests: () => standin.requests.slice(-30).join('\n'),
    close: async () => standin?.stop(),
  };
}

let sequence = 0;
function registration(overrides: Partial<InstanceRegistration> = {}): InstanceRegistration {
  sequence += 1;
  return {
    id: `app${sequence}-1`, app: `app${sequence}`, address: '127.0.0.1', port: 4000 + sequence, host: 'host-a',
    domains: [`app${sequence}.example.net`, `*.app${sequence}.example.net`], meta: { team: 'blue' }, ttlMs: 30_000, deregisterAfterMs: 60_000,
    ...overrides,
  };
}

/** Records every call of a watch, so a test can wait for one or check there was none. */
function record<T>(watch: (listener: (value: T) => void) => () => void) {
  const calls: T[] = [];
  const stop = watch((value) => calls.push(value));
  return {
    calls,
    stop,
    next: (count: number, what: string) => waitFor(what, async () => calls.length >= count && calls[count - 1], 5000, 10),
  };
}

const find = (instances: CatalogInstance[], id: string) => instances.find((instance) => instance.id === id);

for (const adapter of [embeddedAdapter(), consulAdapter()]) {
  describe(`the catalog contract on ${adapter.name}`, { timeout: 90_000 }, () => {
    let catalog: Catalog;
    before(async () => {
      catalog = await adapter.open();
    });
    after(async () => {
      await catalog?.close();
      await adapter.close();
    });

    it('a registered instance is listed, passing, with its domains and meta, and the watch says so', async () => {
      const watch = record<CatalogInstance[]>((listener) => catalog.watchInstances(listener));
      await watch.next(1, 'the current state');
      const instance = registration({ release: 'v7' });
      await catalog.register(instance);
      const seen = await watch.next(2, 'the registration');
      assert.deepEqual(find(seen, instance.id), { ...instance, status: 'passing' });
      assert.deepEqual(find(await catalog.instances(), instance.id), { ...instance, status: 'passing' });
      watch.stop();
      await catalog.deregister(instance.id);
    });

    it('keeps an instance with more domains than one Consul meta value holds (512 characters), all of them in order', async () => {
      const domains = Array.from({ length: 60 }, (_, n) => `tenant-${String(n).padStart(3, '0')}.shop.example.net`);
      const instance = registration({ domains, meta: Object.fromEntries(Array.from({ length: 50 }, (_, n) => [`key${n}`, 'v'.repeat(512)])) });
      await catalog.register(instance);
      await waitFor('the instance to be listed', async () => Boolean(find(await catalog.instances(), instance.id)), 5_000);
      assert.deepEqual(find(await catalog.instances(), instance.id), { ...instance, status: 'passing' });
      await catalog.deregister(instance.id);
    });

    it('a heartbeat keeps an instance passing past its TTL', async () => {
      const instance = registration({ ttlMs: 600 });
      await catalog.register(instance);
      for (let beat = 0; beat < 6; beat++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        assert.equal(await catalog.pass(instance.id), true);
      }
      assert.equal(find(await catalog.instances(), instance.id)?.status, 'passing');
      await catalog.deregister(instance.id);
    });

    it('a lapsed TTL turns the instance critical, then removes it after the deregister delay', async () => {
      const instance = registration({ ttlMs: 500, deregisterAfterMs: 700 });
      await catalog.register(instance);
      const registered = Date.now();
      await waitFor('critical', async () => find(await catalog.instances(), instance.id)?.status === 'critical', 5000, 20);
      assert.ok(Date.now() - registered >= 450, `critical after ${Date.now() - registered} ms`);
      await waitFor('removed', async () => !find(await catalog.instances(), instance.id), 5000, 20);
      assert.ok(Date.now() - registered >= 1100, `removed after ${Date.now() - registered} ms`);
      assert.equal(await catalog.pass(instance.id), false);
    });

    it('a critical instance renewed in time is passing again', async () => {
      const instance = registration({ ttlMs: 400, deregisterAfterMs: 10_000 });
      await catalog.register(instance);
      await waitFor('critical', async () => find(await catalog.instances(), instance.id)?.status === 'critical', 5000, 20);
      assert.equal(await catalog.pass(instance.id), true);
      await waitFor('passing', async () => find(await catalog.instances(), instance.id)?.status === 'passing', 5000, 20);
      await catalog.deregister(instance.id);
    });

    it('deregister removes an instance; unknown ids answer false', async () => {
      const instance = registration();
      await catalog.register(instance);
      await waitFor('listed', async () => find(await catalog.instances(), instance.id), 5000, 10);
      assert.equal(await catalog.deregister(instance.id), true);
      await waitFor('gone', async () => !find(await catalog.instances(), instance.id), 5000, 10);
      assert.equal(await catalog.deregister(instance.id), false);
      assert.equal(await catalog.pass('no-such-instance'), false);
    });

    it('the instance watch fires once per change and not on heartbeats or idle time', async () => {
      const watch = record<CatalogInstance[]>((listener) => catalog.watchInstances(listener));
      await watch.next(1, 'the current state');
      const instance = registration();
      await catalog.register(instance);
      await watch.next(2, 'the registration');
      for (let beat = 0; beat < 3; beat++) await catalog.pass(instance.id);
      await new Promise((resolve) => setTimeout(resolve, adapter.idleMs));
      assert.equal(watch.calls.length, 2, 'no call for heartbeats or idle time');
      await catalog.deregister(instance.id);
      const last = await watch.next(3, 'the deregistration');
      assert.equal(find(last, instance.id), undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(watch.calls.length, 3);
      watch.stop();
    });

    it('KV: put, get, list by prefix, delete one key and a whole prefix', async () => {
      await catalog.kvPut('dozen/hosts/a/instances/1', '{"app":"chat"}');
      await catalog.kvPut('dozen/hosts/a/instances/2', '{"app":"blog"}');
      await catalog.kvPut('dozen/hosts/b/instances/3', 'three');
      const one = await catalog.kvGet('dozen/hosts/a/instances/1');
      assert.equal(one?.value, '{"app":"chat"}');
      assert.ok((one?.modifyIndex ?? 0) > 0);
      assert.equal(await catalog.kvGet('dozen/hosts/a/instances/9'), null);
      assert.deepEqual((await catalog.kvList('dozen/hosts/a/')).map((entry) => [entry.key, entry.value]), [
        ['dozen/hosts/a/instances/1', '{"app":"chat"}'],
        ['dozen/hosts/a/instances/2', '{"app":"blog"}'],
      ]);
      await catalog.kvPut('dozen/hosts/a/instances/1', 'changed');
      const changed = await catalog.kvGet('dozen/hosts/a/instances/1');
      assert.equal(changed?.value, 'changed');
      assert.ok(changed!.modifyIndex > one!.modifyIndex);
      await catalog.kvDelete('dozen/hosts/a/instances/2');
      assert.equal(await catalog.kvGet('dozen/hosts/a/instances/2'), null);
      await catalog.kvDelete('dozen/hosts/', { recurse: true });
      assert.deepEqual(await catalog.kvList('dozen/hosts/'), []);
    });

    it('KV check-and-set: a write or delete lands only on the index it was read at; of two racing writers one wins', async () => {
      const key = 'cas/lock';
      assert.equal(await catalog.kvPutIfIndex(key, 'first', 0), true, 'index 0 writes a key that does not exist');
      assert.equal(await catalog.kvPutIfIndex(key, 'again', 0), false, 'index 0 refuses a key that exists');
      const held = (await catalog.kvGet(key))!;
      assert.equal(held.value, 'first');
      assert.equal(await catalog.kvPutIfIndex(key, 'stale', held.modifyIndex - 1), false);
      const racers = await Promise.all(['a', 'b', 'c'].map((name) => catalog.kvPutIfIndex(key, name, held.modifyIndex)));
      assert.deepEqual(racers.filter(Boolean).length, 1, `exactly one racer wins: ${racers.join(', ')}`);
      const won = (await catalog.kvGet(key))!;
      assert.equal(won.value, ['a', 'b', 'c'][racers.indexOf(true)]);
      assert.ok(won.modifyIndex > held.modifyIndex);
      assert.equal(await catalog.kvDeleteIfIndex(key, held.modifyIndex), false, 'a delete at an old index leaves the key');
      assert.equal((await catalog.kvGet(key))?.value, won.value);
      assert.equal(await catalog.kvDeleteIfIndex(key, won.modifyIndex), true);
      assert.equal(await catalog.kvGet(key), null);
      assert.equal(await catalog.kvDeleteIfIndex(key, won.modifyIndex), true, 'a key already gone: true, as Consul answers');
    });

    it('a KV watch sees the current entries, then each change under its prefix and nothing else', async () => {
      await catalog.kvPut('watch/a/1', 'one');
      const watch = record<KvEntry[]>((listener) => catalog.watchKv('watch/a/', listener));
      assert.deepEqual((await watch.next(1, 'the current entries')).map((entry) => entry.value), ['one']);
      await catalog.kvPut('watch/a/2', 'two');
      assert.deepEqual((await watch.next(2, 'the put')).map((entry) => entry.value), ['one', 'two']);
      await catalog.kvPut('watch/b/1', 'elsewhere');
      await catalog.kvPut('other', 'elsewhere');
      await new Promise((resolve) => setTimeout(resolve, adapter.idleMs));
      assert.equal(watch.calls.length, 2, 'no call for writes outside the prefix or idle time');
      await catalog.kvDelete('watch/a/1');
      assert.deepEqual((await watch.next(3, 'the delete')).map((entry) => entry.key), ['watch/a/2']);
      watch.stop();
    });

    if (adapter.resetIndex) {
      it('keeps watching when the Consul index goes backwards (snapshot restore)', async () => {
        const first = registration();
        const watch = record<CatalogInstance[]>((listener) => catalog.watchInstances(listener));
        const kv = record<KvEntry[]>((listener) => catalog.watchKv('reset/', listener));
        await watch.next(1, 'the current state');
        await kv.next(1, 'the current entries');
        await catalog.register(first);
        await watch.next(2, 'the first instance');
        // Let every loop send its next blocking read, so the reset finds them all waiting, as a restore would.
        await new Promise((resolve) => setTimeout(resolve, 300));
        adapter.resetIndex!();
        await new Promise((resolve) => setTimeout(resolve, 100));
        // A second instance of the same app: only the app's health watch can see it, and it must see it well within
        // the blocking wait (2 s); a loop that kept its old, higher index would only see it when the wait ends.
        const second = registration({ id: `${first.app}-2`, app: first.app, domains: first.domains });
        await catalog.register(second);
        const failure = (error: Error) => {
          throw new Error(`${error.message}\nrecent requests:\n${adapter.recentRequests?.()}`);
        };
        await waitFor('the registration after the reset', async () => watch.calls.some((call) => find(call, second.id)), 1000, 10).catch(failure);
        await catalog.kvPut('reset/1', 'after');
        await waitFor('the put after the reset', async () => kv.calls.some((call) => call.some((entry) => entry.value === 'after')), 1000, 10).catch(failure);
        watch.stop();
        kv.stop();
        await catalog.deregister(first.id);
        await catalog.deregister(second.id);
      });
    }

    if (adapter.reopen) {
      it('a restart keeps registrations and KV; a TTL that lapsed meanwhile is critical', async () => {
        const kept = registration({ ttlMs: 60_000 });
        const lapsing = registration({ ttlMs: 300, deregisterAfterMs: 60_000 });
        await catalog.register(kept);
        await catalog.register(lapsing);
        await catalog.kvPut('restart/key', 'kept');
        await catalog.close();
        await new Promise((resolve) => setTimeout(resolve, 400));
        catalog = await adapter.reopen!();
        const instances = await catalog.instances();
        assert.equal(find(instances, kept.id)?.status, 'passing');
        assert.equal(find(instances, lapsing.id)?.status, 'critical');
        assert.equal((await catalog.kvGet('restart/key'))?.value, 'kept');
        await catalog.kvPut('restart/key2', 'next');
        assert.ok((await catalog.kvGet('restart/key2'))!.modifyIndex > (await catalog.kvGet('restart/key'))!.modifyIndex);
      });
    }
  });
}

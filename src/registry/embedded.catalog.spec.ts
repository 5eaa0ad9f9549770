import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceRegistration } from './catalog.js';
import { EmbeddedCatalog, type EmbeddedStore, type StoredInstance } from './embedded.catalog.js';

const noStore: EmbeddedStore = { load: async () => ({ instances: [], kv: [] }), saveInstance: async () => {}, saveHealth: async () => {}, deleteInstance: async () => {}, putKv: async () => {}, deleteKv: async () => {} };

const registration = (id: string, ttlMs: number): InstanceRegistration => ({ id, app: 'chat', address: '127.0.0.1', port: 3000, host: 'h1', domains: ['chat.example.net'], meta: {}, ttlMs, deregisterAfterMs: 60_000 });

/** Resolves with the instance's status once it is `status`, or rejects after `ms`. */
async function statusBecomes(catalog: EmbeddedCatalog, id: string, status: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if ((await catalog.instances()).find((instance) => instance.id === id)?.status === status) return;
    if (Date.now() > deadline) throw new Error(`${id} was not ${status} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('embedded catalog TTLs and the clock', () => {
  it('a step of the wall clock neither expires a live instance nor keeps a dead one: TTLs run on the monotonic clock', async () => {
    let wall = Date.now();
    const catalog = await EmbeddedCatalog.open(noStore, { now: () => wall });
    try {
      await catalog.register(registration('live-1', 60_000));
      await catalog.register(registration('dying-1', 300));
      wall += 90_000; // NTP steps the clock forward: the 60 s TTL has not lapsed
      await statusBecomes(catalog, 'dying-1', 'critical', 3_000);
      wall -= 3_600_000; // and back an hour
      await catalog.register(registration('dying-2', 300));
      await statusBecomes(catalog, 'dying-2', 'critical', 3_000);
      // Over several sweeps (every 100 ms) after both steps.
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal((await catalog.instances()).find((instance) => instance.id === 'live-1')?.status, 'passing');
    } finally {
      await catalog.close();
    }
  });

  it('after a restart, a stored deadline further off than the TTL (the clock stepped back while down) counts as the TTL', async () => {
    const wall = Date.now();
    const stored: StoredInstance = { registration: registration('kept-1', 300), status: 'passing', expiresAt: wall + 3_600_000, criticalSince: null };
    const store: EmbeddedStore = { ...noStore, load: async () => ({ instances: [stored], kv: [] }) };
    const catalog = await EmbeddedCatalog.open(store);
    try {
      await statusBecomes(catalog, 'kept-1', 'critical', 3_000);
    } finally {
      await catalog.close();
    }
  });
});

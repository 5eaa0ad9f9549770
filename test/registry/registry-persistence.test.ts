import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Each registered instance's health status, by id. */
async function statuses(dozen: DozenProcess): Promise<Record<string, string>> {
  const services = await (await dozen.api('/registry/services')).json();
  return Object.fromEntries(services.flatMap((service: { instances: { id: string; status: string }[] }) => service.instances.map((instance) => [instance.id, instance.status])));
}

/** Register two instances, restart dozen on the same database, and see what is left. */
async function restartKeepsRegistrations(env: Record<string, string>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dozen-registry-restart-'));
  let registeredAt = 0;
  try {
    const first = await startDozen({ env: { DOZEN_MODULES: 'registry', ...env }, dataDir });
    try {
      assert.equal((await first.api('/registry/instances', json({ id: 'kept-1', app: 'kept', address: '127.0.0.1', port: 3000, domains: ['kept.example.net'], ttl: 60 }))).status, 201);
      // Ids differ in case only: two instances (on MySQL the column compares byte for byte, not by its default collation).
      assert.equal((await first.api('/registry/instances', json({ id: 'Kept-1', app: 'kept', address: '127.0.0.1', port: 3002, ttl: 60 }))).status, 201);
      assert.equal((await first.api('/registry/instances', json({ id: 'lapsing-1', app: 'lapsing', address: '127.0.0.1', port: 3001, ttl: 1, deregisterAfter: 600 }))).status, 201);
      registeredAt = Date.now(); // the answer came after the registration, so its TTL started before this
    } finally {
      assert.equal(await first.stop('SIGTERM'), 0, first.logs());
    }
    // The condition is the clock: the TTL runs out while dozen is down (a stop and start usually take longer).
    await waitFor("lapsing-1's 1 s TTL to run out", async () => Date.now() - registeredAt > 1_000, 5_000, 20);
    const second = await startDozen({ env: { DOZEN_MODULES: 'registry', ...env }, dataDir });
    try {
      assert.deepEqual(await statuses(second), { 'Kept-1': 'passing', 'kept-1': 'passing', 'lapsing-1': 'critical' }, second.logs());
      const routes = await (await second.api('/registry/routes')).json();
      assert.deepEqual(routes.apps.find((route: { app: string }) => route.app === 'kept').domains, ['kept.example.net']);
      const beat = await second.api('/registry/instances/kept-1/heartbeat', { method: 'PUT' });
      assert.equal(beat.status, 200);
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('the embedded catalog across a restart of dozen', { timeout: 180_000 }, () => {
  let mariadb: MariaDb;
  before(async () => {
    mariadb = await startMariaDb();
  });
  after(async () => {
    await mariadb?.stop();
  });

  it('on SQLite keeps registrations; one whose TTL lapsed meanwhile is critical', async () => {
    await restartKeepsRegistrations({});
  });

  it('on MySQL keeps registrations; one whose TTL lapsed meanwhile is critical', async () => {
    const connection = await mariadb.connect();
    try {
      await connection.query('DROP DATABASE IF EXISTS dozen_registry_test; CREATE DATABASE dozen_registry_test');
    } finally {
      await connection.end();
    }
    await restartKeepsRegistrations({ DOZEN_DATABASE_URL: `${mariadb.url}dozen_registry_test` });
  });
});

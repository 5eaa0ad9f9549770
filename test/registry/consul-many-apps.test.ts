import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CatalogInstance, InstanceRegistration } from '../../src/registry/catalog.js';
import { ConsulCatalog } from '../../src/registry/consul.catalog.js';
import { ConsulStandin } from '../support/consul-standin.js';
import { waitFor } from '../support/ports.js';

const APPS = 250;

const registration = (app: number, instance = 1): InstanceRegistration => ({
  id: `app${app}-${instance}`, app: `app${app}`, address: '127.0.0.1', port: 4000 + app, host: 'host-a', domains: [`app${app}.example.net`], meta: {}, ttlMs: 60_000, deregisterAfterMs: 120_000,
});

describe('the Consul catalog with more apps than Consul takes connections from one client (200)', { timeout: 120_000 }, () => {
  let standin: ConsulStandin;
  let catalog: ConsulCatalog;
  let seen: CatalogInstance[] = [];
  const errors: string[] = [];

  before(async () => {
    standin = await ConsulStandin.start({ deregisterMinimumMs: 0, reapIntervalMs: 100 });
    catalog = new ConsulCatalog({ url: standin.url, stale: false, waitSeconds: 5, minIntervalMs: 20, onError: (error, what) => errors.push(`${what}: ${(error as Error).message}`) });
    for (let app = 1; app <= APPS; app++) await catalog.register(registration(app));
    catalog.watchInstances((instances) => (seen = instances));
  });
  after(async () => {
    await catalog?.close();
    await standin?.stop();
  });

  it(`lists all ${APPS} apps and follows changes to any of them, on a few connections`, async () => {
    await waitFor(`all ${APPS} apps listed`, async () => (await catalog.instances()).length === APPS, 30_000);
    await catalog.register(registration(APPS, 2));
    await catalog.deregister('app7-1');
    await waitFor('the new instance of the last app and the one gone from app7 seen', async () => seen.some((instance) => instance.id === `app${APPS}-2`) && !seen.some((instance) => instance.id === 'app7-1'), 10_000);
    assert.equal(seen.length, APPS);
    assert.equal(standin.refusedConnections, 0, `the agent refused connections; errors: ${errors.slice(0, 3).join('; ')}`);
  });
});

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

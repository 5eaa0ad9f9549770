import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startDozen } from './support/dozen-process.js';

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("dozen's data dir is its owner's alone", { timeout: 60_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'dozen-data-dir-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('is made 0700, whatever the umask: it holds the database, the admin token and the secrets key', async () => {
    const dataDir = join(root, 'fresh');
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'registry' }, dataDir });
    try {
      assert.equal(modeOf(dataDir), '700');
      statSync(join(dataDir, 'dozen.sqlite'));
    } finally {
      await dozen.stop();
    }
  });

  it('makes one an earlier version left open (0755) private at start, and says so', async () => {
    const dataDir = join(root, 'older');
    mkdirSync(dataDir, { mode: 0o755 });
    writeFileSync(join(dataDir, 'note.txt'), 'left by hand\n');
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'registry' }, dataDir });
    try {
      assert.equal(modeOf(dataDir), '700');
      assert.match(dozen.logs(), /"was":"755","now":"700".*the data dir was open to other users: made private/);
    } finally {
      await dozen.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasRegularFile, MAX_MANIFEST_BYTES, readManifest } from './checkout-files.js';

describe("a checkout's manifests", () => {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-checkout-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('are read when they are regular files, and absent ones are null', async () => {
    writeFileSync(join(dir, 'package.json'), '{"name":"a"}');
    assert.equal(await readManifest(dir, 'package.json'), '{"name":"a"}');
    assert.equal(await readManifest(dir, 'composer.json'), null);
    assert.equal(await hasRegularFile(dir, 'artisan'), false);
  });

  it('are refused, quickly and naming what they are, when they are a link (to /dev/zero, or to a file outside), a folder or a pipe', async () => {
    writeFileSync(join(dir, 'outside.json'), '{"scripts":{"start":"node x.js"}}');
    const cases: [string, () => void, RegExp][] = [
      ['zero.json', () => symlinkSync('/dev/zero', join(dir, 'zero.json')), /^Error: zero\.json must be a regular file in the repository, but it is a symbolic link$/],
      ['linked.json', () => symlinkSync(join(dir, 'outside.json'), join(dir, 'linked.json')), /but it is a symbolic link/],
      ['folder.json', () => mkdirSync(join(dir, 'folder.json')), /but it is a folder/],
      ['pipe.json', () => execFileSync('mkfifo', [join(dir, 'pipe.json')]), /but it is a named pipe/],
    ];
    for (const [name, make, refusal] of cases) {
      make();
      const started = Date.now();
      await assert.rejects(readManifest(dir, name), refusal);
      assert.ok(Date.now() - started < 1000, `${name} took ${Date.now() - started} ms`);
    }
    await assert.rejects(hasRegularFile(dir, 'zero.json'), /symbolic link/);
  });

  it('are refused past 1 MiB', async () => {
    writeFileSync(join(dir, 'huge.json'), 'x'.repeat(MAX_MANIFEST_BYTES + 1));
    await assert.rejects(readManifest(dir, 'huge.json'), /^Error: huge\.json is 1048577 bytes; the template reads at most 1048576 \(1 MiB\)$/);
  });
});

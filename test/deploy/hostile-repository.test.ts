import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { expectStatus, FILE_REPOSITORIES, json, waitRelease } from './helpers.js';

/**
 * A repository is whoever may deploy's to fill: one branch per trick a runtime template must not fall
 * for, each from `main` (a plain app): a manifest that is a link to /dev/zero or to a file outside the
 * checkout, one of 2 MiB, and a Dockerfile that is a dangling link to where dozen could write.
 */
function makeHostileRepository(outside: string): { url: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-hostile-repo-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=test@dozen', '-c', 'user.name=test', ...args], { cwd: dir, encoding: 'utf8' });
  const branch = (name: string, make: () => void) => {
    git('checkout', '-q', '-b', name, 'main');
    make();
    git('add', '-A');
    git('commit', '-qm', name);
  };
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'server.js'), 'require("node:http").createServer((q, s) => s.end("ok")).listen(process.env.PORT);\n');
  git('add', '.');
  git('commit', '-qm', 'plain');
  branch('zero', () => symlinkSync('/dev/zero', join(dir, 'package.json')));
  branch('outside', () => symlinkSync(join(outside, 'package.json'), join(dir, 'package.json')));
  branch('huge', () => writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'huge', description: 'x'.repeat(2 * 1024 * 1024) })));
  branch('composer-zero', () => symlinkSync('/dev/zero', join(dir, 'composer.json')));
  branch('dockerfile-link', () => symlinkSync(join(outside, 'written-by-dozen'), join(dir, 'Dockerfile')));
  git('checkout', '-q', 'main');
  return { url: `file://${dir}`, dir };
}

/** Builds of such branches fail at once with a message saying what is wrong, and dozen keeps answering. No Docker: they never reach it. */
describe('deploy: a repository built with a runtime template cannot reach outside its checkout', { timeout: 120_000 }, () => {
  const outside = mkdtempSync(join(tmpdir(), 'dozen-outside-'));
  const repository = makeHostileRepository(outside);
  let dozen: DozenProcess;

  before(async () => {
    writeFileSync(join(outside, 'package.json'), JSON.stringify({ scripts: { start: 'node /etc/secret.js' } }));
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'hostilehost', ...FILE_REPOSITORIES }, waitHealthy: false });
    await expectStatus(dozen, '/deploy/apps', json({ name: 'hostile', repository: repository.url }), 201);
    await expectStatus(dozen, '/deploy/apps', json({ name: 'hostilephp', runtime: 'php-laravel', repository: repository.url }), 201);
  });
  after(async () => {
    await dozen?.stop();
    rmSync(repository.dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const failed = async (app: string, ref: string) => {
    const release = await expectStatus(dozen, `/deploy/apps/${app}/deploy`, json({ ref }), 202);
    return String((await waitRelease(dozen, String(release.id), 'failed', 30_000)).error);
  };

  it('a package.json or composer.json linked to /dev/zero fails the release saying so, while dozen keeps answering', async () => {
    const answering = (async () => {
      // Every API call of the build's time answers promptly: the event loop is never held.
      for (let i = 0; i < 20; i++) {
        const started = Date.now();
        await expectStatus(dozen, '/deploy/apps/hostile', {}, 200);
        assert.ok(Date.now() - started < 2000, `an API call took ${Date.now() - started} ms`);
      }
    })();
    assert.match(await failed('hostile', 'zero'), /error: package\.json must be a regular file in the repository, but it is a symbolic link$/);
    assert.match(await failed('hostilephp', 'composer-zero'), /error: composer\.json must be a regular file in the repository, but it is a symbolic link$/);
    await answering;
  });

  it('a package.json linked to a file outside the checkout is not read', async () => {
    assert.match(await failed('hostile', 'outside'), /error: package\.json must be a regular file in the repository, but it is a symbolic link$/);
  });

  it('a package.json over 1 MiB is not read', async () => {
    assert.match(await failed('hostile', 'huge'), /error: package\.json is \d+ bytes; the template reads at most 1048576 \(1 MiB\)$/);
  });

  it('a Dockerfile that is a dangling link fails the release, and the template is written nowhere outside the checkout', async () => {
    assert.match(await failed('hostile', 'dockerfile-link'), /error: Dockerfile must be a regular file in the repository, but it is a symbolic link$/);
    assert.equal(existsSync(join(outside, 'written-by-dozen')), false, 'dozen wrote through the link');
  });
});

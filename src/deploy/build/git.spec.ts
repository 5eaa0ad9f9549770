import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkout } from './git.js';
import type { GitAuth } from './git-credentials.js';

const noAuth: GitAuth = { env: {}, using: [], withheld: [], cleanup: () => undefined };

describe('a checkout with submodules', () => {
  const root = mkdtempSync(join(tmpdir(), 'dozen-git-spec-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  /** A repository `name` under root with `files`, and the submodules `[path, url]` added (the test's own git may fetch file://). */
  const repository = (name: string, files: Record<string, string>, submodules: [string, string][] = []) => {
    const dir = join(root, name);
    mkdirSync(dir);
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@dozen', '-c', 'user.name=t', '-c', 'protocol.file.allow=always', ...args], { cwd: dir, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    for (const [path, url] of submodules) git('submodule', 'add', '-q', url, path);
    git('add', '.');
    git('commit', '-qm', name);
    return `file://${dir}`;
  };
  const checkoutOf = async (url: string) => {
    const dir = mkdtempSync(join(root, 'checkout-'));
    return { dir, ...(await checkout(url, 'main', dir, new AbortController().signal, { auth: noAuth, allowFile: true })) };
  };

  const deep = repository('deep', { 'deep.txt': 'deep' });
  const lib = repository('lib', { 'lib.txt': 'lib' }, [['deep', deep]]);
  // A relative URL, as .gitmodules usually has them: read against the repository's own URL.
  const app = repository('app', { 'server.js': 'app' }, [['lib', '../lib']]);

  it('fetches them, nested ones too, and says which', async () => {
    const { dir, commit, submodules } = await checkoutOf(app);
    assert.match(commit, /^[0-9a-f]{40}$/);
    assert.deepEqual(submodules, ['lib', 'lib/deep']);
    assert.equal(readFileSync(join(dir, 'lib', 'lib.txt'), 'utf8'), 'lib');
    assert.equal(readFileSync(join(dir, 'lib', 'deep', 'deep.txt'), 'utf8'), 'deep');
  });

  it('says there are none without .gitmodules', async () => {
    assert.deepEqual((await checkoutOf(deep)).submodules, []);
  });

  it('fetches them only over the transports the repository may use: an ext:: submodule (a command) fails the checkout', async () => {
    const marker = join(root, 'ext-ran');
    const hostile = repository('hostile', { 'server.js': 'hostile' }, [['lib', '../lib']]);
    const dir = hostile.slice('file://'.length);
    execFileSync('git', ['config', '-f', '.gitmodules', 'submodule.lib.url', `ext::sh -c touch% ${marker}`], { cwd: dir });
    execFileSync('git', ['-c', 'user.email=t@dozen', '-c', 'user.name=t', 'commit', '-qam', 'ext'], { cwd: dir });
    await assert.rejects(checkoutOf(hostile), /^Error: git could not fetch the submodules of main: .*transport 'ext' not allowed/);
    assert.throws(() => readFileSync(marker), /ENOENT/, 'the ext:: command ran');
  });

  it("hides git's words about a local path that is no repository", async () => {
    const missing = repository('missing', { 'server.js': 'missing' }, [['lib', '../lib']]);
    const dir = missing.slice('file://'.length);
    execFileSync('git', ['config', '-f', '.gitmodules', 'submodule.lib.url', '/etc'], { cwd: dir });
    execFileSync('git', ['-c', 'user.email=t@dozen', '-c', 'user.name=t', 'commit', '-qam', 'a path'], { cwd: dir });
    await assert.rejects(checkoutOf(missing), (error: Error) => error.message === 'git could not fetch the submodules of main: one is no repository with that commit that dozen can read');
  });
});

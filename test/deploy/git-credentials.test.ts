import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { BASE_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { addUser, signIn } from '../access/people.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startCredentialTrap, startGitHttpServer, type GitHttpServer } from '../support/git-http-server.js';
import { ed25519KeyPair, startGitSshServer, type GitSshServer } from '../support/git-ssh-server.js';
import { makeTestCa } from '../support/test-ca.js';
import { expectStatus, json, makeRepository, waitRelease } from './helpers.js';

const PASSWORD = 'pw-0f3c9e1b7d-right';
const WRONG = 'pw-55aa01-wrong';

/**
 * A private repository behind git's smart HTTP protocol over HTTPS with Basic
 * auth (test/support/git-http-server.ts, a certificate of test-ca.ts that
 * dozen trusts through deploy.git.caFile): the build fetches it with the
 * app's secrets GIT_USERNAME and GIT_PASSWORD through a credential helper,
 * and the password shows in no build log, release error, dozen log or process
 * list, and goes to no other host. The same repository over SSH
 * (test/support/git-ssh-server.ts) with the secrets GIT_SSH_KEY and
 * GIT_SSH_KNOWN_HOSTS.
 */
describe('deploy: git credentials from the app secrets', { timeout: 180_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  const source = makeRepository();
  const root = mkdtempSync(join(tmpdir(), 'dozen-git-root-'));
  const processLists: string[] = [];
  const ca = makeTestCa();
  const leaf = ca.issue(['127.0.0.1']);
  const tls = { cert: leaf.certPem, key: leaf.keyPem };
  let server: GitHttpServer;
  let sshServer: GitSshServer;
  const userKey = ed25519KeyPair();
  let dozen: DozenProcess;

  const privateFolders = () => readdirSync(tmpdir()).filter((name) => name.startsWith('dozen-git-') && !root.endsWith(name));
  const deploy = async (app = 'private') => {
    const release = await expectStatus(dozen, `/deploy/apps/${app}/deploy`, json({}), 202);
    return String(release.id);
  };
  const everythingShown = async (release: string) => {
    const shown = await expectStatus(dozen, `/deploy/releases/${release}`, {}, 200);
    const log = await (await dozen.api(`/deploy/releases/${release}/log`)).text();
    return { shown, log, all: JSON.stringify(shown) + log + dozen.logs() };
  };

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    execFileSync('git', ['clone', '-q', '--bare', source.dir, join(root, 'private.git')]);
    server = await startGitHttpServer({
      root, user: 'deployer', password: PASSWORD, tls,
      onAuthorized: () => processLists.push(execFileSync('ps', ['-eww', '-o', 'args'], { encoding: 'utf8' })),
    });
    sshServer = await startGitSshServer({ root, authorizedKey: userKey.public });
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'gitcreds', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath, DOZEN_DEPLOY_RUNTIMES_NODEJS_BASE_IMAGE: BASE_IMAGE, DOZEN_DEPLOY_GIT_CA_FILE: ca.caFile } });
    await expectStatus(dozen, '/deploy/apps', json({ name: 'private', repository: server.url('private.git') }), 201);
  });

  after(async () => {
    await dozen?.stop();
    if (dozen) rmSync(dozen.dataDir, { recursive: true, force: true });
    await server?.stop();
    await sshServer?.stop();
    for (const image of await docker.listImages({ filters: { label: ['dozen.app=private'] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    rmSync(source.dir, { recursive: true, force: true });
    ca.remove();
  });

  it('without credentials the release fails, saying which secrets to set', async () => {
    const release = await deploy();
    const failed = await waitRelease(dozen, release, 'failed');
    assert.match(String(failed.error), /git could not fetch main from https:\/\/127\.0\.0\.1:\d+\/private\.git: .*could not read Username/);
    assert.match(String(failed.error), /a private repository: set the app's secret GIT_TOKEN, or GIT_USERNAME and GIT_PASSWORD/);
  });

  it('a wrong password fails the release with a clear message, and the password shows nowhere', async () => {
    await expectStatus(dozen, '/deploy/apps/private/secrets', json({ secrets: { GIT_USERNAME: 'deployer', GIT_PASSWORD: WRONG } }, 'PUT'), 200);
    const release = await deploy();
    const failed = await waitRelease(dozen, release, 'failed');
    assert.match(String(failed.error), /Authentication failed/);
    assert.match(String(failed.error), /the credentials from the app's secrets GIT_USERNAME, GIT_PASSWORD were refused/);
    assert.ok(server.requests.some((request) => request.user === 'deployer' && request.password === WRONG && request.status === 401), 'git sent the wrong password');
    const { log, all } = await everythingShown(release);
    assert.match(log, /with the app's secrets GIT_USERNAME, GIT_PASSWORD/);
    assert.ok(!all.includes(WRONG), 'the password is in the release, its log or the dozen log');
  });

  it('the right password builds the release; it was in no process list during the fetch, and no credential helper file is left', async () => {
    const foldersBefore = privateFolders();
    await expectStatus(dozen, '/deploy/apps/private/secrets', json({ secrets: { GIT_PASSWORD: PASSWORD } }, 'PUT'), 200);
    const release = await deploy();
    const ready = await waitRelease(dozen, release, 'ready', 120_000);
    assert.equal(ready.commit, source.commit('main'));
    assert.ok(server.requests.some((request) => request.password === PASSWORD && request.status === 200));
    const { all } = await everythingShown(release);
    assert.ok(!all.includes(PASSWORD), 'the password is in the release, its log or the dozen log');
    assert.ok(processLists.length > 0 && processLists.some((list) => /git/.test(list)), 'the process list was taken during the fetch');
    for (const list of processLists) assert.ok(!list.includes(PASSWORD) && !list.includes(WRONG), 'a password is in the process list');
    assert.deepEqual(privateFolders().filter((name) => !foldersBefore.includes(name)), []);
  });

  it('the credentials go to the repository host only, over https: a deployer may not move the repository elsewhere; a redirect to another host and plain http get none', async () => {
    const trap = await startCredentialTrap({ tls });
    const redirector = await startCredentialTrap({ tls, redirectTo: trap.origin });
    const plain = await startGitHttpServer({ root, user: 'deployer', password: PASSWORD });
    try {
      await addUser(dozen, 'dev', 'deployer');
      const deployer = await signIn(dozen, 'dev');
      const moved = await deployer.fetch('/deploy/apps/private', json({ repository: trap.url('private.git') }, 'PUT'));
      const refused = await moved.json();
      assert.equal(moved.status, 403, JSON.stringify(refused));
      assert.deepEqual([refused.error, refused.field, refused.permission], ['forbidden', 'repository', 'deploy.secrets']);
      assert.match(refused.message, /^dev may not move private's repository to another host: the app's git credentials \(GIT_PASSWORD, GIT_USERNAME\) go to that host/);
      const viaGraphQL = await deployer.graphql(`mutation { updateApp(name: "private", input: { repository: "${trap.url('private.git')}" }) { name } }`);
      assert.equal(viaGraphQL.body.errors?.[0].extensions?.permission, 'deploy.secrets', JSON.stringify(viaGraphQL.body));
      assert.equal((await expectStatus(dozen, '/deploy/apps/private', {}, 200)).repository, server.url('private.git'));
      // Nor by a URL that looks like the same host and is another one to ssh (the host after the last @).
      const disguised = await deployer.fetch('/deploy/apps/private', json({ repository: `ssh://git@${new URL(server.url('private.git')).host}#@evil.example/x` }, 'PUT'));
      const unclear = await disguised.json();
      assert.deepEqual([disguised.status, unclear.field], [400, 'repository'], JSON.stringify(unclear));
      assert.match(unclear.message, /the host of this ssh:\/\/ URL is unclear/);
      // Another repository, even on the same host, is code the app's secrets would reach: that takes deploy.secrets too.
      const sameHost = await deployer.fetch('/deploy/apps/private', json({ repository: server.url('elsewhere.git') }, 'PUT'));
      const kept = await sameHost.json();
      assert.deepEqual([sameHost.status, kept.field, kept.permission], [403, 'repository', 'deploy.secrets'], JSON.stringify(kept));
      assert.match(kept.message, /^dev may not change where private's code comes from \(repository\): the app's secrets \(GIT_PASSWORD, GIT_USERNAME\) reach the code it runs/);
      assert.equal((await expectStatus(dozen, '/deploy/apps/private', json({ repository: server.url('elsewhere.git') }, 'PUT'), 200)).repository, server.url('elsewhere.git'));

      // An admin's choice of a host that sends git on to another one: that one is asked, and gets nothing.
      await expectStatus(dozen, '/deploy/apps/private', json({ repository: redirector.url('private.git') }, 'PUT'), 200);
      const redirected = await waitRelease(dozen, await deploy(), 'failed');
      assert.ok(trap.requests.length > 0, 'git followed the redirect');
      assert.deepEqual([...redirector.requests, ...trap.requests].map((request) => request.authorization).filter(Boolean), [], 'no credentials reached another host');
      assert.match(String(redirected.error), new RegExp(`${trap.origin.replace(/[.]/g, '\\.')} asked for credentials; the app's secrets GIT_USERNAME, GIT_PASSWORD go only to 127\\.0\\.0\\.1:\\d+`));

      // The same repository over plain http: nothing is sent in clear, and the release says why it failed.
      await expectStatus(dozen, '/deploy/apps/private', json({ repository: plain.url('private.git') }, 'PUT'), 200);
      const release = await deploy();
      const inClear = await waitRelease(dozen, release, 'failed');
      assert.ok(plain.requests.length > 0);
      assert.deepEqual(plain.requests.filter((request) => request.password), [], 'no password over plain http');
      assert.match(String(inClear.error), /the app's secrets GIT_USERNAME, GIT_PASSWORD are sent over https:\/\/ only: use the repository's https:\/\/ URL/);
      assert.match(await (await dozen.api(`/deploy/releases/${release}/log`)).text(), /not sending the app's secrets GIT_USERNAME, GIT_PASSWORD over plain http:\/\//);
    } finally {
      await expectStatus(dozen, '/deploy/apps/private', json({ repository: server.url('private.git') }, 'PUT'), 200);
      await Promise.all([trap.stop(), redirector.stop(), plain.stop()]);
    }
  });

  it('ssh: GIT_SSH_KEY builds; the host key is trusted on first use into the data dir, then a changed one is refused', async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: 'viassh', repository: sshServer.url('private.git'), secrets: { GIT_SSH_KEY: userKey.private } }), 201);
    const foldersBefore = privateFolders();
    const ready = await waitRelease(dozen, await deploy('viassh'), 'ready', 120_000);
    assert.equal(ready.commit, source.commit('main'));
    assert.ok(sshServer.attempts.some((attempt) => attempt.method === 'publickey' && attempt.accepted));
    assert.equal(readFileSync(join(dozen.dataDir, 'deploy-known-hosts'), 'utf8').trim().split(' ').slice(0, 2).join(' '), sshServer.knownHostsLine.split(' ').slice(0, 2).join(' '));
    assert.deepEqual(privateFolders().filter((name) => !foldersBefore.includes(name)), [], 'the key file is gone');

    // The same address with another host key: a man in the middle for the kept known_hosts entry.
    const impostor = await startGitSshServer({ root, authorizedKey: userKey.public });
    try {
      const port = /:(\d+)\//.exec(impostor.url('x'))![1];
      const known = readFileSync(join(dozen.dataDir, 'deploy-known-hosts'), 'utf8').replace(/^\[127\.0\.0\.1\]:\d+ /m, `[127.0.0.1]:${port} `);
      writeFileSync(join(dozen.dataDir, 'deploy-known-hosts'), known);
      await expectStatus(dozen, '/deploy/apps/viassh', json({ repository: impostor.url('private.git') }, 'PUT'), 200);
      const failed = await waitRelease(dozen, await deploy('viassh'), 'failed');
      assert.match(String(failed.error), /Host key verification failed/);
      assert.deepEqual(impostor.attempts, [], 'no key was offered to the impostor');
    } finally {
      await impostor.stop();
    }
  });

  it('ssh: with GIT_SSH_KNOWN_HOSTS the host key must match it, and a key the server does not know is refused with a clear message', async () => {
    await expectStatus(dozen, '/deploy/apps/viassh', json({ repository: sshServer.url('private.git') }, 'PUT'), 200);
    const otherHost = ed25519KeyPair().public.trim();
    await expectStatus(dozen, '/deploy/apps/viassh/secrets', json({ secrets: { GIT_SSH_KNOWN_HOSTS: sshServer.knownHostsLine.replace(/ssh-ed25519 .*/, otherHost) } }, 'PUT'), 200);
    const strict = await waitRelease(dozen, await deploy('viassh'), 'failed');
    assert.match(String(strict.error), /Host key verification failed.*were refused/s);

    const stranger = ed25519KeyPair();
    await expectStatus(dozen, '/deploy/apps/viassh/secrets', json({ secrets: { GIT_SSH_KNOWN_HOSTS: sshServer.knownHostsLine, GIT_SSH_KEY: stranger.private } }, 'PUT'), 200);
    const refused = await waitRelease(dozen, await deploy('viassh'), 'failed');
    assert.match(String(refused.error), /Permission denied \(publickey\)/);
    assert.match(String(refused.error), /the credentials from the app's secrets GIT_SSH_KEY, GIT_SSH_KNOWN_HOSTS were refused/);
    const { all } = await everythingShown(String(refused.id));
    assert.ok(!all.includes(stranger.private.split('\n')[1]), 'the key is in the release, its log or the dozen log');

    await expectStatus(dozen, '/deploy/apps/viassh/secrets', json({ secrets: { GIT_SSH_KEY: userKey.private } }, 'PUT'), 200);
    await waitRelease(dozen, await deploy('viassh'), 'ready', 120_000);
  });
});

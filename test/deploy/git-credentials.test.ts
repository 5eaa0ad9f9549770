import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { BASE_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startGitHttpServer, type GitHttpServer } from '../support/git-http-server.js';
import { expectStatus, json, makeRepository, waitRelease } from './helpers.js';

const PASSWORD = 'pw-0f3c9e1b7d-right';
const WRONG = 'pw-55aa01-wrong';

/**
 * A private repository behind git's smart HTTP protocol with Basic auth
 * (test/support/git-http-server.ts): the build fetches it with the app's
 * secrets GIT_USERNAME and GIT_PASSWORD through GIT_ASKPASS, and the
 * password shows in no build log, release error, dozen log or process list.
 */
describe('deploy: git credentials from the app secrets', { timeout: 180_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  const source = makeRepository();
  const root = mkdtempSync(join(tmpdir(), 'dozen-git-root-'));
  const processLists: string[] = [];
  let server: GitHttpServer;
  let dozen: DozenProcess;

  const askpassFolders = () => readdirSync(tmpdir()).filter((name) => name.startsWith('dozen-git-') && !root.endsWith(name));
  const deploy = async () => {
    const release = await expectStatus(dozen, '/deploy/apps/private/deploy', json({}), 202);
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
      root, user: 'deployer', password: PASSWORD,
      onAuthorized: () => processLists.push(execFileSync('ps', ['-eww', '-o', 'args'], { encoding: 'utf8' })),
    });
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'gitcreds', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath, DOZEN_DEPLOY_RUNTIMES_NODEJS_BASE_IMAGE: BASE_IMAGE } });
    await expectStatus(dozen, '/deploy/apps', json({ name: 'private', repository: server.url('private.git') }), 201);
  });

  after(async () => {
    await dozen?.stop();
    if (dozen) rmSync(dozen.dataDir, { recursive: true, force: true });
    await server?.stop();
    for (const image of await docker.listImages({ filters: { label: ['dozen.app=private'] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    rmSync(source.dir, { recursive: true, force: true });
  });

  it('without credentials the release fails, saying which secrets to set', async () => {
    const release = await deploy();
    const failed = await waitRelease(dozen, release, 'failed');
    assert.match(String(failed.error), /git could not fetch main from http:\/\/127\.0\.0\.1:\d+\/private\.git: .*could not read Username/);
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

  it('the right password builds the release; it was in no process list during the fetch, and no askpass file is left', async () => {
    const foldersBefore = askpassFolders();
    await expectStatus(dozen, '/deploy/apps/private/secrets', json({ secrets: { GIT_PASSWORD: PASSWORD } }, 'PUT'), 200);
    const release = await deploy();
    const ready = await waitRelease(dozen, release, 'ready', 120_000);
    assert.equal(ready.commit, source.commit('main'));
    assert.ok(server.requests.some((request) => request.password === PASSWORD && request.status === 200));
    const { all } = await everythingShown(release);
    assert.ok(!all.includes(PASSWORD), 'the password is in the release, its log or the dozen log');
    assert.ok(processLists.length > 0 && processLists.some((list) => /git/.test(list)), 'the process list was taken during the fetch');
    for (const list of processLists) assert.ok(!list.includes(PASSWORD) && !list.includes(WRONG), 'a password is in the process list');
    assert.deepEqual(askpassFolders().filter((name) => !foldersBefore.includes(name)), []);
  });
});

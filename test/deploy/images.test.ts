import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { BASE_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { appSource, expectStatus, FILE_REPOSITORIES, json, steadyClient, viaProxy, waitInstance, waitRelease } from './helpers.js';

const HOST = 'imagestest';
const APP = 'imgs';
const DOMAIN = 'imgs.deploy.test';
const NOT_A_RELEASE = 'dozen-test/not-a-release:1';

/** Answers every path with its version but refuses its health path, saying so once. */
function sickSource(version: number): string {
  return `const http = require('node:http');
let said = false;
http.createServer((req, res) => {
  if (req.url === '/healthz') {
    if (!said) console.log('health check refused');
    said = true;
    res.statusCode = 503;
    return res.end('sick');
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ version: ${version} }));
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('sick v${version} listening'));
process.on('SIGTERM', () => process.exit(0));
`;
}

/** main: version 1; tag v2: version 2; branches sick and sick2: versions 3 and 4, whose /healthz answers 503. */
function makeRepository(): { url: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-repo-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=test@dozen', '-c', 'user.name=test', ...args], { cwd: dir, encoding: 'utf8' });
  const commit = (source: string, message: string) => {
    writeFileSync(join(dir, 'server.js'), source);
    git('add', '.');
    git('commit', '-qm', message);
  };
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'imgs', scripts: { start: 'node server.js' } }));
  commit(appSource(1), 'version 1');
  git('checkout', '-q', '-b', 'next');
  commit(appSource(2), 'version 2');
  git('tag', 'v2');
  git('checkout', '-q', '-b', 'sick');
  commit(sickSource(3), 'version 3, sick');
  git('checkout', '-q', '-b', 'sick2');
  commit(sickSource(4), 'version 4, sick');
  git('checkout', '-q', 'main');
  return { url: `file://${dir}`, dir };
}

/**
 * Release images through the object store, pruning past deploy.keepReleases,
 * restart counts across a restart of dozen, and the unhealthy path, on the
 * bench's real Docker Engine. Four builds in all, shared by the cases below.
 */
describe('deploy: release images, restarts and health', { timeout: 300_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  const repository = makeRepository();
  let dozen: DozenProcess;
  let proxyPort: number;
  let instance: string;
  const releases: string[] = [];

  const dozenEnv = () => ({
    DOZEN_MODULES: 'proxy,registry,deploy,storage',
    DOZEN_HOST_NAME: HOST,
    DOZEN_PROXY_LISTEN_PORT: String(proxyPort),
    DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath,
    DOZEN_DEPLOY_RUNTIMES_NODEJS_BASE_IMAGE: BASE_IMAGE,
    DOZEN_DEPLOY_DRAIN_SECONDS: '1',
    DOZEN_DEPLOY_HEALTH_TIMEOUT_SECONDS: '3',
    DOZEN_DEPLOY_RESYNC_SECONDS: '2',
    DOZEN_DEPLOY_KEEP_RELEASES: '2',
    ...FILE_REPOSITORIES,
  });
  const managedOfHost = () => docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.host=${HOST}`] } });
  const ofInstance = async () => (await managedOfHost()).filter((entry) => entry.Labels['dozen.instance'] === instance);
  const imageOf = (tag: string) => docker.getImage(tag).inspect().then((info) => info.Id, () => null);
  const storeStatus = async (release: string) => (await dozen.api(`/storage/objects/images/${APP}/${release}.tar`, { method: 'HEAD' })).status;
  const answer = async () => {
    const reply = await viaProxy(proxyPort, DOMAIN);
    assert.equal(reply.status, 200, reply.body);
    return (JSON.parse(reply.body) as { version: number }).version;
  };
  const deploy = async (ref: string) => {
    const release = await expectStatus(dozen, `/deploy/apps/${APP}/deploy`, json({ ref }), 202);
    await waitRelease(dozen, String(release.id), 'ready');
    releases.push(String(release.id));
    return String(release.id);
  };

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    proxyPort = await freePort();
    dozen = await startDozen({ env: dozenEnv() });
  });

  after(async () => {
    if (dozen) {
      await dozen.api(`/deploy/apps/${APP}`, { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the app containers to go', async () => (await managedOfHost()).length === 0, 30_000).catch(() => undefined);
      await dozen.stop();
      rmSync(dozen.dataDir, { recursive: true, force: true });
    }
    for (const container of await managedOfHost()) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
    // Only the images this run made: its releases' and the stand-in archive's (the bench's Engine is shared).
    for (const image of await docker.listImages({ filters: { label: [`dozen.app=${APP}`] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    await docker.getImage(NOT_A_RELEASE).remove({ force: true }).catch(() => undefined);
    rmSync(repository.dir, { recursive: true, force: true });
  });

  it('an Engine without the release image loads it from the object store, checks its id, and runs it', async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: APP, repository: repository.url, domains: [DOMAIN], healthPath: '/healthz' }), 201);
    const first = await deploy('main');
    // Saved while the instances move, so after `ready`: the build log says when.
    const saved = new RegExp(`image saved to the object store as images/${APP}/${first}\\.tar \\(\\d+\\.\\d MB\\)`);
    await waitFor('the image archive to be saved', async () => saved.test(await (await dozen.api(`/deploy/releases/${first}/log`)).text()), 30_000, 100);
    assert.equal(await storeStatus(first), 200);
    const imageId = String((await expectStatus(dozen, `/deploy/releases/${first}`, {}, 200)).imageId);

    // As on a host that did not build it: the Engine has no image of the release.
    await docker.getImage(`dozen/${APP}:${first}`).remove();
    assert.equal(await imageOf(imageId), null);

    instance = String((await expectStatus(dozen, '/deploy/instances', json({ app: APP, host: HOST }), 201)).id);
    await waitInstance(dozen, instance, (view) => view.state === 'running', 'running');
    assert.equal(await answer(), 1);
    assert.equal(await imageOf(`dozen/${APP}:${first}`), imageId, 'loaded under its tag, with the release id');
    assert.match(dozen.logs(), new RegExp(`"release":"${first}".*release image loaded from the store`));
  });

  it('a dozen killed in the middle of a deploy reconciles without a duplicate container, and restart counts survive it', async () => {
    const crashedOnce = await expectStatus(dozen, `/deploy/instances/${instance}`, {}, 200);
    await docker.getContainer(String(crashedOnce.containerId)).kill();
    await waitInstance(dozen, instance, (view) => view.state === 'running' && view.restarts === 1 && view.containerId !== crashedOnce.containerId, 'restarted once', 30_000);

    const release = await expectStatus(dozen, `/deploy/apps/${APP}/deploy`, json({ ref: 'v2' }), 202);
    await waitFor('the new container to exist beside the old', async () => (await ofInstance()).length === 2, 90_000, 20);
    await dozen.stop('SIGKILL');
    dozen = await startDozen({ dataDir: dozen.dataDir, env: dozenEnv() });
    releases.push(String(release.id));
    const moved = await waitInstance(dozen, instance, (view) => view.state === 'running' && view.runningRelease === release.id, `running ${String(release.id)}`);
    await waitFor('one container left', async () => (await ofInstance()).length === 1, 20_000);
    assert.equal((await ofInstance())[0].Id, moved.containerId);
    assert.equal(await answer(), 2);
    assert.equal(moved.restarts, 1, `the restart count outlived dozen\n${dozen.logs().slice(-4000)}`);
    // Saved while the instance moved: if the kill cut the save short, the build host saves it again when it is back.
    await waitFor('the archive of the new release', async () => (await storeStatus(String(release.id))) === 200, 30_000, 200);

    await docker.getContainer(String(moved.containerId)).kill();
    const again = await waitInstance(dozen, instance, (view) => view.state === 'running' && view.containerId !== moved.containerId, 'running again', 30_000);
    assert.equal(again.restarts, 2, 'counting goes on from the kept count');
    assert.equal((await ofInstance()).length, 1);
  });

  it('a release whose health path never answers is unhealthy with its last log lines and never gets a request; old images go past keepReleases, but not one a container runs', async () => {
    const [first, second] = releases;
    const client = steadyClient(proxyPort, DOMAIN);
    const sick = await deploy('sick');
    const unhealthy = await waitInstance(dozen, instance, (view) => view.state === 'unhealthy', 'unhealthy', 30_000);
    assert.match(String(unhealthy.lastError), /^\/healthz on port \d+ did not answer 2xx-3xx within 3 s; last lines:\nsick v3 listening\nhealth check refused$/);
    const registered = await expectStatus<{ instances: { release: string }[] }>(dozen, `/registry/services/${APP}`, {}, 200);
    assert.deepEqual(registered.instances.map((entry) => entry.release), [second], 'only the healthy container is registered');

    // keepReleases 2: the first release (in use by nothing) left the store, the Engine and the rollback choices.
    // Pruned once the new release's archive is saved.
    await waitFor('the first release to be pruned', async () => Boolean((await expectStatus(dozen, `/deploy/releases/${first}`, {}, 200)).imageRemovedAt), 30_000);
    assert.equal(await storeStatus(first), 404);
    await waitFor('the first release image to leave the Engine', async () => (await imageOf(`dozen/${APP}:${first}`)) === null, 10_000);
    const refused = await expectStatus(dozen, `/deploy/apps/${APP}/rollback`, json({ release: first }), 409);
    assert.equal(refused.error, 'release_not_ready');

    // The next release prunes the second from the store, but its image stays on the Engine: the old container still serves.
    await deploy('sick2');
    await waitFor('the second release to be pruned', async () => Boolean((await expectStatus(dozen, `/deploy/releases/${second}`, {}, 200)).imageRemovedAt), 30_000);
    assert.equal(await storeStatus(second), 404);
    await waitFor('the agent to keep the image in use', async () => dozen.logs().includes(`"release":"${second}","image":"dozen/${APP}:${second}","msg":"pruned release image kept on the Engine while a container uses it"`), 10_000);
    assert.ok(await imageOf(`dozen/${APP}:${second}`), 'the running container image is kept');
    assert.equal(await storeStatus(sick), 200);

    const { sent, failed, versions } = await client.stop();
    assert.deepEqual(failed, [], `${failed.length} of ${sent} failed`);
    assert.deepEqual([...versions], [2], 'the proxy never sent a request to an unhealthy container');
  });

  it('the storage API writes no release image archive, whoever asks', async () => {
    const [first] = releases;
    for (const [path, init] of [
      [`/storage/objects/images/${APP}/${first}.tar`, { method: 'PUT', body: 'doctored' }],
      [`/storage/objects/images/${APP}/new.tar`, { method: 'POST', body: 'doctored' }],
      ['/storage/uploads', json({ key: `images/${APP}/${first}.tar` })],
    ] as const) {
      const refused = await expectStatus(dozen, path, init, 403);
      assert.deepEqual([refused.error, refused.field], ['forbidden', 'key']);
      assert.match(String(refused.message), /^images\/ is written by dozen only/);
    }
    assert.equal((await dozen.api(`/storage/objects/images/${APP}/new.tar`, { method: 'HEAD' })).status, 404);
  });

  it('an image archive in the store that is not the one saved for the release is never loaded: the instance fails saying so, and runs nothing', async () => {
    const sick = releases[2];
    // A stand-in archive: a tiny image under a tag of its own, saved where the third release image should be.
    const context = mkdtempSync(join(tmpdir(), 'dozen-not-a-release-'));
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n');
    writeFileSync(join(context, 'a.txt'), 'not a release\n');
    const build = (await docker.buildImage({ context, src: ['Dockerfile', 'a.txt'] }, { t: NOT_A_RELEASE })) as unknown as Readable;
    await new Promise((resolve, reject) => docker.modem.followProgress(build, (error) => (error ? reject(error) : resolve(undefined))));
    rmSync(context, { recursive: true, force: true });
    const archive = Buffer.concat(await ((await docker.getImage(NOT_A_RELEASE).get()) as unknown as Readable).toArray());
    await docker.getImage(NOT_A_RELEASE).remove();
    // Written into the store itself (the local driver's folder), as someone with access to the bucket could: the API refuses images/.
    writeFileSync(join(dozen.dataDir, 'objects', 'data', 'images', APP, `${sick}.tar`), archive);
    await waitFor('no container of the third release', async () => !(await managedOfHost()).some((entry) => entry.Labels['dozen.release'] === sick), 20_000);
    await docker.getImage(`dozen/${APP}:${sick}`).remove();
    // The second release's container serves; the agent may be trying the fourth beside it.
    const serving = (await ofInstance()).find((entry) => entry.Labels['dozen.release'] === releases[1]);
    assert.ok(serving, JSON.stringify(await ofInstance()));

    await expectStatus(dozen, `/deploy/apps/${APP}/rollback`, json({ release: sick }), 201);
    const failed = await waitInstance(dozen, instance, (view) => view.state === 'pending' && /is not the archive saved/.test(String(view.lastError)), 'failed on the archive', 30_000);
    assert.match(String(failed.lastError), new RegExp(`^images/${APP}/${sick}\\.tar is not the archive saved for release ${sick}: its SHA-256 is [0-9a-f]{64}, the release recorded [0-9a-f]{64}; not loaded, refusing to run it$`));
    assert.equal(await imageOf(NOT_A_RELEASE), null, 'the doctored archive was loaded into the Engine');
    assert.ok(!(await managedOfHost()).some((entry) => entry.Labels['dozen.release'] === sick), 'no container of the wrong image');
    assert.ok((await ofInstance()).some((entry) => entry.Id === serving.Id && entry.State === 'running'), 'the old container keeps serving');
    assert.equal(await answer(), 2);
  });
});

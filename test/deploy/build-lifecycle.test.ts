import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { TEST_APP_IMAGE } from '../support/base-image.js';
import { expectStatus, FILE_REPOSITORIES, json, makeRepository, silentGitServer, waitRelease } from './helpers.js';

const TIMEOUT_SECONDS = 10;
const MISSING_BASE = '127.0.0.1:1/missing/php:1';

/**
 * The build queue, with builds that hang in `git fetch` (a server that never
 * answers): one build per app at a time, a newer deploy superseding the queued
 * one, cancel through REST, GraphQL and the CLI, and the build timeout.
 */
describe('deploy builds: queue, supersede, cancel and timeout', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  let silent: Awaited<ReturnType<typeof silentGitServer>>;
  const site = makeRepository();

  const release = async (id: string) => expectStatus(dozen, `/deploy/releases/${id}`, {}, 200);
  const deploy = async (app: string) => String((await expectStatus(dozen, `/deploy/apps/${app}/deploy`, json({}), 202)).id);
  const waitStatus = (id: string, status: string) => waitFor(`release ${id} ${status}`, async () => (await release(id)).status === status, 20_000, 50);

  before(async () => {
    silent = await silentGitServer();
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'queuehost', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET,
        DOZEN_DEPLOY_BUILD_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
        // A base image no host has, from a "registry" on 127.0.0.1 that refuses connections: the Engine's pull fails at once.
        DOZEN_DEPLOY_RUNTIMES_PHP_LARAVEL_BASE_IMAGE: MISSING_BASE,
        ...FILE_REPOSITORIES,
      },
    });
    for (const app of ['slow', 'other']) await expectStatus(dozen, '/deploy/apps', json({ name: app, repository: silent.url(app) }), 201);
  });
  after(async () => {
    await dozen?.stop();
    if (dozen) rmSync(dozen.dataDir, { recursive: true, force: true });
    silent?.stop();
    rmSync(site.dir, { recursive: true, force: true });
  });

  it('one build per app at a time, other apps build beside it, and a newer deploy supersedes the queued one', async () => {
    const first = await deploy('slow');
    await waitStatus(first, 'building');
    const queued = await deploy('slow');
    const other = await deploy('other');
    await waitStatus(other, 'building');
    assert.equal((await release(queued)).status, 'queued', 'a second build of the same app waits');
    assert.equal((await release(first)).status, 'building');

    const newest = await deploy('slow');
    await waitStatus(queued, 'cancelled');
    assert.equal((await release(queued)).error, `superseded by release ${newest}`);
    assert.equal((await release(newest)).status, 'queued');

    // REST: the answer comes once the build stopped; the next queued build of the app then starts.
    const cancelled = await expectStatus(dozen, `/deploy/releases/${first}/cancel`, { method: 'POST' }, 201);
    assert.equal(cancelled.status, 'cancelled');
    assert.match(String(cancelled.error), /error: cancelled$/);
    await waitStatus(newest, 'building');

    // GraphQL.
    const response = await dozen.api('/graphql', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation ($id: String!) { cancelRelease(id: $id) { id status } }', variables: { id: newest } }),
    });
    assert.deepEqual((await response.json()).data, { cancelRelease: { id: newest, status: 'cancelled' } });

    // CLI.
    const cli = await runCli(['app', 'cancel', other, '--server', dozen.url, '--token', dozen.token]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((JSON.parse(cli.stdout) as { status: string }).status, 'cancelled');

    // Nothing left to cancel: 409, and the CLI says so in one line with a non-zero exit.
    const again = await expectStatus(dozen, `/deploy/releases/${first}/cancel`, { method: 'POST' }, 409);
    assert.equal(again.error, 'not_building');
    const cliAgain = await runCli(['app', 'cancel', other, '--server', dozen.url, '--token', dozen.token]);
    assert.notEqual(cliAgain.code, 0);
    assert.match(cliAgain.stderr.trim(), /^dozen: .*release r[0-9a-f]{8} is cancelled, not queued or building$/);

    const audit = await expectStatus<{ events: { action: string; detail: { release?: string } }[] }>(dozen, '/deploy/audit', {}, 200);
    const cancels = audit.events.filter((event) => event.action === 'release.cancel').map((event) => event.detail.release).sort();
    assert.deepEqual(cancels, [first, newest, other].sort());
  });

  it('a build past deploy.buildTimeoutSeconds fails, saying so in its error and log', async () => {
    const id = await deploy('slow');
    await waitStatus(id, 'building');
    const failed = await waitRelease(dozen, id, 'failed', (TIMEOUT_SECONDS + 20) * 1000);
    assert.match(String(failed.error), new RegExp(`error: build timed out after ${TIMEOUT_SECONDS} s$`));
    assert.match(await (await dozen.api(`/deploy/releases/${id}/log`)).text(), /fetching main from https:\/\/127\.0\.0\.1:\d+\/slow\.git\n.*build timed out/s);
  });

  it('an Engine build that reports an error fails the release with the last lines of its log', async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: 'nobase', runtime: 'php-laravel', repository: site.url }), 201);
    const failed = await waitRelease(dozen, await deploy('nobase'), 'failed', 60_000);
    const lines = String(failed.error).split('\n');
    assert.ok(lines.some((line) => line === `using the php-laravel template on ${MISSING_BASE}`), String(failed.error));
    assert.ok(lines.some((line) => line.startsWith(`Step 1/`) && line.endsWith(`: FROM ${MISSING_BASE}`)), String(failed.error));
    assert.match(lines.at(-1)!, /^error: .*127\.0\.0\.1:1/);
  });

  it("a deleted app takes its releases and builds with it: a new app of its name has none to roll back to, and a build under way is dropped (it would have become the new app's release)", async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: 'reborn', runtime: 'image', image: TEST_APP_IMAGE }), 201);
    const old = String((await waitRelease(dozen, await deploy('reborn'), 'ready')).id);
    await expectStatus(dozen, '/deploy/apps', json({ name: 'rebornslow', repository: silent.url('rebornslow') }), 201);
    const building = await deploy('rebornslow');
    await waitStatus(building, 'building');
    for (const app of ['reborn', 'rebornslow']) assert.equal((await dozen.api(`/deploy/apps/${app}`, { method: 'DELETE' })).status, 204);
    await expectStatus(dozen, '/deploy/apps', json({ name: 'reborn', runtime: 'image', image: TEST_APP_IMAGE }), 201);
    await expectStatus(dozen, '/deploy/apps', json({ name: 'rebornslow', repository: silent.url('rebornslow') }), 201);
    for (const app of ['reborn', 'rebornslow']) assert.deepEqual((await expectStatus<{ releases: unknown[] }>(dozen, `/deploy/apps/${app}/releases`, {}, 200)).releases, [], app);
    for (const id of [old, building]) assert.equal((await dozen.api(`/deploy/releases/${id}`)).status, 404, id);
    const rollback = await dozen.api('/deploy/apps/reborn/rollback', { method: 'POST', ...json({ release: old }) });
    assert.equal(rollback.status, 409, await rollback.text());
    assert.equal((await expectStatus(dozen, '/deploy/apps/reborn', {}, 200)).release, null);
  });
});

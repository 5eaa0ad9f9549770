import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { expectStatus, json, silentGitServer } from './helpers.js';

describe('a build cut short by a stop of dozen', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  // The fetch, so the build, hangs until dozen is killed.
  let silent: Awaited<ReturnType<typeof silentGitServer>>;
  const env = { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'buildhost', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET };

  before(async () => {
    silent = await silentGitServer();
    dozen = await startDozen({ env });
  });
  after(async () => {
    await dozen?.stop();
    if (dozen) rmSync(dozen.dataDir, { recursive: true, force: true });
    silent?.stop();
  });

  it('shows failed, saying why, once dozen is back on the build host (not building forever), and its checkout is removed', async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: 'slow', repository: silent.url('slow') }), 201);
    const release = await expectStatus(dozen, '/deploy/apps/slow/deploy', json({}), 202);
    await waitFor('the build to hang in git', async () => silent.connections() > 0 && (await expectStatus(dozen, `/deploy/releases/${String(release.id)}`, {}, 200)).status === 'building', 20_000);
    // The checkout is in the data dir, private, not in the temp dir where a kill would leave the app's code for good.
    const builds = join(dozen.dataDir, 'builds');
    const [checkout] = readdirSync(builds);
    assert.match(checkout, new RegExp(`^${String(release.id)}-`));
    assert.equal(statSync(builds).mode & 0o777, 0o700);
    assert.equal(statSync(join(builds, checkout)).mode & 0o777, 0o700);
    await dozen.stop('SIGKILL');
    assert.ok(existsSync(join(builds, checkout)), 'the kill left the checkout');
    dozen = await startDozen({ dataDir: dozen.dataDir, env });
    assert.equal(existsSync(builds), false, 'the start removed what the kill left');
    const after = await expectStatus(dozen, `/deploy/releases/${String(release.id)}`, {}, 200);
    assert.equal(after.status, 'failed');
    assert.match(String(after.error), /dozen stopped on the build host during the build/);
  });
});

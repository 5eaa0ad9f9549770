import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
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

  it('shows failed, saying why, once dozen is back on the build host (not building forever)', async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: 'slow', repository: silent.url('slow') }), 201);
    const release = await expectStatus(dozen, '/deploy/apps/slow/deploy', json({}), 202);
    await waitFor('the build to hang in git', async () => silent.connections() > 0 && (await expectStatus(dozen, `/deploy/releases/${String(release.id)}`, {}, 200)).status === 'building', 20_000);
    await dozen.stop('SIGKILL');
    dozen = await startDozen({ dataDir: dozen.dataDir, env });
    const after = await expectStatus(dozen, `/deploy/releases/${String(release.id)}`, {}, 200);
    assert.equal(after.status, 'failed');
    assert.match(String(after.error), /dozen stopped on the build host during the build/);
  });
});

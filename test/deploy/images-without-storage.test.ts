import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { TEST_APP_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { expectStatus, json, waitRelease } from './helpers.js';

const APP = 'plainimg';

/**
 * A host that runs deploy without the storage module still saves release
 * images, to the store its `storage` config names (here the default `local`
 * driver: `<dataDir>/objects`). An `image` app's named image is saved too.
 */
describe('release images on a host without the storage module', { timeout: 120_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  let dozen: DozenProcess;
  let release = '';

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'nostoragehost', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath } });
  });

  after(async () => {
    if (dozen) {
      await dozen.api(`/deploy/apps/${APP}`, { method: 'DELETE' }).catch(() => undefined);
      await dozen.stop();
      rmSync(dozen.dataDir, { recursive: true, force: true });
    }
    // Only dozen's tag: the test app image itself is the bench's and keeps its own.
    if (release) await docker.getImage(`dozen/${APP}:${release}`).remove().catch(() => undefined);
  });

  it('saves the image of an image app to the store of its storage config, tagged for the release', async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: APP, runtime: 'image', image: TEST_APP_IMAGE }), 201);
    release = String((await expectStatus(dozen, `/deploy/apps/${APP}/deploy`, json({}), 202)).id);
    const ready = await waitRelease(dozen, release, 'ready');
    await waitFor('the archive to be saved', async () => (await (await dozen.api(`/deploy/releases/${release}/log`)).text()).includes(`image saved to the object store as images/${APP}/${release}.tar`), 30_000, 100);
    const archive = statSync(join(dozen.dataDir, 'objects', 'data', 'images', APP, `${release}.tar`));
    assert.ok(archive.size > 1024 * 1024, `archive of ${archive.size} bytes`);
    assert.equal((await docker.getImage(`dozen/${APP}:${release}`).inspect()).Id, ready.imageId);
    assert.equal((await docker.getImage(TEST_APP_IMAGE).inspect()).Id, ready.imageId, 'the named image keeps its own tag');
  });
});

import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { BASE_IMAGE } from '../support/base-image.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { waitFor } from '../support/ports.js';

describe("the tailer follows a container's Docker json-file log", { timeout: 120_000 }, () => {
  let docker: Docker;
  let container: Docker.Container | undefined;
  let dozen: DozenProcess | undefined;
  before(async () => {
    const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
    docker = new Docker({ socketPath });
    await docker.ping().catch(() => {
      throw new Error(`no Docker Engine at ${socketPath}: run the tests through the bench (npm test -- storage)`);
    });
  });
  after(async () => {
    await dozen?.stop();
    await container?.remove({ force: true }).catch(() => undefined);
  });

  it('ships every line the container writes, keyed by its dozen.app label', async () => {
    container = await docker.createContainer({
      Image: BASE_IMAGE,
      Cmd: ['node', '-e', "let n = 0; const t = setInterval(() => { console.log('container line ' + (++n)); if (n === 300) { clearInterval(t); setTimeout(() => {}, 60000); } }, 5);"],
      Labels: { 'dozen.app': 'shop', 'dozen.test': 'storage-tailer' },
      HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: {} } },
    });
    // Docker names the log file only when the container starts; a file found with lines in it is shipped from its start.
    await container.start();
    const { LogPath } = await container.inspect();
    assert.ok(LogPath, 'the container has a json-file log');
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'storage',
        DOZEN_HOST_NAME: 'dockerhost',
        DOZEN_STORAGE_TAIL: JSON.stringify([{ glob: `${dirname(LogPath)}/*-json.log`, key: 'logs/{app}/{host}/{date}.log' }]),
        DOZEN_STORAGE_TAILER_FLUSH_MS: '200',
        DOZEN_STORAGE_TAILER_SCAN_MS: '200',
      },
    });
    const key = `logs/shop/dockerhost/${new Date().toISOString().slice(0, 10)}.log`;
    let text = '';
    await waitFor(
      'the 300 container lines in the object',
      async () => {
        const response = await dozen!.api('/storage/objects/' + key);
        text = response.status === 200 ? await response.text() : '';
        return text.split('\n').filter(Boolean).length >= 300;
      },
      60_000,
      200,
    ).catch((error: Error) => assert.fail(`${error.message}; object has ${text.length} bytes\n${dozen!.logs().slice(-2000)}`));
    const lines = text.trim().split('\n').map((line) => JSON.parse(line) as { log: string; stream: string });
    assert.deepEqual(lines.map((line) => line.log), Array.from({ length: 300 }, (_, index) => `container line ${index + 1}\n`));
    assert.ok(lines.every((line) => line.stream === 'stdout'));
  });
});

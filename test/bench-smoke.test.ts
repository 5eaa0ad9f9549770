import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BASE_IMAGE, ensureBaseImage } from './support/base-image.js';
import { launchChromium } from './support/chromium.js';
import { startDockerEngine, type DockerEngine } from './support/docker-engine.js';
import { startMariaDb, type MariaDb } from './support/mariadb.js';
import { startDozen } from './support/dozen-process.js';

describe('test bench', () => {
  let engine: DockerEngine;
  let mariadb: MariaDb;
  before(async () => {
    engine = await startDockerEngine();
    mariadb = await startMariaDb();
  });
  after(async () => {
    await mariadb?.stop();
    await engine?.stop();
  });

  it('runs a container from the local base image on the host network and reads its output', async () => {
    await ensureBaseImage(engine.docker);
    const output = new PassThrough();
    let text = '';
    output.on('data', (chunk) => (text += chunk));
    const [result, container] = await engine.docker.run(BASE_IMAGE, ['node', '-e', 'console.log("hello from", process.version)'], output, {
      HostConfig: { NetworkMode: 'host', AutoRemove: false },
      Tty: true,
    });
    await container.remove({ force: true });
    assert.equal(result.StatusCode, 0);
    assert.match(text, new RegExp(`hello from v${process.versions.node.replace(/\./g, '\\.')}`));
  });

  it('gives a MariaDB with the binlog on in ROW format with full row images', async () => {
    const connection = await mariadb.connect();
    try {
      const [rows] = await connection.query("SHOW VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image', 'server_id')");
      const variables = Object.fromEntries((rows as { Variable_name: string; Value: string }[]).map((row) => [row.Variable_name, row.Value]));
      assert.equal(variables.log_bin, 'ON');
      assert.equal(variables.binlog_format, 'ROW');
      assert.equal(variables.binlog_row_image, 'FULL');
      assert.notEqual(variables.server_id, '1');
    } finally {
      await connection.end();
    }
  });

  it("gives a Chromium that renders dozen's health page", async () => {
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'storage' } });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(dozen.url + '/health');
      const text = await page.locator('body').innerText();
      assert.equal(JSON.parse(text).modules.storage.status, 'up');
    } finally {
      await browser.close();
      await dozen.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_APP_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { expectStatus, FILE_REPOSITORIES, json, waitRelease } from './helpers.js';

const PRINTED = 200_000;
/** Line n of the chatty step: its number, then 200 characters in all. */
const printedLine = (n: number) => `line ${String(n).padStart(8, '0')} ${'x'.repeat(186)}`;
const NO_BRIDGE_NOTE = "note: this Engine has no bridge network (dockerd --bridge=none), so the build's steps have no network; set deploy.containers.buildNetwork: host";

/** A repository whose Dockerfile runs `script` with node (the bench's base image has no shell). */
function repositoryRunning(script: string): { url: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-build-log-repo-'));
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${TEST_APP_IMAGE}\nRUN ${JSON.stringify(['node', '-e', script])}\n`);
  execFileSync('sh', ['-c', 'git init -q -b main && git add . && git -c user.email=t@dozen -c user.name=t commit -qm build'], { cwd: dir });
  return { url: `file://${dir}`, dir };
}

/**
 * A build whose RUN step prints a lot, on the bench's real Engine: dozen keeps answering while it prints, a
 * follower of the log gets every line, and the stored log keeps where the code came from and how it ended.
 */
describe('deploy: the log of a build that prints a lot', { timeout: 240_000 }, () => {
  let dozen: DozenProcess;
  const chatty = repositoryRunning(
    `const pad = (n) => String(n).padStart(8, '0'); const lines = []; for (let n = 0; n < ${PRINTED}; n++) lines.push('line ' + pad(n) + ' ' + 'x'.repeat(186)); process.stdout.write(lines.join('\\n') + '\\n', () => process.exit(3));`,
  );
  // Waits (for the test's cancel) once it said so.
  const stuck = repositoryRunning("console.log('waiting for the cancel'); setInterval(() => {}, 1000);");

  before(async () => {
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'loghost', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET,
        DOZEN_DEPLOY_BUILD_TIMEOUT_SECONDS: '180',
        ...FILE_REPOSITORIES,
      },
    });
    await expectStatus(dozen, '/deploy/apps', json({ name: 'chatty', repository: chatty.url }), 201);
    await expectStatus(dozen, '/deploy/apps', json({ name: 'stuck', repository: stuck.url }), 201);
  });
  after(async () => {
    await dozen?.stop();
    for (const repository of [chatty, stuck]) rmSync(repository.dir, { recursive: true, force: true });
  });

  it('dozen answers while the build prints; a follower gets every line; the stored log keeps its head and tail and says how much it left out', async () => {
    const release = String((await expectStatus(dozen, '/deploy/apps/chatty/deploy', json({}), 202)).id);
    await waitFor('the build to start', async () => (await expectStatus(dozen, `/deploy/releases/${release}`, {}, 200)).status === 'building', 20_000, 20);

    // A follower from now on: what the log held when it joined, then every line to the end.
    const following = (async () => {
      const response = await dozen.api(`/deploy/releases/${release}/log?follow=1`);
      return response.text();
    })();
    // /health all along: copying the kept log at every line held the event loop for seconds at a time.
    let slowest = 0;
    let asked = 0;
    let ended = false;
    const asking = (async () => {
      while (!ended) {
        const started = Date.now();
        assert.equal((await fetch(`${dozen.url}/health`)).status, 200);
        slowest = Math.max(slowest, Date.now() - started);
        asked++;
      }
    })();
    const failed = await waitRelease(dozen, release, 'failed', 180_000).finally(() => (ended = true));
    await asking;
    assert.ok(asked > 1 && slowest < 2000, `the slowest of ${asked} /health answers during the build took ${slowest} ms`);

    const followed = (await following).trimEnd().split('\n');
    const numbered = followed.filter((line) => line.startsWith('line ')).map((line) => Number(line.slice(5, 13)));
    // Whole lines, though the Engine's stream cuts the step's output where its writes end.
    assert.ok(followed.filter((line) => /^(line |x)/.test(line)).every((line, i) => line === printedLine(numbered[i])), 'every line is whole');
    assert.equal(numbered.at(-1), PRINTED - 1, 'the follower got the last line');
    assert.ok(numbered.every((n, i) => i === 0 || n === numbered[i - 1] + 1), 'the follower got every line from where it joined, once each, in order');
    assert.match(followed.at(-1)!, /^error: .*returned a non-zero code: 3$/);

    const stored = (await (await dozen.api(`/deploy/releases/${release}/log`)).text()).trimEnd().split('\n');
    assert.match(stored[0], /^fetching main from file:\/\/.*dozen-build-log-repo-/);
    assert.match(stored[1], /^commit [0-9a-f]{40}$/);
    assert.equal(stored[2], 'using the repository Dockerfile');
    const note = stored.find((line) => line.startsWith('… ')) ?? assert.fail('no note of what was left out');
    const [, leftOut, bytes] = /^… (\d+) lines \((\d+) bytes\) left out …$/.exec(note) ?? assert.fail(note);
    assert.ok(Number(leftOut) > PRINTED / 2 && Number(bytes) >= Number(leftOut) * 201, note);
    assert.equal(stored.at(-1), followed.at(-1));
    assert.ok(stored.includes(printedLine(PRINTED - 1)), 'the stored log keeps the last line printed');
    assert.equal(String(failed.error).split('\n').at(-1), followed.at(-1), "the release's error ends with the Engine's");
  });

  it('a cancelled build does not say again the no-bridge note a failure repeats, and its checkout is gone', async () => {
    const release = String((await expectStatus(dozen, '/deploy/apps/stuck/deploy', json({}), 202)).id);
    await waitFor('the step to wait', async () => (await (await dozen.api(`/deploy/releases/${release}/log`)).text()).includes('waiting for the cancel'), 60_000, 100);
    const cancelled = await expectStatus(dozen, `/deploy/releases/${release}/cancel`, { method: 'POST' }, 201);
    assert.equal(cancelled.status, 'cancelled');
    assert.match(String(cancelled.error), /\nerror: cancelled$/);
    // The bench's Engine has no bridge: said once, before the steps, and not again for a cancel, which is no failure.
    const log = await (await dozen.api(`/deploy/releases/${release}/log`)).text();
    assert.equal(log.split(NO_BRIDGE_NOTE).length - 1, 1, log);
    assert.equal(String(cancelled.error).split(NO_BRIDGE_NOTE).length - 1, 1, String(cancelled.error));
    assert.deepEqual(readdirSync(join(dozen.dataDir, 'builds')), [], 'the checkouts of ended builds are removed');
  });
});

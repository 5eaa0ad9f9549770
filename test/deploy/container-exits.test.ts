import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { BASE_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { expectStatus, json, waitInstance, waitRelease } from './helpers.js';
import { notificationReceiver, type NotificationReceiver } from '../support/notification-receiver.js';

const HOST = 'exitstest';
const HEALTH_TIMEOUT_SECONDS = 8;

/** Apps as most Node apps are written: none handles SIGTERM. Each is `node -e <script>` on the bench's node base image. */
const SCRIPTS = {
  /** Answers every path; node's default for SIGTERM is to die, but only when it is not PID 1. */
  'no-sigterm': "require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'))",
  /** Gives up at start, as an app missing its config does (on one stream: stdout and stderr lines may come back in either order). */
  'exits-at-start': "console.error('reading config'); console.error('DATABASE_URL is not set'); process.exit(3)",
  /** Runs and never listens. */
  silent: "console.log('warming up for ever'); setInterval(() => {}, 60_000)",
  /**
   * The app behind a wrapper that passes no signal on (as `sh -c 'node server.js'` does; the base image has no shell):
   * on SIGTERM the app tells the test's receiver (the host network's loopback) and ends; the wrapper ignores it.
   */
  wrapped:
    "const app = `process.on('SIGTERM', () => fetch(process.env.TOLD_URL, { method: 'POST', body: JSON.stringify({ event: 'app.sigterm', subject: 'wrapped' }) }).finally(() => process.exit(0))); " +
    "require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')`; " +
    "process.on('SIGTERM', () => {}); require('node:child_process').spawn(process.execPath, ['-e', app], { stdio: 'inherit' }).on('exit', (code) => process.exit(code ?? 1))",
} as const;
type Script = keyof typeof SCRIPTS;
const imageOf = (script: Script) => `dozen-test/${script}:1`;

/**
 * How the containers of apps end, on the bench's real Docker Engine: a stop or restart of an app with
 * no SIGTERM handler ends it by that signal, not by the SIGKILL at the end of the 10 s grace (the
 * container's PID 1 is Docker's init, not the app); a container that exits while dozen waits for its
 * health answer is `crashed` with its exit code, and one that runs without answering is `unhealthy`.
 */
describe('deploy agent: how containers end', { timeout: 180_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  let dozen: DozenProcess;
  /** What dozen's notifications told a webhook on loopback (notify.channels). */
  let receiver: NotificationReceiver;

  const managedOfHost = () => docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.host=${HOST}`] } });
  /** An image app running `script`, with a ready release, and one instance of it on this host. */
  const instanceOf = async (script: Script, env?: Record<string, string>): Promise<string> => {
    await expectStatus(dozen, '/deploy/apps', json({ name: script, runtime: 'image', image: imageOf(script), ...(env ? { env } : {}) }), 201);
    const release = await expectStatus(dozen, `/deploy/apps/${script}/deploy`, json({}), 202);
    await waitRelease(dozen, String(release.id), 'ready');
    return String((await expectStatus(dozen, '/deploy/instances', json({ app: script, host: HOST }), 201)).id);
  };
  /**
   * Listens from the call on for the container's `die` event (it is removed right after) and gives the exit code the
   * Engine reports there. The promise is wrapped: an async function would wait for it before returning.
   */
  const dieOf = async (container: string): Promise<{ exitCode: Promise<number> }> => {
    const events = (await docker.getEvents({ filters: { type: ['container'], container: [container], event: ['die'] } })) as unknown as Readable;
    const exitCode = new Promise<number>((resolve, reject) => {
      let text = '';
      events.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        const line = text.split('\n').find((entry) => entry.trim());
        if (!line) return;
        events.destroy();
        resolve(Number((JSON.parse(line) as { Actor: { Attributes: { exitCode: string } } }).Actor.Attributes.exitCode));
      });
      events.on('error', reject);
    });
    return { exitCode };
  };

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    for (const script of Object.keys(SCRIPTS) as Script[]) {
      const context = mkdtempSync(join(tmpdir(), 'dozen-exits-'));
      try {
        writeFileSync(join(context, 'Dockerfile'), `FROM ${BASE_IMAGE}\nCMD ${JSON.stringify(['node', '-e', SCRIPTS[script]])}\n`);
        const build = (await docker.buildImage({ context, src: ['Dockerfile'] }, { t: imageOf(script), networkmode: 'host' } as never)) as unknown as Readable;
        await new Promise((resolve, reject) => docker.modem.followProgress(build, (error) => (error ? reject(error) : resolve(undefined))));
      } finally {
        rmSync(context, { recursive: true, force: true });
      }
    }
    receiver = await notificationReceiver();
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: HOST, DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath,
        DOZEN_DEPLOY_DRAIN_SECONDS: '0', DOZEN_DEPLOY_HEALTH_TIMEOUT_SECONDS: String(HEALTH_TIMEOUT_SECONDS), DOZEN_DEPLOY_LOGS_SHIP: 'false',
        DOZEN_NOTIFY_CHANNELS: JSON.stringify([{ name: 'team', type: 'webhook', url: receiver.url, events: ['instance.crashed'] }]),
      },
    });
  });

  after(async () => {
    if (dozen) {
      for (const script of Object.keys(SCRIPTS)) await dozen.api(`/deploy/apps/${script}`, { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the app containers to go', async () => (await managedOfHost()).length === 0, 30_000).catch(() => undefined);
      await dozen.stop();
      rmSync(dozen.dataDir, { recursive: true, force: true });
    }
    for (const container of await managedOfHost()) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
    for (const script of Object.keys(SCRIPTS) as Script[]) {
      for (const image of await docker.listImages({ filters: { label: [`dozen.app=${script}`] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
      await docker.getImage(imageOf(script)).remove({ force: true }).catch(() => undefined);
    }
    receiver?.close();
  });

  it('an app with no SIGTERM handler ends by SIGTERM on a restart and on a stop, not by the SIGKILL at the end of the grace (exit 137)', async () => {
    const instance = await instanceOf('no-sigterm');
    const first = await waitInstance(dozen, instance, (view) => view.state === 'running', 'running');

    const replaced = await dieOf(String(first.containerId));
    await expectStatus(dozen, `/deploy/instances/${instance}/restart`, { method: 'POST' }, 201);
    const second = await waitInstance(dozen, instance, (view) => view.state === 'running' && view.generation === 2, 'restarted');
    // 143: the init passed SIGTERM on, the app died of it, and the init exits 128 + 15.
    assert.equal(await replaced.exitCode, 143, 'the replaced container was killed at the end of the grace');

    assert.equal((await docker.getContainer(String(second.containerId)).inspect()).HostConfig.Init, true, "the container's PID 1 is Docker's init");
    const stopped = await dieOf(String(second.containerId));
    await expectStatus(dozen, `/deploy/instances/${instance}/stop`, { method: 'POST' }, 201);
    await waitInstance(dozen, instance, (view) => view.state === 'stopped', 'stopped');
    assert.equal(await stopped.exitCode, 143, 'the stopped container was killed at the end of the grace');
  });

  it('an app behind a wrapper that passes no signal on gets the SIGTERM too (the init signals its process group) and ends cleanly', async () => {
    const instance = await instanceOf('wrapped', { TOLD_URL: receiver.url });
    const running = await waitInstance(dozen, instance, (view) => view.state === 'running', 'running');
    const died = await dieOf(String(running.containerId));
    await expectStatus(dozen, `/deploy/instances/${instance}/stop`, { method: 'POST' }, 201);
    await waitInstance(dozen, instance, (view) => view.state === 'stopped', 'stopped');
    assert.ok(receiver.notified.some((told) => told.event === 'app.sigterm'), 'the app behind the wrapper never got SIGTERM');
    assert.equal(await died.exitCode, 0, 'the wrapper ended with the app, not by the SIGKILL at the end of the grace');
  });

  it('a container that exits while dozen waits for its health answer is crashed with its exit code and last lines, counted, and started again after a backoff', async () => {
    const instance = await instanceOf('exits-at-start');
    const crashed = await waitInstance(dozen, instance, (view) => view.state === 'crashed', 'crashed', 30_000);
    assert.match(String(crashed.lastError), /^exited with code 3 before answering \/ on port \d+; last lines:\nreading config\nDATABASE_URL is not set$/);
    assert.equal(crashed.containerId, null);
    // Counted as a crash, each new container after a backoff (1 s, then 2 s, ...), with no 8 s wait for a health answer in between.
    const again = await waitInstance(dozen, instance, (view) => Number(view.restarts) >= 3, 'three tries', HEALTH_TIMEOUT_SECONDS * 1000);
    assert.ok(['crashed', 'starting'].includes(String(again.state)), JSON.stringify(again));
    const told = await waitFor('the instance.crashed notification', async () => receiver.notified.find((message) => message.event === 'instance.crashed' && message.subject === instance), 15_000);
    assert.match(told.message, /^exits-at-start: exited with code 3 before answering \/ on port \d+; last lines:$/);
    assert.deepEqual(told.detail, { app: 'exits-at-start', exitCode: 3, restarts: 1 });
  });

  it('a container that runs but does not answer within the health timeout is unhealthy, saying so', async () => {
    const instance = await instanceOf('silent');
    const unhealthy = await waitInstance(dozen, instance, (view) => view.state === 'unhealthy', 'unhealthy', 60_000);
    assert.match(String(unhealthy.lastError), new RegExp(`^/ on port \\d+ did not answer 2xx-3xx within ${HEALTH_TIMEOUT_SECONDS} s; last lines:\\nwarming up for ever$`));
    assert.equal(unhealthy.restarts, 1);
    assert.ok(!receiver.notified.some((message) => message.subject === instance), 'an unhealthy container is no crash');
  });
});

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { BASE_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { runCli } from '../support/cli.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { expectStatus, FILE_REPOSITORIES, json, makeRepository, steadyClient, viaProxy, waitInstance, waitRelease } from './helpers.js';
import { notificationReceiver, type NotificationReceiver } from '../support/notification-receiver.js';

const HOST = 'deploytest';
const DOMAIN = 'hello.deploy.test';

/**
 * The whole path on the bench's real Docker Engine: an app in a local git
 * repository is built with the nodejs template, run as instances on this
 * host, and answers through dozen's proxy; restarts and deploys drop nothing.
 * One build per ref, reused by every case below (builds are slow on 2 cores).
 */
describe('deploy: from a git repository to answers through the proxy', { timeout: 240_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  const repository = makeRepository();
  let dozen: DozenProcess;
  let proxyPort: number;
  let bystander: Docker.Container;
  let firstRelease: string;
  const instances: string[] = [];
  /** What dozen's notifications told a webhook on loopback (notify.channels). */
  let receiver: NotificationReceiver;

  const answer = async () => {
    const reply = await viaProxy(proxyPort, DOMAIN);
    assert.equal(reply.status, 200, reply.body);
    return JSON.parse(reply.body) as { version: number; env: Record<string, string> };
  };

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    // A container dozen did not make, labelled like an app's but without dozen.managed=true: it must never be touched.
    bystander = await docker.createContainer({
      Image: BASE_IMAGE, Cmd: ['node', '-e', 'setInterval(() => {}, 1000)'],
      Labels: { 'dozen.app': 'hello', 'dozen.host': HOST, 'dozen.instance': 'i00000000', 'dozen.test': 'deploy-bystander' }, HostConfig: { NetworkMode: 'none' },
    });
    await bystander.start();
    receiver = await notificationReceiver();
    proxyPort = await freePort();
    dozen = await startDozen({ env: dozenEnv() });
  });

  after(async () => {
    if (dozen) {
      await dozen.api('/deploy/apps/hello', { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the app containers to go', async () => (await managedOfHost()).length === 0, 30_000).catch(() => undefined);
      await dozen.stop();
      rmSync(dozen.dataDir, { recursive: true, force: true });
    }
    for (const container of await managedOfHost()) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
    await bystander?.remove({ force: true }).catch(() => undefined);
    // The release images this run built (dozen keeps them for rollbacks; the bench's engine is shared and long-lived).
    for (const image of await docker.listImages({ filters: { label: ['dozen.app=hello'] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    rmSync(repository.dir, { recursive: true, force: true });
    receiver?.close();
  });

  const dozenEnv = () => ({
    DOZEN_MODULES: 'proxy,registry,deploy,storage',
    DOZEN_HOST_NAME: HOST,
    DOZEN_PROXY_LISTEN_PORT: String(proxyPort),
    DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath,
    DOZEN_DEPLOY_RUNTIMES_NODEJS_BASE_IMAGE: BASE_IMAGE,
    DOZEN_DEPLOY_DRAIN_SECONDS: '1',
    DOZEN_DEPLOY_HEALTH_TIMEOUT_SECONDS: '20',
    ...FILE_REPOSITORIES,
    DOZEN_NOTIFY_CHANNELS: JSON.stringify([{ name: 'team', type: 'webhook', url: receiver.url, events: ['deploy.succeeded', 'deploy.failed', 'instance.crashed'] }]),
  });
  const managedOfHost = () => docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.host=${HOST}`] } });

  it('registers an app, builds main with the nodejs template, and runs an instance that answers through the proxy with its env', async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: 'hello', repository: repository.url, domains: [DOMAIN], env: { GREETING: 'hi' }, secrets: { API_KEY: 'k-123' } }), 201);
    const release = await expectStatus(dozen, '/deploy/apps/hello/deploy', json({}), 202);
    const built = await waitRelease(dozen, String(release.id), 'ready');
    firstRelease = String(release.id);
    assert.equal(built.commit, repository.commit('main'));
    const log = await (await dozen.api(`/deploy/releases/${firstRelease}/log`)).text();
    assert.match(log, /using the nodejs template on dozen\/node-base/);

    const created = await expectStatus(dozen, '/deploy/instances', json({ app: 'hello', host: HOST }), 201);
    instances.push(String(created.id));
    const running = await waitInstance(dozen, instances[0], (instance) => instance.state === 'running', 'running');
    const body = await answer();
    assert.equal(body.version, 1);
    assert.equal(body.env.GREETING, 'hi');
    assert.equal(body.env.API_KEY, 'k-123');
    assert.equal(body.env.DOZEN_APP, 'hello');
    assert.equal(body.env.DOZEN_DOMAIN, DOMAIN);
    assert.equal(body.env.DOZEN_INSTANCE, instances[0]);
    assert.equal(body.env.DOZEN_HOST_IP, '127.0.0.1');
    assert.equal(body.env.PORT, String(running.port));
    assert.equal(body.env.DOZEN_URL, dozen.url);

    // The container's token writes under apps/hello/ and nowhere else.
    const asApp = (path: string) => fetch(dozen.url + path, { method: 'PUT', body: 'x', headers: { authorization: `Bearer ${body.env.DOZEN_TOKEN}` } });
    assert.equal((await asApp('/storage/objects/apps/hello/upload.txt')).status, 201);
    assert.equal((await asApp('/storage/objects/apps/other/upload.txt')).status, 403);

    // Secrets are write-only: the API names them, never shows them.
    const app = await expectStatus(dozen, '/deploy/apps/hello', {}, 200);
    assert.deepEqual(app.secrets, ['API_KEY']);
    assert.ok(!JSON.stringify(app).includes('k-123'));

    // The container's output, and its load from the Docker stats API in the registry (for the least-load balancer).
    const logs = await (await dozen.api(`/deploy/instances/${instances[0]}/logs?tail=10`)).text();
    assert.match(logs, new RegExp(`v1 listening on ${String(running.port)}`));
    await waitFor('load figures of the instance in the registry', async () => {
      const service = (await expectStatus<{ instances: { load: { memory: number; processes: number } | null }[] }>(dozen, '/registry/services/hello', {}, 200));
      return service.instances[0]?.load && service.instances[0].load.memory > 0 && service.instances[0].load.processes >= 1;
    }, 15_000, 200);

    const [container] = (await managedOfHost()).filter((entry) => entry.Labels['dozen.instance'] === instances[0]);
    assert.equal(container.Names[0], `/dozen-hello-${instances[0]}-${firstRelease}`);
    assert.equal(container.Labels['dozen.app'], 'hello');
    assert.equal(container.Labels['dozen.release'], firstRelease);
    assert.equal(container.HostConfig.NetworkMode, 'host');
  });

  it('a restart of the only instance drops no request of a client sending one every 10 ms', async () => {
    const before = await expectStatus(dozen, `/deploy/instances/${instances[0]}`, {}, 200);
    const client = steadyClient(proxyPort, DOMAIN);
    await waitFor('the client to send', async () => true);
    await expectStatus(dozen, `/deploy/instances/${instances[0]}/restart`, { method: 'POST' }, 201);
    await waitInstance(dozen, instances[0], (instance) => instance.state === 'running' && instance.generation === 2 && instance.containerId !== before.containerId, 'restarted');
    // Past the drain, so the old container is stopped while the client still sends.
    await waitFor('the old container to be gone', async () => !(await managedOfHost()).some((entry) => entry.Id === before.containerId), 20_000);
    const { sent, failed } = await client.stop();
    assert.ok(sent > 100, `only ${sent} requests sent`);
    assert.deepEqual(failed, [], `${failed.length} of ${sent} failed`);
  });

  it('scaled to two instances on this host, both serve', async () => {
    const scaled = await expectStatus<{ instances: { id: string }[] }>(dozen, '/deploy/apps/hello/scale', json({ host: HOST, count: 2 }), 201);
    assert.equal(scaled.instances.length, 2);
    instances.push(scaled.instances.map((instance) => instance.id).find((id) => id !== instances[0])!);
    await waitInstance(dozen, instances[1], (instance) => instance.state === 'running', 'running');
    const seen = new Set<string>();
    await waitFor('answers from both instances', async () => {
      seen.add((await answer()).env.DOZEN_INSTANCE);
      return seen.size === 2;
    }, 20_000, 10);
    assert.deepEqual([...seen].sort(), [...instances].sort());
  });

  it("a domain added to the app is served by its running instances at once, without a restart, and a removed one no longer is (the resync is 30 s: the change itself reaches the agent)", async () => {
    const extra = 'www.hello.deploy.test';
    const containers = async () => Promise.all(instances.map(async (id) => String((await expectStatus(dozen, `/deploy/instances/${id}`, {}, 200)).containerId)));
    const before = await containers();
    assert.equal((await viaProxy(proxyPort, extra)).status, 404);
    await expectStatus(dozen, '/deploy/apps/hello/domains', json({ domain: extra }), 201);
    await waitFor(`${extra} served`, async () => (await viaProxy(proxyPort, extra)).status === 200, 10_000, 50);
    await expectStatus(dozen, `/deploy/apps/hello/domains/${extra}`, { method: 'DELETE' }, 200);
    await waitFor(`${extra} no longer served`, async () => (await viaProxy(proxyPort, extra)).status === 404, 10_000, 50);
    assert.equal((await viaProxy(proxyPort, DOMAIN)).status, 200);
    assert.deepEqual(await containers(), before, 'no container was replaced');
  });

  it('a deploy of a new ref drops no request, and then the new version answers; a rollback needs no build', async () => {
    const client = steadyClient(proxyPort, DOMAIN);
    const release = await expectStatus(dozen, '/deploy/apps/hello/deploy', json({ ref: 'v2' }), 202);
    const built = await waitRelease(dozen, String(release.id), 'ready');
    assert.equal(built.commit, repository.commit('v2'));
    for (const id of instances) await waitInstance(dozen, id, (instance) => instance.state === 'running' && instance.runningRelease === release.id, `running ${String(release.id)}`);
    await waitFor('only version 2 to answer', async () => {
      for (let i = 0; i < 10; i++) if ((await answer()).version !== 2) return false;
      return true;
    }, 20_000, 50);
    const { sent, failed, versions } = await client.stop();
    assert.deepEqual(failed, [], `${failed.length} of ${sent} failed`);
    assert.deepEqual([...versions].sort(), [1, 2]);

    const releasesBefore = (await expectStatus<{ releases: unknown[] }>(dozen, '/deploy/apps/hello/releases', {}, 200)).releases.length;
    const rolledBack = await expectStatus(dozen, '/deploy/apps/hello/rollback', json({}), 201);
    assert.equal(rolledBack.id, firstRelease);
    for (const id of instances) await waitInstance(dozen, id, (instance) => instance.state === 'running' && instance.runningRelease === firstRelease, 'back on the first release');
    assert.equal((await answer()).version, 1);
    assert.equal((await expectStatus<{ releases: unknown[] }>(dozen, '/deploy/apps/hello/releases', {}, 200)).releases.length, releasesBefore, 'a rollback builds nothing');
  });

  it('a container killed from outside shows crashed, then runs again', async () => {
    const before = await expectStatus(dozen, `/deploy/instances/${instances[1]}`, {}, 200);
    await docker.getContainer(String(before.containerId)).kill();
    const crashed = await waitInstance(dozen, instances[1], (instance) => instance.state === 'crashed' || Number(instance.restarts) > 0, 'crashed', 15_000);
    assert.match(String(crashed.lastError), /exited with code 137/);
    const again = await waitInstance(dozen, instances[1], (instance) => instance.state === 'running' && instance.containerId !== before.containerId, 'running again', 30_000);
    assert.equal(again.restarts, 1);
    const told = await waitFor('the instance.crashed notification', async () => receiver.notified.find((message) => message.event === 'instance.crashed' && message.subject === instances[1]), 15_000);
    assert.match(told.message, /^hello: exited with code 137/);
    assert.deepEqual(told.detail, { app: 'hello', exitCode: 137, restarts: 1 });
    assert.ok(receiver.notified.some((message) => message.event === 'deploy.succeeded' && message.subject === 'hello'), JSON.stringify(receiver.notified));
  });

  it('a build error fails the release with the tail of its log (dozen app deploy follows it and exits 1); the instances keep running', async () => {
    const cli = await runCli(['app', 'deploy', 'hello', '--ref', 'broken', '--server', dozen.url, '--token', dozen.token]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /\[\d+\/\d+\] Step \d+\/\d+ : RUN/, 'the build log is followed with a progress prefix');
    const lastLine = cli.stderr.trimEnd().split('\n').pop()!;
    assert.match(lastLine, /^dozen: release r[0-9a-f]{8} failed: /);
    const id = /release (r[0-9a-f]{8}) failed/.exec(lastLine)![1];
    const failed = await expectStatus(dozen, `/deploy/releases/${id}`, {}, 200);
    assert.equal(failed.status, 'failed');
    assert.match(String(failed.error), /does-not-exist|no such file/i);
    for (const id of instances) assert.equal((await expectStatus(dozen, `/deploy/instances/${id}`, {}, 200)).state, 'running');
    assert.equal((await answer()).version, 1);
  });

  it('a dozen killed in the middle of a restart reconciles to the desired state when it is back, without a duplicate container', async () => {
    const id = instances[0];
    const before = await expectStatus(dozen, `/deploy/instances/${id}`, {}, 200);
    await expectStatus(dozen, `/deploy/instances/${id}/restart`, { method: 'POST' }, 201);
    const ofInstance = async () => (await managedOfHost()).filter((entry) => entry.Labels['dozen.instance'] === id);
    await waitFor('the new container to exist beside the old', async () => (await ofInstance()).length === 2, 20_000, 20);
    await dozen.stop('SIGKILL');
    dozen = await startDozen({ dataDir: dozen.dataDir, env: dozenEnv() });
    const after = await waitInstance(dozen, id, (instance) => instance.state === 'running' && instance.generation === Number(before.generation) + 1, 'running the new generation');
    await waitFor('one container left', async () => (await ofInstance()).length === 1, 20_000);
    const [left] = await ofInstance();
    assert.equal(left.Id, after.containerId);
    assert.equal(left.Labels['dozen.generation'], String(Number(before.generation) + 1));
    assert.equal((await answer()).version, 1);
  });

  it('never touched the container without dozen.managed=true', async () => {
    const info = await bystander.inspect();
    assert.equal(info.State.Running, true);
    assert.equal(info.RestartCount, 0);
    assert.equal(info.Name, (await bystander.inspect()).Name);
    const audit = await expectStatus<{ events: { action: string }[] }>(dozen, '/deploy/audit', {}, 200);
    for (const action of ['app.create', 'app.deploy', 'instance.create', 'instance.restart', 'app.rollback', 'app.scale']) {
      assert.ok(audit.events.some((event) => event.action === action), `audit has ${action}`);
    }
  });
});

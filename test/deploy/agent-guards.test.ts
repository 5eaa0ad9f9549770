import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { TEST_APP_IMAGE } from '../support/base-image.js';
import { ConsulStandin } from '../support/consul-standin.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { expectStatus, FILE_REPOSITORIES, json, waitInstance, waitRelease } from './helpers.js';

const HOST = 'guardtest';
/** Bits of /proc/<pid>/status's capability masks (linux/capability.h). */
const CAP = { NET_BIND_SERVICE: 10, NET_ADMIN: 12, NET_RAW: 13, SYS_ADMIN: 21, SETUID: 7, CHOWN: 0 };

/** Runs `command` in the container (as its main process runs) and returns what it printed. */
async function execIn(docker: Docker, container: string, command: string[]): Promise<string> {
  const exec = await docker.getContainer(container).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  let output = '';
  const sink = { write: (chunk: Buffer) => ((output += chunk.toString('utf8')), true) } as unknown as NodeJS.WritableStream;
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise((resolve) => stream.on('end', resolve));
  return output;
}

/**
 * What the agent refuses to run, or to believe, on the bench's real Docker Engine. The apps are the
 * bench's ready test image (runtime `image`: no build), which answers on 127.0.0.1:$PORT. The catalog
 * is the Consul stand-in, so a test can write the desired state as anyone with Consul's KV could.
 */
describe('deploy agent: what it refuses to run or believe', { timeout: 240_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  let dozen: DozenProcess;
  let consul: ConsulStandin;
  const apps: string[] = [];

  const managedOfHost = () => docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.host=${HOST}`] } });
  /** An image app with a ready release. */
  const imageApp = async (name: string, fields: Record<string, unknown> = {}) => {
    await expectStatus(dozen, '/deploy/apps', json({ name, runtime: 'image', image: TEST_APP_IMAGE, ...fields }), 201);
    apps.push(name);
    const release = await expectStatus(dozen, `/deploy/apps/${name}/deploy`, json({}), 202);
    return String((await waitRelease(dozen, String(release.id), 'ready')).id);
  };

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    consul = await ConsulStandin.start();
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: HOST, DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath,
        DOZEN_REGISTRY_CATALOG: 'consul', DOZEN_REGISTRY_CONSUL_URL: consul.url,
        // Debug: the agent's `reconciled` lines tell a test that a resync has passed.
        DOZEN_LOG_LEVEL: 'debug',
        DOZEN_DEPLOY_RESYNC_SECONDS: '1', DOZEN_DEPLOY_DRAIN_SECONDS: '0', DOZEN_DEPLOY_HEALTH_TIMEOUT_SECONDS: '20', DOZEN_DEPLOY_LOGS_SHIP: 'false',
        // Any unprivileged port may be an app's fixed port here, so the test can hold one.
        DOZEN_DEPLOY_FIXED_PORT_RANGE: '1024-65535',
        ...FILE_REPOSITORIES,
      },
    });
  });

  after(async () => {
    if (dozen) {
      for (const app of apps) await dozen.api(`/deploy/apps/${app}`, { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the app containers to go', async () => (await managedOfHost()).length === 0, 30_000).catch(() => undefined);
      await dozen.stop();
    }
    for (const container of await managedOfHost()) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
    for (const image of await docker.listImages({ filters: { reference: ['dozen/*'] } })) {
      for (const tag of image.RepoTags ?? []) if (apps.some((app) => tag.startsWith(`dozen/${app}:`))) await docker.getImage(tag).remove().catch(() => undefined);
    }
    await consul?.stop();
  });

  it("a fixed port that is one of dozen's own is refused with 400 naming port", async () => {
    const adminPort = Number(new URL(dozen.url).port);
    const refused = await dozen.api('/deploy/apps', { method: 'POST', ...json({ name: 'publisher', runtime: 'image', image: TEST_APP_IMAGE, port: adminPort }) });
    const body = await refused.json();
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.deepEqual([body.field, body.message], ['port', `port: ${adminPort} is dozen's own port (admin.listen.port)`]);
    await expectStatus(dozen, '/deploy/apps', json({ name: 'publisher', runtime: 'image', image: TEST_APP_IMAGE }), 201);
    apps.push('publisher');
    const changed = await expectStatus(dozen, '/deploy/apps/publisher', json({ port: adminPort }, 'PUT'), 400);
    assert.equal(changed.field, 'port');
  });

  it('a fixed port something else listens on runs nothing and registers nothing; once it is free the app runs there, and restarts on it', async () => {
    const port = await freePort();
    let asked = 0;
    const squatter: Server = createServer((_request, response) => {
      asked++;
      response.end('not the app');
    });
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    let instance: string;
    try {
      await imageApp('fixed', { port });
      instance = String((await expectStatus(dozen, '/deploy/instances', json({ app: 'fixed', host: HOST }), 201)).id);
      // Each resync tries again: `starting` (with the last error still shown) until the port check refuses, then `pending`.
      const refused = await waitInstance(dozen, instance, (view) => view.state === 'pending' && /in use on this host/.test(String(view.lastError)), 'refused its port');
      assert.match(String(refused.lastError), new RegExp(`^the app's fixed port ${port} is in use on this host`));
      assert.equal(asked, 0, 'the health probe asked whatever listened there');
      assert.deepEqual((await managedOfHost()).filter((container) => container.Labels['dozen.app'] === 'fixed'), [], 'no container was started');
      const service = await dozen.api('/registry/services/fixed');
      assert.ok(service.status === 404 || (await service.json()).instances.length === 0, 'nothing registered');
    } finally {
      squatter.closeAllConnections();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
    const running = await waitInstance(dozen, instance, (view) => view.state === 'running', 'running once the port is free');
    assert.equal(running.port, port);
    assert.equal(((await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { env: Record<string, string> }).env.DOZEN_INSTANCE, instance);

    await expectStatus(dozen, `/deploy/instances/${instance}/restart`, { method: 'POST' }, 201);
    const restarted = await waitInstance(dozen, instance, (view) => view.state === 'running' && view.generation === 2, 'restarted on its port');
    assert.notEqual(restarted.containerId, running.containerId);
    assert.equal(restarted.port, port);
  });

  it('a container runs without raw sockets or network administration, cannot gain privileges, and has process and memory limits', async () => {
    await imageApp('confined');
    const instance = String((await expectStatus(dozen, '/deploy/instances', json({ app: 'confined', host: HOST }), 201)).id);
    const { containerId } = await waitInstance(dozen, instance, (view) => view.state === 'running', 'running');
    // The app's own process: PID 1 is Docker's init, which runs it (and has the same limits).
    const app = "const fs = require('fs'); const pid = fs.readdirSync('/proc').find((entry) => /^\\d+$/.test(entry) && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8') === 'node\\u0000/app/app.js\\u0000');"
      + " process.stdout.write(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))";
    const status = await execIn(docker, String(containerId), ['node', '-e', app]);
    assert.doesNotMatch(status, /^Pid:\s*1$/m, 'the app is not PID 1');
    const mask = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? assert.fail(`no ${name} in ${status}`)}`);
    const has = (bits: bigint, cap: number) => (bits >> BigInt(cap)) & 1n;
    for (const set of ['CapEff', 'CapBnd', 'CapPrm']) {
      for (const cap of ['NET_RAW', 'NET_ADMIN', 'NET_BIND_SERVICE', 'SYS_ADMIN'] as const) assert.equal(has(mask(set), CAP[cap]), 0n, `${cap} in ${set}: ${status}`);
    }
    assert.equal(has(mask('CapEff'), CAP.SETUID), 1n, 'the capabilities an image may need at start are kept');
    assert.match(status, /^NoNewPrivs:\s*1$/m);
    const { HostConfig } = await docker.getContainer(String(containerId)).inspect();
    assert.deepEqual([HostConfig.CapDrop, HostConfig.PidsLimit, HostConfig.Memory, HostConfig.Init], [['ALL'], 1024, 1024 * 1024 * 1024, true]);
    assert.deepEqual(HostConfig.SecurityOpt, ['no-new-privileges']);
  });

  it("a desired state naming another app's release runs nothing of it: the instance says so, and its container keeps serving", async () => {
    const foreign = await imageApp('foreign', { env: { SECRET_OF: 'foreign' } });
    await imageApp('victim');
    const instance = String((await expectStatus(dozen, '/deploy/instances', json({ app: 'victim', host: HOST }), 201)).id);
    const serving = await waitInstance(dozen, instance, (view) => view.state === 'running', 'running');
    const key = `dozen/hosts/${HOST}/instances/${instance}`;
    const [pair] = (await (await fetch(`${consul.url}/v1/kv/${key}`)).json()) as { Value: string }[];
    const spec = JSON.parse(Buffer.from(pair.Value, 'base64').toString('utf8')) as Record<string, unknown>;
    assert.equal(spec.app, 'victim');
    // As anyone who can write Consul's KV could: the victim's instance, another app's release.
    assert.equal((await fetch(`${consul.url}/v1/kv/${key}`, { method: 'PUT', body: JSON.stringify({ ...spec, release: foreign }) })).status, 200);
    const refused = await waitInstance(dozen, instance, (view) => /refusing to run it/.test(String(view.lastError)), 'refused the release');
    assert.equal(refused.lastError, `release ${foreign} is of app foreign, not victim: refusing to run it`);
    const containers = (await managedOfHost()).filter((container) => container.Labels['dozen.instance'] === instance);
    assert.deepEqual(containers.map((container) => [container.Id, container.State, container.Labels['dozen.release']]), [[serving.containerId, 'running', serving.runningRelease]]);
  });

  it("a build's steps run in a network of their own: a RUN step cannot reach a server on the host's loopback", async () => {
    // With the host's network a step would have root's default capabilities there (NET_RAW: it could read every
    // loopback connection on the host), which the build API cannot drop (deploy.containers.buildNetwork).
    let reached = 0;
    const listener = createNetServer((socket) => {
      reached++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'dozen-sniffer-'));
    try {
      const probe = `require('net').connect(${port}, '127.0.0.1').on('connect', () => { console.log('reached the host'); process.exit(1); }).on('error', (error) => console.log('isolated: ' + error.code))`;
      writeFileSync(join(dir, 'Dockerfile'), `FROM ${TEST_APP_IMAGE}\nRUN ${JSON.stringify(['node', '-e', probe])}\n`);
      execFileSync('sh', ['-c', 'git init -q -b main && git add . && git -c user.email=t@dozen -c user.name=t commit -qm sniffer'], { cwd: dir });
      await expectStatus(dozen, '/deploy/apps', json({ name: 'sniffer', repository: `file://${dir}` }), 201);
      apps.push('sniffer');
      const release = await expectStatus(dozen, '/deploy/apps/sniffer/deploy', json({}), 202);
      await waitRelease(dozen, String(release.id), 'ready', 60_000);
      assert.equal(reached, 0, "a build step connected to the host's loopback");
      // The bench's Engine runs with --bridge=none: the log says the steps had no network, and what to set.
      const log = await (await dozen.api(`/deploy/releases/${String(release.id)}/log`)).text();
      assert.match(log, /note: this Engine has no bridge network \(dockerd --bridge=none\), so the build's steps have no network; set deploy\.containers\.buildNetwork: host/);
      assert.match(log, /isolated: ECONNREFUSED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      listener.close();
    }
  });

  it("a container that has dozen's labels from its image is not dozen's: a build step labelled as another app's instance is left alone, and the image is no release", async () => {
    await imageApp('target');
    const instance = String((await expectStatus(dozen, '/deploy/instances', json({ app: 'target', host: HOST }), 201)).id);
    const serving = await waitInstance(dozen, instance, (view) => view.state === 'running', 'running');
    const [real] = (await managedOfHost()).filter((container) => container.Id === serving.containerId);
    // The image says what dozen labels the target's container with; its build's RUN step then runs in a container that has them all.
    const forged = ['managed', 'host', 'app', 'instance', 'release', 'generation', 'port', 'token'].map((name) => `dozen.${name}=${JSON.stringify(real.Labels[`dozen.${name}`])}`).join(' ');
    const dir = mkdtempSync(join(tmpdir(), 'dozen-forger-'));
    try {
      writeFileSync(join(dir, 'Dockerfile'), `FROM ${TEST_APP_IMAGE}\nLABEL ${forged}\nRUN ["node", "-e", "setTimeout(() => {}, 6000)"]\n`);
      execFileSync('sh', ['-c', 'git init -q -b main && git add . && git -c user.email=t@dozen -c user.name=t commit -qm forger'], { cwd: dir });
      await expectStatus(dozen, '/deploy/apps', json({ name: 'forger', repository: `file://${dir}` }), 201);
      apps.push('forger');
      const release = await expectStatus(dozen, '/deploy/apps/forger/deploy', json({}), 202);
      // The step container exists while the release builds; each resync (1 s) and its start event would have reached it.
      await waitFor('the build step to run', async () => (await docker.listContainers({ filters: { label: [`dozen.token=${real.Labels['dozen.token']}`] } })).some((container) => container.Id !== real.Id), 30_000, 50);
      const failed = await waitRelease(dozen, String(release.id), 'failed', 60_000);
      assert.match(String(failed.error), /error: the image carries the label dozen\.managed, which only containers dozen makes may carry: remove it/, 'the build ran to its end');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const after = await expectStatus(dozen, `/deploy/instances/${instance}`, {}, 200);
    assert.deepEqual([after.state, after.containerId], ['running', serving.containerId], 'the target instance was not touched');
    assert.equal((await docker.getContainer(String(serving.containerId)).inspect()).State.Running, true);
    const { tokens } = await expectStatus<{ tokens: { id: string; revokedAt: string | null }[] }>(dozen, '/tokens', {}, 200);
    assert.equal(tokens.find((token) => token.id === real.Labels['dozen.token'])?.revokedAt, null, "the target container's token was revoked");
    assert.ok(!dozen.logs().split('\n').some((line) => line.includes(`"instance":"${instance}"`) && line.includes('"msg":"container removed"')), 'the agent removed a container of the target instance');
  });

  it("a container with all of an instance's labels on an image without them, named by the Engine, is not dozen's: what a Dockerfile's LABEL step makes", async () => {
    await imageApp('labelstep');
    const instance = String((await expectStatus(dozen, '/deploy/instances', json({ app: 'labelstep', host: HOST }), 201)).id);
    const serving = await waitInstance(dozen, instance, (view) => view.state === 'running', 'running');
    const [real] = (await managedOfHost()).filter((container) => container.Id === serving.containerId);
    // The classic builder commits a LABEL step through a container it creates (never starts) on the previous step's image, with the step's labels.
    const forged = await docker.createContainer({ Image: TEST_APP_IMAGE, Labels: real.Labels, Cmd: ['/bin/sh', '-c', '#(nop) LABEL'] });
    try {
      const reconciled = () => dozen.logs().split('\n').filter((line) => line.includes(`"instance":"${instance}"`) && line.includes('"msg":"reconciled"')).length;
      const before = reconciled();
      // Two whole reconciles of the instance: the second one began after the container was made.
      await waitFor('two reconciles of the instance', async () => reconciled() >= before + 2, 20_000, 50);
      assert.equal((await forged.inspect()).State.Status, 'created', 'the forged container is still there, untouched');
    } finally {
      await forged.remove({ force: true }).catch(() => undefined);
    }
    const { tokens } = await expectStatus<{ tokens: { id: string; revokedAt: string | null }[] }>(dozen, '/tokens', {}, 200);
    assert.equal(tokens.find((token) => token.id === real.Labels['dozen.token'])?.revokedAt, null, "the instance's token was revoked");
    const after = await expectStatus(dozen, `/deploy/instances/${instance}`, {}, 200);
    assert.deepEqual([after.state, after.containerId], ['running', serving.containerId], 'the instance was not touched');
  });
});

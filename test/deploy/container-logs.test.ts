import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { DataSource } from 'typeorm';
import { LogCheckpointEntity } from '../../src/deploy/logs/log-checkpoint.entity.js';
import { BASE_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { waitFor } from '../support/ports.js';
import { expectStatus, FILE_REPOSITORIES, json, waitInstance, waitRelease } from './helpers.js';

const LINES = 4000;

/**
 * An app that writes LINES numbered lines at start (in bursts of several lines per write, a third to
 * stderr), each tagged with a boot id, so every start of its process is told apart, then says `done`.
 */
const CHATTY_APP = `const http = require('node:http');
const boot = Math.random().toString(36).slice(2, 10);
let n = 0;
const timer = setInterval(() => {
  let out = '', err = '';
  for (let k = 0; k < 8 && n < ${LINES}; k++, n++) {
    if (n % 3 === 2) err += 'boot=' + boot + ' n=' + n + '\\n'; else out += 'boot=' + boot + ' n=' + n + '\\n';
  }
  if (out) process.stdout.write(out);
  if (err) process.stderr.write(err);
  if (n >= ${LINES}) { clearInterval(timer); console.log('boot=' + boot + ' done'); }
}, 5);
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function chattyRepository(): { url: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-chatty-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=test@dozen', '-c', 'user.name=test', ...args], { cwd: dir });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'chatty', scripts: { start: 'node server.js' } }));
  writeFileSync(join(dir, 'server.js'), CHATTY_APP);
  git('add', '.');
  git('commit', '-qm', 'chatty');
  return { url: `file://${dir}`, dir };
}

interface Shipped {
  /** boot id -> how many times each line number arrived */
  boots: Map<string, Map<number, number>>;
  done: Map<string, number>;
  text: string;
}

/** Every line of the app's log objects, checked for shape: `<timestamp> <instance> <stream> boot=... n=...`. */
function parseShipped(text: string, instance: string): Shipped {
  const boots = new Map<string, Map<number, number>>();
  const done = new Map<string, number>();
  for (const line of text.split('\n').filter(Boolean)) {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (\S+) (stdout|stderr) boot=(\w+) (?:n=(\d+)|done)$/.exec(line);
    assert.ok(match, `malformed line in the log object: ${JSON.stringify(line)}`);
    const [, , lineInstance, stream, boot, number] = match;
    assert.equal(lineInstance, instance);
    if (number === undefined) {
      done.set(boot, (done.get(boot) ?? 0) + 1);
      continue;
    }
    assert.equal(stream, Number(number) % 3 === 2 ? 'stderr' : 'stdout', line);
    const counts = boots.get(boot) ?? new Map<number, number>();
    counts.set(Number(number), (counts.get(Number(number)) ?? 0) + 1);
    boots.set(boot, counts);
  }
  return { boots, done, text };
}

function assertExactlyOnce(shipped: Shipped, boot: string): void {
  const counts = shipped.boots.get(boot);
  assert.ok(counts, `no line of boot ${boot}`);
  const missing = [];
  const twice = [];
  for (let n = 0; n < LINES; n++) {
    const count = counts.get(n) ?? 0;
    if (count === 0) missing.push(n);
    if (count > 1) twice.push(n);
  }
  assert.deepEqual({ missing: missing.slice(0, 20), twice: twice.slice(0, 20) }, { missing: [], twice: [] }, `boot ${boot}: ${missing.length} lines missing, ${twice.length} twice`);
  assert.equal(shipped.done.get(boot), 1, `boot ${boot}: done ${shipped.done.get(boot) ?? 0} times`);
}

for (const driver of ['local', 'oss'] as const) {
  describe(`container output in the object store (${driver} store): each line exactly once`, { timeout: 240_000 }, () => {
    const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
    const docker = new Docker({ socketPath });
    const host = `logs${driver}`;
    const repository = chattyRepository();
    let standIn: OssStandIn | null = null;
    let dozen: DozenProcess;
    let instance: string;
    let firstBoot: string;

    const env = () => ({
      ...(standIn ? dozenOssEnv(standIn) : {}),
      DOZEN_MODULES: 'registry,deploy,storage',
      DOZEN_HOST_NAME: host,
      DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath,
      DOZEN_DEPLOY_RUNTIMES_NODEJS_BASE_IMAGE: BASE_IMAGE,
      DOZEN_DEPLOY_DRAIN_SECONDS: '0',
      DOZEN_DEPLOY_HEALTH_TIMEOUT_SECONDS: '20',
      DOZEN_DEPLOY_LOGS_FLUSH_MS: '50',
      ...FILE_REPOSITORIES,
    });
    const managedOfHost = () => docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.host=${host}`] } });

    /** The app's log objects of this host, concatenated in key (date) order. */
    const shipped = async (): Promise<Shipped> => {
      const { objects } = await expectStatus<{ objects: { key: string }[] }>(dozen, `/storage/objects?prefix=${encodeURIComponent(`logs/chatty/${host}/`)}`, {}, 200);
      let text = '';
      for (const { key } of objects) text += await (await dozen.api(`/storage/objects/${key}`)).text();
      return parseShipped(text, instance);
    };
    const bootsDone = async (count: number) => {
      let last: Shipped | null = null;
      await waitFor(`${count} boots to have said done in the log object`, async () => {
        last = await shipped();
        return last.done.size >= count;
      }, 90_000, 250).catch((error: Error) => assert.fail(`${error.message}; boots ${JSON.stringify([...(last?.boots.entries() ?? [])].map(([boot, counts]) => [boot, counts.size]))}\n${dozen.logs().slice(-3000)}`));
      return last!;
    };

    before(async () => {
      await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
      if (driver === 'oss') standIn = await startOssStandIn();
      dozen = await startDozen({ env: env() });
      await expectStatus(dozen, '/deploy/apps', json({ name: 'chatty', repository: repository.url }), 201);
      const release = await expectStatus(dozen, '/deploy/apps/chatty/deploy', json({}), 202);
      await waitRelease(dozen, String(release.id), 'ready');
    });

    after(async () => {
      if (dozen) {
        await dozen.api('/deploy/apps/chatty', { method: 'DELETE' }).catch(() => undefined);
        await waitFor('the app containers to go', async () => (await managedOfHost()).length === 0, 30_000).catch(() => undefined);
        await dozen.stop();
        rmSync(dozen.dataDir, { recursive: true, force: true });
      }
      for (const container of await managedOfHost()) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
      for (const image of await docker.listImages({ filters: { label: ['dozen.app=chatty'] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
      await standIn?.close();
      rmSync(repository.dir, { recursive: true, force: true });
    });

    it('dozen killed while a container writes: after its restart every line is in the object once', async () => {
      const created = await expectStatus(dozen, '/deploy/instances', json({ app: 'chatty', host }), 201);
      instance = String(created.id);
      await waitInstance(dozen, instance, (state) => state.state === 'running', 'running');
      await waitFor('some lines shipped', async () => [...(await shipped()).boots.values()].some((counts) => counts.size >= 200), 30_000, 50);
      const before = await shipped();
      assert.equal(before.done.size, 0, 'the app finished writing before dozen was killed: nothing was mid-stream');
      await dozen.stop('SIGKILL');
      dozen = await startDozen({ dataDir: dozen.dataDir, env: env() });
      const after = await bootsDone(1);
      assert.equal(after.boots.size, 1);
      firstBoot = [...after.boots.keys()][0];
      assertExactlyOnce(after, firstBoot);
    });

    it('the container restarted (same container, its log goes on): both runs are in the object, each line once', async () => {
      const [container] = await managedOfHost();
      // With OSS, the store is also down while the new run starts writing: the batch waits and is retried.
      await standIn?.stop();
      try {
        await docker.getContainer(container.Id).restart({ t: 1 });
        if (standIn) {
          // The old run's last lines fail to append, or (its app gone at once on SIGTERM under the init) the new run's session fails on its first HEAD.
          const failed = () => dozen.logs().includes('cannot append container output to the store; will retry') || /"type":"StoreUnavailable".*"msg":"container log session ended with an error; resuming at the next scan"/.test(dozen.logs());
          await waitFor('the store to be missed', async () => failed(), 60_000).catch((error: Error) => assert.fail(`${error.message}\n${dozen.logs().slice(-3000)}`));
        }
      } finally {
        // Up again even when this test failed: the next one needs the store.
        await standIn?.start();
      }
      const after = await bootsDone(2);
      const metrics = await (await fetch(`${dozen.url}/metrics`)).text();
      const counted = (name: string) => Number(new RegExp(`^${name}\\{app="chatty"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
      assert.ok(counted('dozen_deploy_container_log_lines_total') >= LINES, metrics.slice(0, 2000));
      assert.equal(after.boots.size, 2);
      for (const boot of after.boots.keys()) assertExactlyOnce(after, boot);
      assert.ok(after.boots.has(firstBoot));
    });

    it('a replaced container (instance restart) has all its lines shipped before it is removed', async () => {
      const old = (await managedOfHost())[0];
      await expectStatus(dozen, `/deploy/instances/${instance}/restart`, { method: 'POST' }, 201);
      await waitFor('the old container to be removed', async () => !(await managedOfHost()).some((entry) => entry.Id === old.Id), 60_000);
      const after = await bootsDone(3);
      for (const boot of after.boots.keys()) assertExactlyOnce(after, boot);
    });

    if (driver === 'local') {
      it('a batch that dozen died sending, cut mid-line in the object, is completed from where it stopped', async () => {
        const [container] = await managedOfHost();
        await dozen.stop('SIGKILL');
        // What a crash in the middle of an append leaves: the checkpoint says the last 300 lines were in flight, and the
        // object holds only part of them, cut inside a line (a write the kill interrupted).
        const objectFile = join(dozen.dataDir, 'objects', 'data', 'logs', 'chatty', host, `${new Date().toISOString().slice(0, 10)}.log`);
        const whole = readFileSync(objectFile);
        const lines = whole.toString('utf8').split('\n').slice(0, -1);
        const cutLine = lines.length - 300;
        const kept = lines.slice(0, cutLine);
        const position = Buffer.byteLength(kept.join('\n') + '\n');
        const boot = /boot=(\w+)/.exec(lines[lines.length - 1])![1];
        const mark = (stream: string) => {
          const ofStream = kept.filter((line) => line.includes(` ${stream} boot=${boot} `));
          const at = ofStream.length ? ofStream[ofStream.length - 1].slice(0, 30) : '';
          return { at, count: ofStream.filter((line) => line.startsWith(at)).length };
        };
        const database = new DataSource({ type: 'better-sqlite3', database: join(dozen.dataDir, 'dozen.sqlite'), entities: [LogCheckpointEntity] });
        await database.initialize();
        const stdout = mark('stdout');
        const stderr = mark('stderr');
        await database.getRepository(LogCheckpointEntity).update({ containerId: container.Id }, {
          stdoutAt: stdout.at, stdoutCount: stdout.count, stderrAt: stderr.at, stderrCount: stderr.count, skipBytes: 0,
          objectPosition: position, pendingLength: whole.length - position,
        });
        await database.destroy();
        const landed = position + Buffer.byteLength(lines.slice(cutLine, cutLine + 100).join('\n')) + 17;
        truncateSync(objectFile, landed);

        dozen = await startDozen({ dataDir: dozen.dataDir, env: env() });
        await waitFor('the object to be whole again', async () => readFileSync(objectFile).length >= whole.length, 30_000, 100);
        assert.match(dozen.logs(), /settled the container-log batch in flight at the last stop/);
        assert.ok(readFileSync(objectFile).equals(whole), 'the object is byte for byte what it was: the cut line completed, nothing twice');
      });
    }
  });
}

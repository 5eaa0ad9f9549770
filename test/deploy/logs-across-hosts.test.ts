import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import WebSocket from 'ws';
import { TEST_APP_IMAGE } from '../support/base-image.js';
import { ConsulStandin } from '../support/consul-standin.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';
import { expectStatus, json, waitInstance, waitRelease } from './helpers.js';

const APP = 'farlogs';

/**
 * Two hosts on one catalog (the Consul stand-in), one database (MariaDB) and, as in the other deploy
 * tests, one Docker Engine, each agent keeping to the containers labelled with its own host. The
 * instance runs on host B; every way of reading its output is asked of host A, which passes it on to B's
 * dozen, found in the catalog.
 */
describe("an instance's output read on another host than its own", { timeout: 180_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  let mariadb: MariaDb;
  let standin: ConsulStandin;
  let hostA: DozenProcess;
  let hostB: DozenProcess;
  let instance = '';
  let port = 0;
  let release = '';

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    [mariadb, standin] = await Promise.all([startMariaDb(), ConsulStandin.start()]);
    const connection = await mariadb.connect();
    await connection.query('DROP DATABASE IF EXISTS dozen_far_logs; CREATE DATABASE dozen_far_logs');
    await connection.end();
    const shared = {
      DOZEN_MODULES: 'registry,deploy',
      DOZEN_REGISTRY_CATALOG: 'consul',
      DOZEN_REGISTRY_CONSUL_URL: standin.url,
      DOZEN_DATABASE_URL: `${mariadb.url}dozen_far_logs`,
      DOZEN_DEPLOY_SECRETS_KEY: randomBytes(32).toString('base64'),
      DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath,
    };
    [hostA, hostB] = await Promise.all(['far-a', 'far-b'].map((name) => startDozen({ env: { ...shared, DOZEN_HOST_NAME: name } })));
  });

  after(async () => {
    await hostA?.api(`/deploy/apps/${APP}`, { method: 'DELETE' }).catch(() => undefined);
    await Promise.all([hostA?.stop(), hostB?.stop('SIGKILL')]);
    for (const container of await docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.app=${APP}`] } })) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
    if (release) await docker.getImage(`dozen/${APP}:${release}`).remove().catch(() => undefined);
    await Promise.all([standin?.stop(), mariadb?.stop()]);
  });

  /** Makes the app print `GET <path>` on stdout (the test app logs every request). */
  const say = async (path: string) => assert.equal((await fetch(`http://127.0.0.1:${port}${path}`)).status, 200);

  it('host A gives the recent lines of an instance on host B, and follows it as text and as JSON lines; leaving closes the stream on B', async () => {
    await expectStatus(hostA, '/deploy/apps', json({ name: APP, runtime: 'image', image: TEST_APP_IMAGE }), 201);
    release = String((await expectStatus(hostA, `/deploy/apps/${APP}/deploy`, json({}), 202)).id);
    await waitRelease(hostA, release, 'ready');
    instance = String((await expectStatus(hostA, '/deploy/instances', json({ app: APP, host: 'far-b' }), 201)).id);
    const running = await waitInstance(hostA, instance, (row) => row.state === 'running', 'running on far-b');
    port = Number(running.port);
    await say('/before-follow');

    const recent = await waitFor('the recent lines through host A', async () => {
      const response = await hostA.api(`/deploy/instances/${instance}/logs?tail=20`);
      const text = await response.text();
      assert.equal(response.status, 200, text);
      return text.includes('GET /before-follow') && text;
    }, 20_000, 200);
    assert.match(recent, new RegExp(`listening on ${port}`));

    // A follow as JSON lines: the last line now, then each new one with its stream and time.
    const leaving = new AbortController();
    const followed = await hostA.api(`/deploy/instances/${instance}/logs?tail=1&follow=1&format=ndjson`, { signal: leaving.signal });
    assert.equal(followed.status, 200);
    assert.equal(followed.headers.get('content-type'), 'application/x-ndjson');
    const lines = readLines(followed.body!);
    const first = JSON.parse(await lines.next()) as { stream: string; at: string; text: string };
    assert.equal(first.stream, 'stdout', JSON.stringify(first));
    await say('/while-following');
    // The agent's health checks print lines of their own: read on to ours.
    const live = JSON.parse(await lines.until((line) => line.includes('GET /while-following'))) as { stream: string; at: string; text: string };
    assert.deepEqual(pick(live), { stream: 'stdout', text: 'GET /while-following' });
    assert.match(live.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    assert.equal(await followGauge(hostB), 1, 'host B holds the Engine stream');
    assert.equal(await followGauge(hostA), 0, 'host A holds none');
    leaving.abort();
    await waitFor('host B to close the Engine stream once the client left host A', async () => (await followGauge(hostB)) === 0, 10_000, 100);

    // The plain follow (what `dozen instance logs -f` reads), asked of host A too.
    const plain = new AbortController();
    const text = await hostA.api(`/deploy/instances/${instance}/logs?tail=1&follow=1`, { signal: plain.signal });
    assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
    const textLines = readLines(text.body!);
    await textLines.next();
    await say('/plain');
    assert.equal(await textLines.until((line) => line.startsWith('GET /plain')), 'GET /plain');
    plain.abort();
  });

  it("host A's console subscription instanceLogs follows the instance on host B", async () => {
    const socket = new WebSocket(hostA.url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws', { headers: { authorization: `Bearer ${hostA.token}` } });
    const seen: string[] = [];
    const arrived = (text: string) => waitFor(`"${text}" in the subscription`, async () => seen.includes(text), 15_000, 50);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription ($id: String!) { instanceLogs(id: $id, tail: 1) { lines { stream at text } } }', variables: { id: instance } } }));
      if (frame.type === 'next' && frame.payload.errors) seen.push(`error: ${JSON.stringify(frame.payload.errors)}`);
      if (frame.type === 'next' && frame.payload.data) for (const line of frame.payload.data.instanceLogs.lines) seen.push(line.text);
      if (frame.type === 'error') seen.push(`error: ${JSON.stringify(frame.payload)}`);
    });
    try {
      await waitFor('the first lines of the subscription', async () => seen.length > 0, 15_000, 50);
      await say('/subscribed');
      await arrived('GET /subscribed');
      assert.deepEqual(seen.filter((line) => line.startsWith('error')), []);
    } finally {
      socket.close();
    }
    await waitFor('host B to close the Engine stream once the subscriber left host A', async () => (await followGauge(hostB)) === 0, 10_000, 100);
  });

  it('refuses a request another host passed on, ndjson without a follow, and names host B and its address when B is gone', async () => {
    const passedOn = await hostA.api(`/deploy/instances/${instance}/logs?tail=5`, { headers: { 'x-dozen-forwarded-by': 'far-b' } });
    const refusal = await passedOn.json();
    assert.equal(passedOn.status, 409, JSON.stringify(refusal));
    assert.equal(refusal.error, 'other_host');
    assert.match(refusal.message, /runs on host far-b, not far-a, which far-b asked for its output: a request another host passed on is not passed on again/);

    const notFollowing = await hostA.api(`/deploy/instances/${instance}/logs?format=ndjson`);
    const bad = await notFollowing.json();
    assert.equal(notFollowing.status, 400, JSON.stringify(bad));
    assert.equal(bad.field, 'format');

    await hostB.stop('SIGKILL');
    const gone = await hostA.api(`/deploy/instances/${instance}/logs?tail=5`);
    const failure = await gone.json();
    assert.equal(gone.status, 502, JSON.stringify(failure));
    assert.equal(failure.error, 'peer_failed');
    assert.match(failure.message, /^instance \S+ runs on host far-b, whose dozen at http:\/\/127\.0\.0\.1:\d+ cannot be reached.*ECONNREFUSED/);
  });
});

/** `dozen_deploy_log_follows` of a host: the Engine log streams it holds open for followers. */
async function followGauge(dozen: DozenProcess): Promise<number> {
  const metrics = await (await dozen.api('/metrics')).text();
  return Number(/^dozen_deploy_log_follows (\d+)$/m.exec(metrics)?.[1] ?? NaN);
}

function pick(line: { stream: string; text: string }): { stream: string; text: string } {
  return { stream: line.stream, text: line.text };
}

/** Reads a streamed body line by line: `next()` waits for the next whole line, `until()` for the next one that passes (15 s at most). */
function readLines(body: ReadableStream<Uint8Array>): { next(): Promise<string>; until(wanted: (line: string) => boolean): Promise<string> } {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const next = async (deadline: number): Promise<string> => {
    while (!buffer.includes('\n')) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no whole line in time; so far: ${JSON.stringify(buffer)}`)), Math.max(0, deadline - Date.now()))));
      const chunk = await Promise.race([reader.read(), late]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error(`the stream ended; so far: ${JSON.stringify(buffer)}`);
      buffer += chunk.value;
    }
    const newline = buffer.indexOf('\n');
    const line = buffer.slice(0, newline);
    buffer = buffer.slice(newline + 1);
    return line;
  };
  return {
    next: () => next(Date.now() + 15_000),
    async until(wanted) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const line = await next(deadline);
        if (wanted(line)) return line;
      }
    },
  };
}

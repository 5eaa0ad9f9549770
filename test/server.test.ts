import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startMariaDb, type MariaDb } from './support/mariadb.js';
import { CLI, startDozen, type DozenProcess } from './support/dozen-process.js';
import { waitFor } from './support/ports.js';

describe('dozen serve with DOZEN_MODULES=registry,storage', () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,storage' } });
  });
  after(async () => {
    await dozen?.stop('SIGKILL');
  });

  it('reports the two modules up and the rest disabled on /health, without a token', async () => {
    const response = await fetch(dozen.url + '/health');
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'up');
    assert.equal(body.modules.registry.status, 'up');
    assert.equal(body.modules.storage.status, 'up');
    for (const name of ['proxy', 'deploy', 'broadcast']) assert.equal(body.modules[name].status, 'disabled', name);
  });

  it("serves an enabled module's routes and 404s a disabled module's routes", async () => {
    const storage = await dozen.api('/storage/health');
    assert.equal(storage.status, 200);
    assert.equal((await storage.json()).status, 'up');
    for (const name of ['proxy', 'deploy', 'broadcast']) {
      const response = await dozen.api(`/${name}/health`);
      assert.equal(response.status, 404, name);
      assert.equal((await response.json()).error, 'not_found');
    }
  });

  it('answers 401 with a JSON body without a token or with a wrong one', async () => {
    const missing = await fetch(dozen.url + '/storage/health');
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="dozen"');
    assert.equal((await missing.json()).error, 'unauthorized');
    const wrong = await fetch(dozen.url + '/graphql', { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: '{"query":"{node{host}}"}' });
    assert.equal(wrong.status, 401);
    assert.match((await wrong.json()).message, /wrong/);
  });

  it('answers a malformed JSON body with 400 and the same JSON error body as every other error', async () => {
    const response = await dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"app": ' });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error, 'bad_request');
    assert.match(body.message, /not valid JSON/);
    const unknown = await dozen.api('/no/such/route');
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error, 'not_found');
    // A path Fastify's router cannot decode: the same body, naming the url (it was Fastify's own FST_ERR_BAD_URL body).
    const undecodable = await dozen.api('/storage/objects/%FF%FE');
    assert.equal(undecodable.status, 400);
    const bad = await undecodable.json();
    assert.equal(bad.error, 'bad_request');
    assert.equal(bad.field, 'url');
  });

  it('answers the GraphQL node query with the token', async () => {
    const response = await dozen.api('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ node { host version modules status health { name status reason } } }' }),
    });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.data.node.modules, ['registry', 'storage']);
    assert.match(body.data.node.version, /^\d+\.\d+\.\d+$/);
    const health = Object.fromEntries(body.data.node.health.map((entry: { name: string; status: string }) => [entry.name, entry.status]));
    assert.deepEqual(health, { proxy: 'disabled', registry: 'up', deploy: 'disabled', storage: 'up', broadcast: 'disabled' });
  });

  it('answers a GraphQL document that does not parse, or names a field the schema lacks, with 400 and extensions {code: bad_request, status: 400}', async () => {
    for (const query of ['{ node { host ', '{ node { nope } }']) {
      const response = await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      const body = await response.json();
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.deepEqual(body.errors.map((error: { extensions?: unknown }) => error.extensions), [{ code: 'bad_request', status: 400 }], JSON.stringify(body));
    }
  });

  it('refuses a GraphQL operation with over 15 aliases or nested over 8 levels before any resolver runs', async () => {
    const graphql = async (query: string) => {
      const response = await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      return { status: response.status, body: await response.json() };
    };
    const aliases = (count: number) => `{ ${Array.from({ length: count }, (_, index) => `n${index}: node { host }`).join(' ')} }`;
    const fifteen = await graphql(aliases(15));
    assert.equal(fifteen.status, 200, JSON.stringify(fifteen.body));
    assert.equal(fifteen.body.data.n14.host, fifteen.body.data.n0.host);
    const sixteen = await graphql(aliases(16));
    assert.equal(sixteen.status, 400, JSON.stringify(sixteen.body));
    assert.equal(sixteen.body.data, null);
    assert.deepEqual(sixteen.body.errors, [{ message: 'the query is too large: Aliases limit of 15 exceeded, found 16.', extensions: { code: 'query_too_large', status: 400 } }]);
    // dozen's schema has no path that deep; the depth is refused whatever the fields (Mercurius answers
    // several validation errors with 200, as graphql-over-http allows).
    const deep = await graphql('{ node { a { b { c { d { e { f { g { h } } } } } } } } }');
    assert.equal(deep.body.data, null);
    assert.ok(deep.body.errors.some((error: { message: string; extensions?: { code?: string } }) => error.extensions?.code === 'query_too_large' && /Query depth limit of 8 exceeded, found 9/.test(error.message)), JSON.stringify(deep.body));
    // A document too long to parse cheaply is refused before parsing: 413, in GraphQL's error shape.
    const long = await graphql(`{ node { host } }${' '.repeat(32 * 1024)}`);
    assert.equal(long.status, 413);
    assert.deepEqual(long.body.errors[0].extensions, { code: 'query_too_large', status: 413 });
    assert.match(long.body.errors[0].message, /^the query is too large: 32785 characters, at most 32768$/);
    assert.equal((await graphql(`{ node { host } }${' '.repeat(32 * 1024 - 17)}`)).status, 200, 'at the limit');
  });

  it('validates a subscription over the WebSocket as a query: unknown fields, two root fields, the limits', async () => {
    /** The first answer to one subscribe message: its data, or its errors' messages and codes. */
    const subscribe = (query: string) =>
      new Promise<unknown>((resolve, reject) => {
        const socket = new WebSocket(dozen.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws', { headers: { authorization: `Bearer ${dozen.token}` } });
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
        socket.on('error', reject);
        socket.on('message', (data) => {
          const frame = JSON.parse(data.toString());
          if (frame.type === 'connection_ack') return socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
          socket.close();
          if (frame.type === 'next') resolve(frame.payload.data);
          else resolve(frame.payload.map((error: { message: string; extensions?: { code?: string } }) => [error.message, error.extensions?.code]));
        });
      });
    assert.deepEqual(await subscribe('subscription { routesChanged { apps { app } } }'), { routesChanged: { apps: [] } });
    // Mercurius ran these unvalidated: {routesChanged: {}}, sixteen answers, "Expected Iterable", the whole text parsed.
    assert.deepEqual(await subscribe('subscription { routesChanged { nope } }'), [['Cannot query field "nope" on type "Routes".', 'bad_request']]);
    assert.deepEqual(await subscribe('subscription { routesChanged { version } servicesChanged { app } }'), [['Anonymous Subscription must select only one top level field.', 'bad_request']]);
    const aliases = Array.from({ length: 16 }, (_, index) => `v${index}: version`).join(' ');
    assert.deepEqual(await subscribe(`subscription { routesChanged { ${aliases} } }`), [['the query is too large: Aliases limit of 15 exceeded, found 16.', 'query_too_large']]);
    assert.deepEqual(await subscribe(`subscription { routesChanged { version } }${' '.repeat(32 * 1024)}`), [['the query is too large: 32810 characters, at most 32768', 'query_too_large']]);
  });

  it('serves Prometheus metrics without a token and gives every response a request id', async () => {
    const response = await fetch(dozen.url + '/metrics');
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^dozen_process_cpu_user_seconds_total /m);
    assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const echoed = await fetch(dozen.url + '/health', { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(echoed.headers.get('x-request-id'), 'abc-123');
  });

  it('exits 0 within 5 s of SIGTERM', async () => {
    const started = Date.now();
    const code = await dozen.stop('SIGTERM');
    assert.equal(code, 0, dozen.logs());
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});

describe("dozen serve when SQLite's addon does not load", () => {
  it('exits 1 with one line saying how to get an addon for this Node, not after 30 s of retries with a stack trace each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dozen-binding-'));
    try {
      // Not a shared object at all: dlopen refuses it as it refuses a build for another Node line.
      const binding = join(dir, 'better_sqlite3.node');
      writeFileSync(binding, 'not an ELF file\n');
      const run = spawnSync(process.execPath, [CLI, 'serve'], { env: { PATH: process.env.PATH, DOZEN_DATA_DIR: dir, DOZEN_ADMIN_LISTEN_PORT: '17999', DOZEN_MODULES: 'registry', DOZEN_DATABASE_SQLITE_BINDING: binding }, encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 1, run.stderr + run.stdout);
      const lines = (run.stderr + run.stdout).trim().split('\n');
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0], new RegExp(`^dozen: database: database\\.sqliteBinding \\(${binding.replaceAll('.', '\\.')}\\) does not load on Node ${process.version}: .*npm rebuild better-sqlite3`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dozen serve stopped while it starts', () => {
  it('a SIGTERM once the proxy workers are forked, before the admin API listens, ends dozen and its workers with exit 0, without a stack trace', async () => {
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '2' }, noWait: true });
    const pid = dozen.child.pid!;
    const children = () => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    let workers: string[] = [];
    try {
      await waitFor('a proxy worker to be forked', async () => (workers = children()).length > 0, 60_000, 5);
    } catch (error) {
      await dozen.stop('SIGKILL');
      throw error;
    }
    const started = dozen.logs().includes('"msg":"dozen started"');
    const code = await dozen.stop('SIGTERM');
    assert.equal(code, 0, dozen.logs());
    assert.match(dozen.logs(), /"msg":"shutting down"/);
    assert.doesNotMatch(dozen.logs(), /EPIPE|Unhandled 'error'|ERR_IPC/, 'a worker crashed on the way out');
    await waitFor('the workers to be gone', async () => workers.every((worker) => !existsSync(`/proc/${worker}`)), 10_000);
    // Which window the signal met is the machine's timing; the test means the one before "dozen started".
    if (started) process.stderr.write('note: dozen had started before the signal; the start window was not reached this run\n');
  });
});

describe('dozen serve on every module with defaults', () => {
  it('says why deploy is down when Docker is not where the config points, and the rest runs', async () => {
    // Debug: the repeats of a failure are debug lines, which tell the test that the polls went on.
    const dozen = await startDozen({ env: { DOZEN_DEPLOY_DOCKER_SOCKET_PATH: '/nonexistent/docker.sock', DOZEN_DEPLOY_RESYNC_SECONDS: '1', DOZEN_LOG_LEVEL: 'debug' }, waitHealthy: false });
    try {
      const response = await fetch(dozen.url + '/health');
      const body = await response.json();
      assert.equal(response.status, 503);
      assert.equal(body.modules.deploy.status, 'down');
      assert.match(body.modules.deploy.reason, /Docker Engine not reachable at \/nonexistent\/docker\.sock/);
      for (const name of ['proxy', 'registry', 'storage', 'broadcast']) assert.equal(body.modules[name].status, 'up', name);
      // A host without Docker is a normal state: its polls say so once each, not every second with a stack trace.
      const lines = (level: number, text: string) => dozen.logs().split('\n').filter((line) => line.includes(`"level":${level}`) && line.includes(text)).length;
      await waitFor('three more polls of the missing Engine', async () => lines(20, 'cannot list containers; Docker Engine down?') >= 3, 30_000);
      for (const text of ['cannot list containers; Docker Engine down?', 'cannot list containers for their logs', 'docker events stream failed']) assert.equal(lines(40, text), 1, `warnings "${text}":\n${dozen.logs()}`);
    } finally {
      await dozen.stop();
    }
  });

  it('is up on every module when the Docker Engine answers', async () => {
    const socket = process.env.DOZEN_TEST_DOCKER_SOCKET;
    assert.ok(socket, 'run through the test bench (npm test), which starts a Docker Engine');
    const dozen = await startDozen({ env: { DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socket } });
    try {
      const body = await (await fetch(dozen.url + '/health')).json();
      assert.equal(body.status, 'up', JSON.stringify(body));
      assert.match(String(body.modules.deploy.details.docker), /^\d+\./);
      // A newcomer's first `npm start` shows no Node or Fastify warning (Fastify's FSTWRN004 did).
      assert.doesNotMatch(dozen.logs(), /\(node:\d+\) .*Warning: /);
    } finally {
      await dozen.stop();
    }
  });
});

describe('dozen on MySQL', () => {
  let mariadb: MariaDb;
  before(async () => {
    mariadb = await startMariaDb();
  });
  after(async () => {
    await mariadb?.stop();
  });

  it('runs its migrations on the database named by database.url', async () => {
    const connection = await mariadb.connect();
    await connection.query('DROP DATABASE IF EXISTS dozen_server_test; CREATE DATABASE dozen_server_test');
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'registry', DOZEN_DATABASE_URL: `${mariadb.url}dozen_server_test` } });
    try {
      const [rows] = await connection.query('SHOW TABLES FROM dozen_server_test');
      const tables = (rows as Record<string, string>[]).map((row) => Object.values(row)[0]);
      assert.ok(tables.includes('migrations'), `tables: ${tables.join(', ')}\n${dozen.logs()}`);
    } finally {
      await dozen.stop();
      await connection.end();
    }
  });

  it('logs in with database.password (DOZEN_DATABASE_PASSWORD) when database.url names only the account, and never logs it', async () => {
    const connection = await mariadb.connect();
    await connection.query("DROP DATABASE IF EXISTS dozen_split_password; CREATE DATABASE dozen_split_password; CREATE OR REPLACE USER 'dozen_split'@'127.0.0.1' IDENTIFIED BY 'split-very-secret'; GRANT ALL PRIVILEGES ON dozen_split_password.* TO 'dozen_split'@'127.0.0.1'");
    const dozen = await startDozen({
      env: { DOZEN_MODULES: 'registry', DOZEN_LOG_LEVEL: 'debug', DOZEN_DATABASE_URL: `mysql://dozen_split@127.0.0.1:${mariadb.port}/dozen_split_password`, DOZEN_DATABASE_PASSWORD: 'split-very-secret' },
    });
    try {
      const [rows] = await connection.query('SHOW TABLES FROM dozen_split_password');
      const tables = (rows as Record<string, string>[]).map((row) => Object.values(row)[0]);
      assert.ok(tables.includes('migrations'), `tables: ${tables.join(', ')}\n${dozen.logs()}`);
      assert.doesNotMatch(dozen.logs(), /very-secret/);
    } finally {
      await dozen.stop();
      await connection.end();
    }
  });
});

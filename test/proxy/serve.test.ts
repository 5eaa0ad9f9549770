import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CLI, startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { call, startBackend, type TestBackend } from './helpers.js';

/** The registry's bound for a change to reach the proxy, plus IPC to the workers. */
const PROPAGATION_MS = 2_000;

describe('proxy inside dozen serve, fed by the registry', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  let proxyPort: number;
  let web: TestBackend;

  before(async () => {
    proxyPort = await freePort();
    dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '2', DOZEN_PROXY_LISTEN_PORT: String(proxyPort) } });
    web = await startBackend('web-1');
  });
  after(async () => {
    await dozen?.stop();
    await web?.close();
  });

  async function json(response: Response): Promise<any> {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  it('an instance registered over REST is served within the propagation bound, and leaves when deregistered', async () => {
    const registered = await dozen.api('/registry/instances', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'web-1', app: 'web', address: '127.0.0.1', port: web.port, domains: ['web.e2e.test'], ttl: 60 }),
    });
    assert.equal(registered.status, 201, JSON.stringify(await json(registered)));
    const started = Date.now();
    const answer = await waitFor('the route to web', async () => {
      const reply = await call(proxyPort, 'web.e2e.test', '/hello');
      return reply.status === 200 ? reply : undefined;
    }, PROPAGATION_MS, 20);
    assert.equal(answer.json().backend, 'web-1', dozen.logs());
    assert.ok(Date.now() - started <= PROPAGATION_MS);

    const removed = await dozen.api('/registry/instances/web-1', { method: 'DELETE' });
    assert.equal(removed.status, 204);
    await waitFor('the route to leave', async () => (await call(proxyPort, 'web.e2e.test', '/')).status !== 200, PROPAGATION_MS, 20);
    const gone = await call(proxyPort, 'web.e2e.test', '/');
    assert.ok([404, 503].includes(gone.status), gone.text);
  });

  it('every worker process serves, and the admin /metrics sums them per app', async () => {
    await dozen.api('/registry/instances', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'web-1', app: 'web', address: '127.0.0.1', port: web.port, domains: ['web.e2e.test'], ttl: 60 }),
    });
    await waitFor('the route to web', async () => (await call(proxyPort, 'web.e2e.test', '/')).status === 200, PROPAGATION_MS, 20);
    const answers = await Promise.all(Array.from({ length: 60 }, () => call(proxyPort, 'web.e2e.test', '/spread')));
    assert.ok(answers.every((answer) => answer.status === 200));
    const pids = await waitFor('access log lines from both workers', async () => {
      const found = new Set(dozen.logs().split('\n').filter((line) => line.includes('"path":"/spread"')).map((line) => JSON.parse(line).pid));
      return found.size >= 2 ? found : undefined;
    }, 5_000, 100);
    assert.ok(!pids.has(dozen.child.pid), 'the primary served requests itself');
    // Credentials in a query (a browser's WebSocket can carry its token nowhere else) stay out of both logs.
    assert.equal((await call(proxyPort, 'web.e2e.test', '/spread?room=a&token=SECRET-IN-QUERY')).status, 200);
    await fetch(`${dozen.url}/health?token=SECRET-IN-QUERY`);
    await waitFor('the access log line', async () => dozen.logs().includes('"path":"/spread?room=a&token=[redacted]"'), 5_000, 50);
    await waitFor('the admin request line', async () => dozen.logs().includes('"url":"/health?token=[redacted]"'), 5_000, 50);
    assert.ok(!dozen.logs().includes('SECRET-IN-QUERY'), 'a token in a query was logged');

    const metrics = await (await fetch(`${dozen.url}/metrics`)).text();
    const served = /dozen_proxy_requests_total\{app="web",class="2xx"\} (\d+)/.exec(metrics);
    assert.ok(served && Number(served[1]) >= 61, `no summed request counter in /metrics:\n${metrics.split('\n').filter((line) => line.includes('dozen_proxy')).join('\n')}`);
    assert.match(metrics, /dozen_proxy_request_duration_seconds_bucket\{le="[^"]+",app="web"\}/);
  });

  it('API keys made through the admin API open the app; a revoked key is refused', async () => {
    const policy = await dozen.api('/proxy/apps/web/policy', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth: 'api-key' }) });
    assert.equal(policy.status, 200, JSON.stringify(await json(policy)));
    const created = await dozen.api('/proxy/apps/web/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ci' }) });
    assert.equal(created.status, 201);
    const key = await json(created);
    assert.match(key.key, /^dzk_/);
    const listed = await json(await dozen.api('/proxy/apps/web/keys'));
    assert.equal(listed.length, 1);
    assert.equal(listed[0].key, undefined, 'a listed key must not show the key');

    await waitFor('the policy to reach the workers', async () => (await call(proxyPort, 'web.e2e.test', '/')).status === 401, PROPAGATION_MS, 20);
    const refused = await call(proxyPort, 'web.e2e.test', '/');
    assert.equal(refused.status, 401);
    assert.equal(refused.json().error, 'unauthorized');
    const allowed = await call(proxyPort, 'web.e2e.test', '/', { headers: { 'x-api-key': key.key, 'x-dozen-subject': 'admin' } });
    assert.equal(allowed.status, 200, allowed.text);
    assert.equal(allowed.json().headers['x-dozen-subject'], `api-key:${key.id}`);

    const revoked = await dozen.api(`/proxy/apps/web/keys/${key.id}`, { method: 'DELETE' });
    assert.equal(revoked.status, 200);
    assert.ok((await json(revoked)).revokedAt);
    await waitFor('the revocation to reach the workers', async () => (await call(proxyPort, 'web.e2e.test', '/', { headers: { authorization: `Bearer ${key.key}` } })).status === 401, PROPAGATION_MS, 20);
  });

  it('the policy is also set through GraphQL, and a bad one is refused naming the field', async () => {
    const mutation = (policy: unknown) =>
      dozen.api('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation($p: String!) { setProxyPolicy(app: "web", policy: $p) { app balancer auth } }', variables: { p: JSON.stringify(policy) } }),
      });
    const good = await json(await mutation({ balancer: 'least-load' }));
    assert.deepEqual(good.data.setProxyPolicy, { app: 'web', balancer: 'least-load', auth: 'none' });
    const bad = await json(await mutation({ balancer: 'fastest' }));
    assert.match(JSON.stringify(bad.errors), /policy\.balancer/);
    const rest = await json(await dozen.api('/proxy/apps/web/policy', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth: 'jwt' }) }));
    assert.deepEqual(rest, { error: 'bad_request', message: 'jwt: auth "jwt" needs the jwt settings', field: 'jwt' });
  });

  it('a killed worker is replaced and the proxy keeps serving meanwhile', async () => {
    await dozen.api('/proxy/apps/web/policy', { method: 'DELETE' });
    const workerPids = () => new Set(dozen.logs().split('\n').filter((line) => line.includes('proxy worker listening')).map((line) => JSON.parse(line).pid as number));
    const before = await waitFor('two workers listening', async () => (workerPids().size >= 2 ? workerPids() : undefined), 5_000, 50);
    const victim = [...before][0];
    process.kill(victim, 'SIGKILL');
    // Connections handed to the worker in the instant it died are lost with it; once the primary has
    // seen the death, the surviving worker takes every new connection.
    await waitFor('the primary to notice', async () => /proxy worker died; starting another/.test(dozen.logs()), 5_000, 20);
    const answers = await Promise.all(Array.from({ length: 20 }, () => call(proxyPort, 'web.e2e.test', '/during')));
    assert.ok(answers.every((answer) => answer.status === 200), answers.map((answer) => answer.status).join(','));
    const after = await waitFor('a replacement worker', async () => (workerPids().size >= 3 ? workerPids() : undefined), 10_000, 100);
    assert.ok(after.size === before.size + 1);
    const health = await dozen.api('/proxy/health');
    assert.equal(health.status, 200, await health.text());
  });

  it('the dozen proxy CLI sets a policy and creates, lists and revokes keys', async () => {
    const cli = (...args: string[]) => {
      const result = spawnSync(process.execPath, [CLI, 'proxy', ...args, '--server', dozen.url, '--token', dozen.token], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH, DOZEN_DATA_DIR: dozen.dataDir } });
      return { code: result.status, out: result.stdout, err: result.stderr };
    };
    const policy = cli('policy', 'cli-app', '--balancer', 'ip-hash', '--auth', 'api-key');
    assert.equal(policy.code, 0, policy.err);
    assert.deepEqual(JSON.parse(policy.out), { app: 'cli-app', balancer: 'ip-hash', hashQuery: false, auth: 'api-key', jwt: null, tls: 'auto', redirectHttp: false, hsts: null });
    const created = cli('key', 'create', 'cli-app', '--name', 'deploy-bot');
    assert.equal(created.code, 0, created.err);
    const key = JSON.parse(created.out);
    assert.match(key.key, /^dzk_/);
    const listed = JSON.parse(cli('key', 'list', 'cli-app').out);
    assert.deepEqual(listed.map((one: { name: string; key?: string }) => [one.name, one.key]), [['deploy-bot', undefined]]);
    const revoked = cli('key', 'revoke', 'cli-app', key.id);
    assert.equal(revoked.code, 0, revoked.err);
    assert.ok(JSON.parse(revoked.out).revokedAt);
    const bad = cli('policy', 'cli-app', '--balancer', 'fastest');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^dozen: 400 balancer: /);
  });
});

describe('proxy served inside the main process (proxy.workers: 0)', { timeout: 60_000 }, () => {
  it('routes and counts requests without worker processes', async () => {
    const proxyPort = await freePort();
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '0', DOZEN_PROXY_LISTEN_PORT: String(proxyPort) } });
    const backend = await startBackend('solo-1');
    try {
      const registered = await dozen.api('/registry/instances', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'solo-1', app: 'solo', address: '127.0.0.1', port: backend.port, domains: ['solo.e2e.test'], ttl: 60 }),
      });
      assert.equal(registered.status, 201);
      await waitFor('the route to solo', async () => (await call(proxyPort, 'solo.e2e.test', '/')).status === 200, PROPAGATION_MS, 20);
      const answer = await call(proxyPort, 'solo.e2e.test', '/x');
      assert.equal(answer.json().backend, 'solo-1');
      assert.ok(!/proxy worker listening/.test(dozen.logs()), 'a worker process was started');
      const metrics = await (await fetch(`${dozen.url}/metrics`)).text();
      assert.match(metrics, /dozen_proxy_requests_total\{app="solo",class="2xx"\} [2-9]/);
    } finally {
      await dozen.stop();
      await backend.close();
    }
  });
});

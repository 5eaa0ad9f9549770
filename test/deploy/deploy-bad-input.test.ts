import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { runCli } from '../support/cli.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';

const HOST = 'badinput';
const app = { name: 'shop', repository: 'https://git.example.net/shop.git', domains: ['shop.example.net'] };

/** [what is wrong, method, path, body, the field the 400 names]. */
const badInput: [string, string, string, unknown, string][] = [
  ['no name', 'POST', '/deploy/apps', { ...app, name: undefined }, 'name'],
  ['a name with capitals', 'POST', '/deploy/apps', { ...app, name: 'Shop' }, 'name'],
  ['a name of 64 characters', 'POST', '/deploy/apps', { ...app, name: 'a'.repeat(64) }, 'name'],
  ['the name kept for the hosts', 'POST', '/deploy/apps', { ...app, name: 'dozen' }, 'name'],
  ['a repository that is no git URL', 'POST', '/deploy/apps', { ...app, repository: '/srv/git/shop' }, 'repository'],
  ['a repository URL with a user and token', 'POST', '/deploy/apps', { ...app, repository: 'https://ci:ghp_0123456789@git.example.net/shop.git' }, 'repository'],
  ['a repository URL with a token as the user', 'POST', '/deploy/apps', { ...app, repository: 'https://ghp_0123456789@git.example.net/shop.git' }, 'repository'],
  ['an ssh repository URL with a password', 'POST', '/deploy/apps', { ...app, repository: 'ssh://git:pw@git.example.net/shop.git' }, 'repository'],
  ['a repository URL with credentials, changed', 'PUT', '/deploy/apps/shop', { repository: 'http://ci:ghp_0123456789@git.example.net/shop.git' }, 'repository'],
  ['a file:// repository (off by default)', 'POST', '/deploy/apps', { ...app, repository: 'file:///srv/git/shop' }, 'repository'],
  ['a file:// repository, changed', 'PUT', '/deploy/apps/shop', { repository: 'file:///srv/git/shop' }, 'repository'],
  ['no repository for a built runtime', 'POST', '/deploy/apps', { ...app, repository: undefined }, 'repository'],
  ['runtime image without an image', 'POST', '/deploy/apps', { ...app, runtime: 'image' }, 'image'],
  ['an unknown runtime', 'POST', '/deploy/apps', { ...app, runtime: 'cobol' }, 'runtime'],
  ['runtime php-laravel without a repository', 'POST', '/deploy/apps', { ...app, runtime: 'php-laravel', repository: undefined }, 'repository'],
  ['a ref with ..', 'POST', '/deploy/apps', { ...app, defaultRef: 'main..x' }, 'defaultRef'],
  ['a ref starting with -', 'POST', '/deploy/apps', { ...app, defaultRef: '--upload-pack=x' }, 'defaultRef'],
  ['port 0', 'POST', '/deploy/apps', { ...app, port: 0 }, 'port'],
  ['a fixed port outside deploy.portRange', 'POST', '/deploy/apps', { ...app, port: 7700 }, 'port'],
  ['a fixed port outside deploy.portRange, changed', 'PUT', '/deploy/apps/shop', { port: 80 }, 'port'],
  ['a health path without /', 'POST', '/deploy/apps', { ...app, healthPath: 'health' }, 'healthPath'],
  ['env named PORT', 'POST', '/deploy/apps', { ...app, env: { PORT: '1' } }, 'env.PORT'],
  ['env named DOZEN_*', 'POST', '/deploy/apps', { ...app, env: { DOZEN_APP: 'x' } }, 'env.DOZEN_APP'],
  ['an env value that is no string', 'POST', '/deploy/apps', { ...app, env: { LEVEL: 3 } }, 'env.LEVEL'],
  ['a secret name with a dash', 'POST', '/deploy/apps', { ...app, secrets: { 'API-KEY': 'x' } }, 'secrets.API-KEY'],
  ['a bad domain', 'POST', '/deploy/apps', { ...app, domains: ['shop..example.net'] }, 'domains.0'],
  ['memory under 16 MB', 'POST', '/deploy/apps', { ...app, memoryMb: 8 }, 'memoryMb'],
  ['zero CPUs', 'POST', '/deploy/apps', { ...app, cpus: 0 }, 'cpus'],
  ['an unknown field', 'POST', '/deploy/apps', { ...app, replicas: 3 }, 'body'],
  ['an app name with _ in the path', 'GET', '/deploy/apps/shop_1', undefined, 'app'],
  ['an unknown update field', 'PUT', '/deploy/apps/shop', { name: 'other' }, 'body'],
  ['a bad domain to add', 'POST', '/deploy/apps/shop/domains', { domain: '-x.net' }, 'domain'],
  ['env without variables', 'PUT', '/deploy/apps/shop/env', { env: {} }, 'env'],
  ['a bad env name to unset', 'DELETE', '/deploy/apps/shop/env/1X', undefined, 'name'],
  ['a secret value that is no string', 'PUT', '/deploy/apps/shop/secrets', { secrets: { TOKEN: 1 } }, 'secrets.TOKEN'],
  ['a deploy of a bad ref', 'POST', '/deploy/apps/shop/deploy', { ref: 'a b' }, 'ref'],
  ['a rollback to a bad release id', 'POST', '/deploy/apps/shop/rollback', { release: 'latest' }, 'release'],
  ['an instance without a host', 'POST', '/deploy/instances', { app: 'shop' }, 'host'],
  ['an instance on a bad host name', 'POST', '/deploy/instances', { app: 'shop', host: 'Host_1' }, 'host'],
  ['a bad instance id', 'POST', '/deploy/instances/shop-1/restart', undefined, 'id'],
  ['a bad release id', 'GET', '/deploy/releases/xyz', undefined, 'id'],
  ['a cancel of a bad release id', 'POST', '/deploy/releases/latest/cancel', undefined, 'id'],
  ['a negative scale', 'POST', '/deploy/apps/shop/scale', { host: HOST, count: -1 }, 'count'],
  ['a fractional scale', 'POST', '/deploy/apps/shop/scale', { host: HOST, count: 1.5 }, 'count'],
  ['a log tail that is no number', 'GET', '/deploy/instances/i00000000/logs?tail=all', undefined, 'tail'],
  ['an audit limit of 0', 'GET', '/deploy/audit?limit=0', undefined, 'limit'],
  ['a webhook of a bad app name', 'POST', '/deploy/apps/Shop/webhook', undefined, 'app'],
  ['a push delivery to a bad app name', 'POST', '/deploy/hooks/shop_1', {}, 'app'],
];

/** [what, method, path, body, status, error]. */
const refused: [string, string, string, unknown, number, string][] = [
  ['an unknown app', 'GET', '/deploy/apps/nothere', undefined, 404, 'not_found'],
  ['a deploy of an unknown app', 'POST', '/deploy/apps/nothere/deploy', {}, 404, 'not_found'],
  ['an unknown instance', 'POST', '/deploy/instances/i00000000/stop', undefined, 404, 'not_found'],
  ['an unknown release', 'GET', '/deploy/releases/r00000000', undefined, 404, 'not_found'],
  ['a cancel of an unknown release', 'POST', '/deploy/releases/r00000000/cancel', undefined, 404, 'not_found'],
  ['an instance on an unknown host', 'POST', '/deploy/instances', { app: 'shop', host: 'nowhere' }, 404, 'not_found'],
  ['a taken app name', 'POST', '/deploy/apps', app, 409, 'app_exists'],
  ['a domain another app serves', 'POST', '/deploy/apps', { ...app, name: 'other' }, 409, 'domain_taken'],
  ['a domain another app serves, added', 'POST', '/deploy/apps/blog/domains', { domain: 'shop.example.net' }, 409, 'domain_taken'],
  ['an instance of an app never deployed', 'POST', '/deploy/instances', { app: 'shop', host: HOST }, 409, 'no_release'],
  ['a rollback with no earlier release', 'POST', '/deploy/apps/shop/rollback', {}, 409, 'no_previous_release'],
  ['unsetting an env variable that is not set', 'DELETE', '/deploy/apps/shop/env/NOPE', undefined, 404, 'not_found'],
  ['the webhook of an app that has none', 'GET', '/deploy/apps/shop/webhook', undefined, 404, 'not_found'],
  ['a webhook for an unknown app', 'POST', '/deploy/apps/nothere/webhook', undefined, 404, 'not_found'],
  ['a push delivery to an app without a webhook (as a badly signed one: which apps have one stays unsaid)', 'POST', '/deploy/hooks/shop', {}, 401, 'unauthorized'],
];

describe('deploy REST refuses bad input with 400 naming the field, unknown ids with 404, conflicts with 409', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  const call = (method: string, path: string, body: unknown) =>
    dozen.api(path, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });

  before(async () => {
    dozen = await startDozen({
      env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: HOST, DOZEN_DEPLOY_DOCKER_SOCKET_PATH: process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET },
    });
    assert.equal((await call('POST', '/deploy/apps', app)).status, 201);
    assert.equal((await call('POST', '/deploy/apps', { ...app, name: 'blog', domains: [] })).status, 201);
  });
  after(async () => {
    await dozen?.stop();
  });

  for (const [what, method, path, body, field] of badInput) {
    it(`${method} ${path}: ${what} -> 400 on ${field}`, async () => {
      const response = await call(method, path, body);
      const answer = await response.json();
      assert.equal(response.status, 400, JSON.stringify(answer));
      assert.equal(answer.error, 'bad_request');
      assert.equal(answer.field, field, JSON.stringify(answer));
      assert.ok(answer.message.startsWith(`${field}: `), answer.message);
    });
  }

  for (const [what, method, path, body, status, error] of refused) {
    it(`${method} ${path}: ${what} -> ${status} ${error}`, async () => {
      const response = await call(method, path, body);
      const answer = await response.json();
      assert.equal(response.status, status, JSON.stringify(answer));
      assert.equal(answer.error, error, JSON.stringify(answer));
    });
  }

  it('the CLI says what is wrong in one line and exits non-zero', async () => {
    const server = ['--server', dozen.url, '--token', dozen.token];
    const usage = await runCli(['scale', 'shop', HOST, 'two', ...server]);
    assert.equal(usage.code, 2);
    assert.equal(usage.stderr, 'dozen: count: expected a whole number, got "two"\n');
    const conflict = await runCli(['instance', 'create', 'shop', HOST, ...server]);
    assert.equal(conflict.code, 1);
    assert.equal(conflict.stderr, 'dozen: 409 shop has no ready release yet: deploy it first\n');
    const rollback = await runCli(['app', 'rollback', 'shop', ...server]);
    assert.equal(rollback.code, 1);
    assert.equal(rollback.stderr, 'dozen: 409 shop has no ready release yet: there is nothing to roll back to\n');
    const created = await runCli(['app', 'create', 'cli-made', '--repository', 'https://git.example.net/cli.git', '--env', 'A=1', ...server]);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(JSON.parse(created.stdout).env, { A: '1' });
    const listed = await runCli(['app', 'list', ...server]);
    assert.match(listed.stdout, /^cli-made\tnodejs\t-\t$/m);
    const badPair = await runCli(['app', 'env', 'cli-made', 'set', 'NOEQUALS', ...server]);
    assert.equal(badPair.code, 2);
    assert.equal(badPair.stderr, 'dozen: env set: expected NAME=value, got "NOEQUALS"\n');
  });

  it('without the admin token every route is 401', async () => {
    const response = await fetch(dozen.url + '/deploy/apps');
    assert.equal(response.status, 401);
  });
});

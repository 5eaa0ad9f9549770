import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { TEST_APP_IMAGE } from '../support/base-image.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { ensurePhpBaseImage } from '../support/php-base-image.js';
import { freePort, waitFor } from '../support/ports.js';
import { expectStatus, FILE_REPOSITORIES, json, viaProxy, waitInstance, waitRelease } from './helpers.js';

const HOST = 'runtimetest';
const PHP_DOMAIN = 'site.runtimes.test';
const IMAGE_DOMAIN = 'echo.runtimes.test';

/**
 * A git repository of a PHP site: `main` is a plain public/index.php with no
 * composer.json; the branch `composer` requires a package from a path
 * repository inside it (packagist off, so composer installs it offline); the
 * branch `artisan` adds an `artisan` that stands in for Laravel's: `serve`
 * runs PHP's built-in server on the --host and --port it was given, telling
 * the page how it was started.
 */
function makePhpRepository(): { url: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-php-repo-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=test@dozen', '-c', 'user.name=test', ...args], { cwd: dir, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  mkdirSync(join(dir, 'public'));
  const page = (version: number, greeting: string) => `<?php
${version === 2 ? "require __DIR__ . '/../vendor/autoload.php';\n" : ''}header('Content-Type: application/json');
echo json_encode(['version' => ${version}, 'sapi' => PHP_SAPI, 'path' => $_SERVER['REQUEST_URI'], 'greeting' => ${greeting},
  'env' => ['DOZEN_APP' => getenv('DOZEN_APP'), 'DOZEN_DOMAIN' => getenv('DOZEN_DOMAIN'), 'PORT' => getenv('PORT'), 'GREETING' => getenv('GREETING'), 'GIT_TOKEN' => getenv('GIT_TOKEN')]]);
`;
  writeFileSync(join(dir, 'public/index.php'), page(1, "getenv('GREETING')"));
  git('add', '.');
  git('commit', '-qm', 'plain php');
  git('checkout', '-q', '-b', 'composer');
  mkdirSync(join(dir, 'packages/greeting/src'), { recursive: true });
  writeFileSync(join(dir, 'packages/greeting/composer.json'), JSON.stringify({ name: 'acme/greeting', version: '1.0.0', autoload: { 'psr-4': { 'Acme\\Greeting\\': 'src/' } } }));
  writeFileSync(join(dir, 'packages/greeting/src/Hello.php'), '<?php\nnamespace Acme\\Greeting;\nfinal class Hello { public static function to(string $who): string { return "hello $who from acme/greeting"; } }\n');
  writeFileSync(join(dir, 'composer.json'), JSON.stringify({
    name: 'acme/site', repositories: [{ 'packagist.org': false }, { type: 'path', url: 'packages/greeting', options: { symlink: false } }], require: { 'acme/greeting': '1.0.0' },
  }));
  writeFileSync(join(dir, 'public/index.php'), page(2, "\\Acme\\Greeting\\Hello::to(getenv('DOZEN_APP'))"));
  git('add', '.');
  git('commit', '-qm', 'a composer package');
  git('checkout', '-q', 'main');
  git('checkout', '-q', '-b', 'artisan');
  writeFileSync(join(dir, 'artisan'), `<?php
$args = [];
foreach (array_slice($argv, 1) as $arg) {
  if (preg_match('/^--(host|port)=(.*)$/', $arg, $match)) $args[$match[1]] = $match[2];
  else $args['command'] = $arg;
}
if (($args['command'] ?? '') !== 'serve') { fwrite(STDERR, "only serve\\n"); exit(1); }
$started = 'artisan serve --host=' . $args['host'] . ' --port=' . $args['port'];
pcntl_exec(PHP_BINARY, ['-S', $args['host'] . ':' . $args['port'], '-t', 'public'], array_merge(getenv(), ['GREETING' => $started]));
`);
  git('add', '.');
  git('commit', '-qm', 'an artisan');
  git('checkout', '-q', 'main');
  return { url: `file://${dir}`, dir };
}

/**
 * The php-laravel runtime on the PHP base image the bench makes from Debian's
 * php-cli and composer, and the image runtime (a ready image, no build), each
 * answering through dozen's proxy on the bench's real Docker Engine.
 */
describe('deploy runtimes: php-laravel from git, and a ready image', { timeout: 240_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  const repository = makePhpRepository();
  let dozen: DozenProcess;
  let proxyPort: number;
  let phpImage: string;
  let phpInstance: string;

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    phpImage = await ensurePhpBaseImage(docker);
    proxyPort = await freePort();
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'proxy,registry,deploy', DOZEN_HOST_NAME: HOST, DOZEN_PROXY_LISTEN_PORT: String(proxyPort), DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath,
        DOZEN_DEPLOY_RUNTIMES_PHP_LARAVEL_BASE_IMAGE: phpImage, DOZEN_DEPLOY_DRAIN_SECONDS: '1', DOZEN_DEPLOY_HEALTH_TIMEOUT_SECONDS: '20', ...FILE_REPOSITORIES,
      },
    });
  });

  after(async () => {
    const managed = () => docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.host=${HOST}`] } });
    if (dozen) {
      for (const app of ['site', 'echo']) await dozen.api(`/deploy/apps/${app}`, { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the app containers to go', async () => (await managed()).length === 0, 30_000).catch(() => undefined);
      await dozen.stop();
      rmSync(dozen.dataDir, { recursive: true, force: true });
    }
    for (const container of await managed()) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
    for (const image of await docker.listImages({ filters: { label: ['dozen.app=site'] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    rmSync(repository.dir, { recursive: true, force: true });
  });

  const answer = async (domain: string) => {
    const reply = await viaProxy(proxyPort, domain, '/');
    assert.equal(reply.status, 200, reply.body);
    return JSON.parse(reply.body) as { version: number; sapi: string; greeting: string; env: Record<string, string> };
  };

  it('a php-laravel app with a plain public/index.php builds on the PHP base image, runs, and answers through the proxy with its env', async () => {
    await expectStatus(dozen, '/deploy/apps', json({ name: 'site', runtime: 'php-laravel', repository: repository.url, domains: [PHP_DOMAIN], env: { GREETING: 'hi from php' }, secrets: { GIT_TOKEN: 'tok-never-in-a-container' } }), 201);
    const release = await expectStatus(dozen, '/deploy/apps/site/deploy', json({}), 202);
    await waitRelease(dozen, String(release.id), 'ready', 120_000);
    const log = await (await dozen.api(`/deploy/releases/${String(release.id)}/log`)).text();
    assert.match(log, new RegExp(`using the php-laravel template on ${phpImage.replace(/[.]/g, '\\.')}`));
    assert.doesNotMatch(log, /composer/, 'no composer.json: no composer run');

    phpInstance = String((await expectStatus(dozen, '/deploy/instances', json({ app: 'site', host: HOST }), 201)).id);
    const running = await waitInstance(dozen, phpInstance, (instance) => instance.state === 'running', 'running');
    const body = await answer(PHP_DOMAIN);
    assert.equal(body.version, 1);
    assert.equal(body.sapi, 'cli-server', "served by PHP's built-in server");
    assert.deepEqual(body.env, { DOZEN_APP: 'site', DOZEN_DOMAIN: PHP_DOMAIN, PORT: String(running.port), GREETING: 'hi from php', GIT_TOKEN: false }, 'git credentials are for the build only');
    const [container] = await docker.listContainers({ filters: { label: [`dozen.instance=${phpInstance}`] } });
    assert.equal(((await docker.getContainer(container.Id).inspect()).Config as { StopSignal?: string }).StopSignal, 'SIGINT');
  });

  it('a ref whose composer.json requires a package runs composer install --no-dev in the build, and the instance moves to it', async () => {
    const release = await expectStatus(dozen, '/deploy/apps/site/deploy', json({ ref: 'composer' }), 202);
    await waitRelease(dozen, String(release.id), 'ready', 120_000);
    const log = await (await dozen.api(`/deploy/releases/${String(release.id)}/log`)).text();
    assert.match(log, /RUN \["composer", "install", "--no-dev"/);
    assert.match(log, /Installing acme\/greeting \(1\.0\.0\)/);
    await waitInstance(dozen, phpInstance, (instance) => instance.state === 'running' && instance.runningRelease === release.id, 'on the composer release');
    await waitFor('version 2 to answer', async () => (await answer(PHP_DOMAIN)).version === 2, 20_000, 50);
    assert.equal((await answer(PHP_DOMAIN)).greeting, 'hello site from acme/greeting');
  });

  it('an image app builds nothing: its release records the named image, and its instance answers through the proxy', async () => {
    const imageId = ((await docker.getImage(TEST_APP_IMAGE).inspect()) as { Id: string }).Id;
    await expectStatus(dozen, '/deploy/apps', json({ name: 'echo', runtime: 'image', image: TEST_APP_IMAGE, domains: [IMAGE_DOMAIN] }), 201);
    const release = await expectStatus(dozen, '/deploy/apps/echo/deploy', json({}), 202);
    const ready = await waitRelease(dozen, String(release.id), 'ready');
    assert.equal(ready.imageId, imageId);
    assert.equal(ready.commit, null);
    const log = await (await dozen.api(`/deploy/releases/${String(release.id)}/log`)).text();
    assert.doesNotMatch(log, /Step \d+/, 'no build ran');
    const id = String((await expectStatus(dozen, '/deploy/instances', json({ app: 'echo', host: HOST }), 201)).id);
    await waitInstance(dozen, id, (instance) => instance.state === 'running', 'running');
    const reply = await viaProxy(proxyPort, IMAGE_DOMAIN, '/hello');
    assert.equal(reply.status, 200, reply.body);
    const body = JSON.parse(reply.body) as { path: string; env: Record<string, string> };
    assert.equal(body.path, '/hello');
    assert.equal(body.env.DOZEN_APP, 'echo');
    assert.equal(body.env.DOZEN_INSTANCE, id);
  });

  it('with an artisan in the repository, the template serves through `php artisan serve --host=0.0.0.0 --port=$PORT`', async () => {
    const release = await expectStatus(dozen, '/deploy/apps/site/deploy', json({ ref: 'artisan' }), 202);
    await waitRelease(dozen, String(release.id), 'ready', 120_000);
    const moved = await waitInstance(dozen, phpInstance, (instance) => instance.state === 'running' && instance.runningRelease === release.id, 'on the artisan release');
    await waitFor('the artisan release to answer', async () => (await answer(PHP_DOMAIN)).greeting !== 'hello site from acme/greeting', 20_000, 50);
    const body = await answer(PHP_DOMAIN);
    assert.equal(body.greeting, `artisan serve --host=0.0.0.0 --port=${String(moved.port)}`);
    assert.equal(body.sapi, 'cli-server');
  });
});

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import type { Browser, Page } from 'playwright-core';
import { BASE_IMAGE } from '../support/base-image.js';
import { launchChromium } from '../support/chromium.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { FILE_REPOSITORIES, makeRepository, steadyClient, viaProxy } from '../deploy/helpers.js';
import { adminGql, createUser, logIn, shoot } from './console-helpers.js';

const HOST = 'consolehost';
const APP = 'console-hello';
const DOMAIN = 'hello.console.test';
const PASSWORD = 'deploy flow password';

/**
 * The deploy pages on the bench's real Docker Engine: an app created from a
 * local git repository in the console, deployed with its build log streaming
 * in, an instance started on this host that reaches running with its CPU
 * figure moving, then restarted, all watched on the open page.
 */
describe('the console deploys an app from a git repository', { timeout: 420_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  const repository = makeRepository();
  let dozen: DozenProcess;
  let browser: Browser;
  let page: Page;
  let proxyPort: number;

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/console)`));
    proxyPort = await freePort();
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'proxy,registry,deploy', DOZEN_HOST_NAME: HOST, DOZEN_PROXY_LISTEN_PORT: String(proxyPort),
        DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath, DOZEN_DEPLOY_RUNTIMES_NODEJS_BASE_IMAGE: BASE_IMAGE,
        DOZEN_DEPLOY_DRAIN_SECONDS: '1', DOZEN_DEPLOY_HEALTH_TIMEOUT_SECONDS: '20', ...FILE_REPOSITORIES,
      },
    });
    browser = await launchChromium();
    await createUser(dozen, 'ada', 'admin', PASSWORD);
    ({ page } = await logIn(browser, dozen, 'ada', PASSWORD));
  });

  after(async () => {
    await browser?.close();
    if (dozen) {
      await dozen.api(`/deploy/apps/${APP}`, { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the app containers to go', async () => (await managed()).length === 0, 30_000).catch(() => undefined);
      await dozen.stop();
    }
    for (const container of await managed()) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
    for (const image of await docker.listImages({ filters: { label: [`dozen.app=${APP}`] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    rmSync(repository.dir, { recursive: true, force: true });
  });

  /** Engine log streams the server holds open for people (its gauge on /metrics). */
  const followsOpen = async () => {
    const metrics = await (await fetch(dozen.url + '/metrics')).text();
    return Number(/^dozen_deploy_log_follows (\S+)$/m.exec(metrics)?.[1] ?? NaN);
  };

  const managed = () => docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.host=${HOST}`] } });

  it('creates the app, deploys main with the build log streaming in, runs an instance with its CPU moving, and restarts it', async () => {
    await page.goto(dozen.url + '/console/apps');
    await page.fill('input[name=name]', APP);
    await page.fill('input[name=repository]', repository.url);
    await page.fill('input[name=domains]', DOMAIN);
    await page.click('form button[type=submit]');
    await page.waitForSelector('h1.app-name');
    assert.equal(await page.innerText('h1.app-name'), APP);

    await page.click('[data-testid=releases] button[type=submit]');
    const log = await page.waitForSelector('[data-build-log]');
    const release = await log.getAttribute('data-build-log');
    // The build's lines reach the page through the buildLog subscription.
    await page.waitForFunction(`(document.querySelector('[data-build-log] pre')?.textContent ?? '').split('\\n').length > 3`, undefined, { timeout: 300_000 });
    await page.waitForSelector('[data-build-log][data-done=true]', { timeout: 300_000 });
    await page.waitForSelector(`tr[data-release="${release}"] .badge.ready`, { timeout: 10_000 });

    await page.click('[data-testid=instances] button[type=submit]');
    const row = await page.waitForSelector('[data-testid=instances] tr[data-instance]');
    const instance = (await row.getAttribute('data-instance'))!;
    await page.waitForSelector(`tr[data-instance="${instance}"][data-state=running]`, { timeout: 120_000 });
    // Requests through the proxy give the app work; the page's CPU figure must change while they run.
    const client = steadyClient(proxyPort, DOMAIN);
    try {
      const cpu = `document.querySelector('tr[data-instance="${instance}"] [data-col=cpu]')?.textContent`;
      await page.waitForFunction(`${cpu} && ${cpu} !== '–'`, undefined, { timeout: 30_000 });
      const first = (await page.evaluate(cpu)) as string;
      await page.waitForFunction(`${cpu} !== ${JSON.stringify(first)}`, undefined, { timeout: 30_000 });
    } finally {
      const { sent, failed } = await client.stop();
      assert.ok(sent > 0 && failed.length < sent, `the app answered through the proxy: ${failed.slice(0, 3).join('; ')}`);
    }
    await shoot(page, 'app-deploy');

    // The container's output: its start line from the tail, then lines printed while the panel is open.
    await page.click(`tr[data-instance="${instance}"] button[data-logs]`);
    const panel = `[data-instance-logs="${instance}"]`;
    await page.waitForSelector(`${panel} [data-stream=stdout]:has-text("listening on")`, { timeout: 30_000 });
    const said = await viaProxy(proxyPort, DOMAIN, '/say?out=printed-after-open&err=an-error-line');
    assert.equal(said.status, 200);
    await page.waitForSelector(`${panel} [data-stream=stdout]:has-text("printed-after-open")`);
    await page.waitForSelector(`${panel} [data-stream=stderr]:has-text("an-error-line")`);
    assert.equal(await followsOpen(), 1, 'one Engine log stream while the panel is open');
    // The REST follow (what `dozen instance logs -f` reads) is the same follow: one more stream, closed when the client goes.
    const leaving = new AbortController();
    const followed = await dozen.api(`/deploy/instances/${instance}/logs?tail=5&follow=1`, { signal: leaving.signal });
    assert.equal(followed.status, 200);
    const reader = followed.body!.getReader();
    let text = '';
    const deadline = Date.now() + 15_000;
    while (!text.includes('an-error-line')) {
      const chunk = await reader.read();
      assert.ok(!chunk.done && Date.now() < deadline, `the REST follow gave the tail with the stderr line: ${JSON.stringify(text)}`);
      text += new TextDecoder().decode(chunk.value);
    }
    assert.equal(await followsOpen(), 2);
    leaving.abort();
    await waitFor('the REST follow closed', async () => (await followsOpen()) === 1, 15_000);
    // Scrolled up, the panel stays where the person put it while lines arrive; the button follows the newest again.
    await viaProxy(proxyPort, DOMAIN, '/say?' + Array.from({ length: 40 }, (_, index) => `out=filler-${index}`).join('&'));
    await page.waitForSelector(`${panel} [data-stream=stdout]:has-text("filler-39")`);
    await page.$eval(`${panel} .output`, (element) => (element.scrollTop = 0));
    await page.waitForSelector(`${panel}[data-pinned=false]`);
    await viaProxy(proxyPort, DOMAIN, '/say?out=while-scrolled-up&err=an-error-while-scrolled-up');
    await page.waitForSelector(`${panel} [data-stream=stdout]:has-text("while-scrolled-up")`);
    assert.equal(await page.$eval(`${panel} .output`, (element) => element.scrollTop), 0, 'no auto-scroll while scrolled up');
    await page.click(`${panel} button.latest`);
    await page.waitForSelector(`${panel}[data-pinned=true]`);
    const output = `document.querySelector('${panel} .output')`;
    await page.waitForFunction(`${output}.scrollTop + ${output}.clientHeight >= ${output}.scrollHeight - 4`);
    await shoot(page, 'instance-logs');

    const generation = Number(await page.getAttribute(`tr[data-instance="${instance}"]`, 'data-generation'));
    await page.click(`tr[data-instance="${instance}"] button[data-perm]:has-text("Restart")`);
    await page.waitForSelector(`tr[data-instance="${instance}"][data-generation="${generation + 1}"][data-state=running]`, { timeout: 120_000 });
    // The panel follows the new container: the old one's lines are gone, the old stream closed.
    await page.waitForSelector(`${panel} [data-stream=stdout]:has-text("listening on")`, { timeout: 30_000 });
    assert.equal(await page.$(`${panel} [data-stream=stdout]:has-text("printed-after-open")`), null);
    await waitFor('one Engine log stream after the restart', async () => (await followsOpen()) === 1, 15_000);
    await page.click(`${panel} h3 button`);
    await waitFor('the Engine log stream closed with the panel', async () => (await followsOpen()) === 0, 15_000);
    const { instances } = await adminGql<{ instances: { generation: number; state: string }[] }>(dozen, `{ instances(app: "${APP}") { generation state } }`);
    assert.deepEqual(instances, [{ generation: generation + 1, state: 'running' }]);

    // Releases on the open page follow deploys made elsewhere (here through the API) and a rollback.
    const first = release!;
    const { deploy } = await adminGql<{ deploy: { id: string } }>(dozen, `mutation { deploy(app: "${APP}", ref: "next") { id } }`);
    await page.waitForSelector(`tr[data-release="${deploy.id}"]`, { timeout: 10_000 });
    await page.waitForSelector(`tr[data-release="${deploy.id}"][data-current=true] .badge.ready`, { timeout: 300_000 });
    await page.waitForSelector(`tr[data-instance="${instance}"]:has-text("${deploy.id}")`, { timeout: 30_000 });
    await page.click(`tr[data-release="${first}"] button[data-perm]:has-text("Roll back")`);
    await page.waitForSelector(`tr[data-release="${first}"][data-current=true]`, { timeout: 10_000 });
    assert.equal(await page.getAttribute(`tr[data-release="${deploy.id}"]`, 'data-current'), 'false');
    await page.waitForSelector(`tr[data-instance="${instance}"][data-state=running]:has-text("${first}")`, { timeout: 120_000 });
    await shoot(page, 'app-releases');

    // The overview: this host up, and the instance counted by state.
    await page.click('header nav a[href="/console/overview"]');
    await page.waitForSelector('.states .badge.running');
    assert.match(await page.innerText('main'), new RegExp(`${HOST}\\s+up`));
    await shoot(page, 'overview-deploy');
  });
});

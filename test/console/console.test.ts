import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { TestClient } from '../broadcast/ws-client.js';
import { adminGql, createUser, cspViolations, logIn, open, shoot } from './console-helpers.js';

const PASSWORD = 'correct horse battery staple';

describe('the web console in Chromium', { timeout: 240_000 }, () => {
  let dozen: DozenProcess;
  let browser: Browser;
  let page: Page;
  // A log file the tailer follows, so the Storage page has a file whose offset moves.
  const logs = mkdtempSync(join(tmpdir(), 'dozen-console-logs-'));
  const logFile = join(logs, 'app.log');
  const rest = (path: string, method: string, body?: unknown) =>
    dozen.api(path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  before(async () => {
    writeFileSync(logFile, 'first line\n');
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'registry,proxy,storage,broadcast',
        DOZEN_STORAGE_TAIL: JSON.stringify([{ glob: join(logs, '*.log') }]),
        DOZEN_STORAGE_TAILER_FLUSH_MS: '100',
        DOZEN_STORAGE_TAILER_SCAN_MS: '100',
      },
    });
    browser = await launchChromium();
    await createUser(dozen, 'ada', 'admin', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await dozen?.stop();
    rmSync(logs, { recursive: true, force: true });
  });

  it('refuses a wrong password next to the form, then logs in', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const wrong = await context.newPage();
    await wrong.goto(dozen.url + '/');
    await wrong.fill('input[name=username]', 'ada');
    await wrong.fill('input[name=password]', 'not the password');
    await wrong.click('button[type=submit]');
    const error = await wrong.waitForSelector('form [role=alert]');
    assert.match(await error.innerText(), /password|credentials|invalid/i);
    await shoot(wrong, 'login');
    await context.close();
    ({ page } = await logIn(browser, dozen, 'ada', PASSWORD));
    assert.match(await page.innerText('[data-testid=me]'), /ada/);
  });

  it('shows the health of each module, and says so where a module is off', async () => {
    await page.waitForSelector('[data-module=storage] .badge.up');
    for (const module of ['proxy', 'registry', 'storage', 'broadcast']) assert.equal(await page.innerText(`[data-module=${module}] .badge`), 'up');
    assert.equal(await page.innerText('[data-module=deploy] .badge'), 'off');
    await shoot(page, 'overview');
    await open(page, '/apps');
    assert.match(await page.innerText('main'), /deploy module is off/);
  });

  it('shows an instance registered through the API on the Routes page as it happens, and its load as it changes', async () => {
    await open(page, '/routes');
    await page.waitForSelector('main .card');
    assert.equal(await page.$('[data-instance=shop-1]'), null);
    const registered = await rest('/registry/instances', 'POST', { id: 'shop-1', app: 'shop', address: '127.0.0.1', port: 9101, domains: ['shop.test'], ttl: 600 });
    assert.equal(registered.status, 201);
    const row = await page.waitForSelector('[data-instance=shop-1]');
    assert.match(await row.innerText(), /127\.0\.0\.1:9101/);
    assert.match(await page.innerText('[data-app=shop] h3'), /shop\.test/);
    await rest('/registry/instances/shop-1/heartbeat', 'PUT', { load: { cpu: 12.5, memory: 50_000_000, processes: 3, inflight: 7 } });
    await page.waitForFunction("document.querySelector('[data-instance=shop-1] [data-col=inflight]')?.textContent === '7'");
    assert.equal(await page.innerText('[data-instance=shop-1] [data-col=cpu]'), '12.5%');
    await shoot(page, 'routes');
  });

  it("sets an app's proxy policy and creates an API key that is shown once", async () => {
    await open(page, '/apps');
    await page.click('[data-app=shop] a');
    await page.waitForSelector('[data-testid=proxy-policy] select[name=balancer]');
    await page.selectOption('[data-testid=proxy-policy] select[name=balancer]', 'least-load');
    await page.selectOption('[data-testid=proxy-policy] select[name=auth]', 'api-key');
    await page.click('[data-testid=proxy-policy] button[type=submit]');
    await page.waitForSelector('[data-testid=proxy-policy] [role=status]');
    const policy = await (await rest('/proxy/apps/shop/policy', 'GET')).json();
    assert.equal(policy.balancer, 'least-load');
    assert.equal(policy.auth, 'api-key');

    await page.fill('[data-testid=api-keys] input[name=keyName]', 'mobile');
    await page.click('[data-testid=api-keys] button[type=submit]');
    const key = await (await page.waitForSelector('[data-testid=new-key]')).innerText();
    await page.waitForSelector('[data-testid=api-keys] tr[data-key-id]');
    const { proxyApiKeys } = await adminGql<{ proxyApiKeys: { name: string; hint: string }[] }>(dozen, '{ proxyApiKeys(app: "shop") { name hint } }');
    assert.equal(proxyApiKeys.length, 1);
    assert.equal(proxyApiKeys[0].name, 'mobile');
    assert.ok(key.startsWith(proxyApiKeys[0].hint), 'the key shown starts with the hint the API keeps');
    await shoot(page, 'app');
    await page.reload();
    await page.waitForSelector('[data-testid=api-keys] tr[data-key-id]');
    assert.equal(await page.$('[data-testid=new-key]'), null, 'the key is shown only once');
  });

  it('shows a message published through REST in the open room', async () => {
    await open(page, '/broadcast');
    await page.fill('input[name=room]', 'orders');
    await page.click('form.inline button[type=submit]');
    await page.waitForSelector('[data-open-room=orders] .badge.joined');
    const published = await rest('/broadcast/rooms/orders/messages', 'POST', { data: { order: 42 } });
    assert.equal(published.status, 201);
    const { seq } = await published.json();
    const item = await page.waitForSelector(`[data-open-room=orders] li[data-seq="${seq}"]`);
    assert.match(await item.innerText(), /\{"order":42\}/);
    await page.click('[data-open-room=orders] button[type=submit]');
    await page.waitForSelector(`[data-open-room=orders] li[data-seq="${seq + 1}"]`);
    await shoot(page, 'broadcast');
  });

  it("shows a room's subscriber count change as a WebSocket client joins and leaves", async () => {
    await open(page, '/broadcast');
    await page.waitForSelector('[data-room=orders]');
    const subscribers = "document.querySelector('[data-room=lobby] [data-col=subscribers]')?.textContent";
    assert.equal(await page.evaluate(subscribers), undefined, 'no lobby room before anyone joins');
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      await client.join('lobby');
      await page.waitForFunction(`${subscribers} === '1'`);
      await rest('/broadcast/rooms/lobby/messages', 'POST', { data: 'hello' });
      await page.waitForFunction("document.querySelector('[data-room=lobby] [data-col=seq]')?.textContent === '1'");
    } finally {
      client.socket.close();
    }
    await page.waitForFunction(`${subscribers} === '0'`);
  });

  it("shows the tailer's offset move when a line is appended to a followed file", async () => {
    await open(page, '/storage');
    const row = `[data-testid=tailer] tr[data-file="${logFile}"]`;
    await page.waitForSelector(`${row}[data-offset="${'first line\n'.length}"]`, { timeout: 15_000 });
    appendFileSync(logFile, 'a line appended while the page is open\n');
    const size = readFileSync(logFile).length;
    await page.waitForSelector(`${row}[data-offset="${size}"]`, { timeout: 15_000 });
    await shoot(page, 'storage-tailer');
  });

  it('uploads a file with a progress bar and downloads the same bytes back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-upload-'));
    const file = join(dir, 'photo.bin');
    const content = randomBytes(12 * 1024 * 1024);
    writeFileSync(file, content);
    await open(page, '/storage');
    await page.fill('input[name=prefix]', 'media/');
    await page.click('form.inline button[type=submit]');
    await page.setInputFiles('input[type=file]', file);
    assert.equal(await page.inputValue('input[name=key]'), 'media/photo.bin');
    // Record every progress value the bar shows, from the page itself.
    await page.evaluate(`{
      const seen = (window.progress = []);
      new MutationObserver(() => {
        const bar = document.querySelector('progress');
        if (bar && seen[seen.length - 1] !== bar.dataset.progress) seen.push(bar.dataset.progress);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    }`);
    await page.click('form.upload button[type=submit]');
    await page.waitForSelector('tr[data-key="media/photo.bin"]');
    const seen = (await page.evaluate('window.progress')) as string[];
    assert.equal(seen[seen.length - 1], '1.000');
    assert.ok(seen.length >= 2, `progress moved: ${seen.join(' ')}`);
    await shoot(page, 'storage');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('tr[data-key="media/photo.bin"] a')]);
    const saved = join(dir, 'back.bin');
    await download.saveAs(saved);
    assert.ok(readFileSync(saved).equals(content), 'the downloaded bytes are the uploaded ones');
  });

  it('resumes a big upload: the page sends only the parts the store does not have yet', async () => {
    const PART = 8 * 1024 * 1024;
    const dir = mkdtempSync(join(tmpdir(), 'console-resume-'));
    const file = join(dir, 'big.bin');
    const content = randomBytes(5 * PART - 12345);
    writeFileSync(file, content);
    // An earlier attempt that stopped after two parts.
    const started = await rest('/storage/uploads', 'POST', { key: 'media/big.bin', partSize: PART });
    assert.equal(started.status, 201);
    const { uploadId } = await started.json();
    for (const part of [1, 2]) {
      const stored = await dozen.api(`/storage/uploads/${uploadId}/parts/${part}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: content.subarray((part - 1) * PART, part * PART) });
      assert.equal(stored.status, 200, await stored.text());
    }
    const sentParts: number[] = [];
    page.on('request', (request) => {
      const match = new RegExp(`/storage/uploads/${uploadId}/parts/(\\d+)$`).exec(request.url());
      if (match && request.method() === 'PUT') sentParts.push(Number(match[1]));
    });
    await open(page, '/storage');
    await page.setInputFiles('input[type=file]', file);
    await page.fill('input[name=key]', 'media/big.bin');
    await page.click('form.upload button[type=submit]');
    await page.waitForSelector('tr[data-key="media/big.bin"]', { timeout: 120_000 });
    assert.deepEqual(sentParts, [3, 4, 5]);
    const stored = Buffer.from(await (await dozen.api('/storage/objects/media/big.bin')).arrayBuffer());
    assert.ok(stored.equals(content), 'the object is the whole file');
    const pending = await (await dozen.api('/storage/uploads?key=media/big.bin')).json();
    assert.deepEqual(pending.uploads, [], 'the upload was completed');
  });

  it('switches to 简体中文 and keeps it after a reload', async () => {
    await page.selectOption('header select[name=lang]', 'zh');
    await page.waitForFunction("document.querySelector('header nav')?.textContent?.includes('概览')");
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    await page.reload();
    await page.waitForSelector('header nav');
    assert.match(await page.innerText('header nav'), /概览.*应用.*路由.*广播.*存储/s);
    await open(page, '/overview');
    await page.waitForSelector('[data-module=storage] .badge.up');
    await shoot(page, 'overview-zh');
  });

  it('works on a phone-width screen (in 简体中文)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await open(page, '/routes');
    await page.waitForSelector('[data-instance=shop-1]');
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone screen`);
    await shoot(page, 'routes-phone-zh');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.selectOption('header select[name=lang]', 'en');
  });

  it('lets an admin add a user and create a personal token, shown once', async () => {
    await open(page, '/people');
    await page.fill('[data-testid=users] input[name=userName]', 'vic');
    await page.selectOption('[data-testid=users] select[name=role]', 'viewer');
    await page.fill('[data-testid=users] input[name=userPassword]', PASSWORD);
    await page.click('[data-testid=users] button[type=submit]');
    await page.waitForSelector('[data-testid=users] tr[data-user=vic]');
    const { users } = await adminGql<{ users: { name: string; role: string }[] }>(dozen, '{ users { name role } }');
    assert.deepEqual(users.find((user) => user.name === 'vic'), { name: 'vic', role: 'viewer' });

    await page.fill('[data-testid=tokens] input[name=tokenName]', 'ci');
    await page.click('[data-testid=tokens] button[type=submit]');
    const token = await (await page.waitForSelector('[data-testid=new-token]')).innerText();
    const me = await fetch(dozen.url + '/auth/me', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).name, 'ada');

    // The one audit trail, filtered: ada's createUser, recorded with its outcome.
    await page.fill('[data-testid=audit] input[name=actor]', 'ada');
    await page.fill('[data-testid=audit] input[name=action]', 'Mutation.createUser');
    await page.click('[data-testid=audit] button[type=submit]');
    // Until the filtered answer replaces the whole list (the unfiltered one has admin-token's createUser of ada too).
    await page.waitForFunction(`(() => {
      const rows = [...document.querySelectorAll('[data-testid=audit] tbody tr')];
      return rows.length > 0 && rows.every((row) => row.dataset.actor === 'ada');
    })()`);
    const rows = await page.$$('[data-testid=audit] tbody tr');
    assert.equal(rows.length, 1);
    assert.match(await rows[0].innerText(), /ada[\s\S]*users[\s\S]*Mutation\.createUser[\s\S]*vic[\s\S]*ok/);
    await shoot(page, 'people');
  });

  it('shows a viewer every mutating control disabled, and the API refuses what the page would send', async () => {
    const { context, page: viewer } = await logIn(browser, dozen, 'vic', PASSWORD);
    try {
      const disabledEverywhere = async (where: string) => {
        const states = await viewer.$$eval('[data-perm]', (buttons) => buttons.map((button) => (button as unknown as { disabled: boolean }).disabled));
        assert.ok(states.length > 0, `${where}: mutating controls are shown`);
        assert.ok(states.every(Boolean), `${where}: every mutating control is disabled`);
      };
      await viewer.goto(dozen.url + '/console/apps/shop');
      await viewer.waitForSelector('[data-testid=api-keys] tr[data-key-id]');
      await disabledEverywhere('app');
      await shoot(viewer, 'viewer-app');
      await open(viewer, '/storage');
      await viewer.waitForSelector('tr[data-key="media/photo.bin"]');
      await disabledEverywhere('storage');
      await open(viewer, '/broadcast');
      await viewer.fill('input[name=room]', 'orders');
      await viewer.click('form.inline button[type=submit]');
      await viewer.waitForSelector('[data-open-room=orders] .badge.joined');
      await disabledEverywhere('broadcast');

      // The same calls, made by the page anyway (session cookie and CSRF header as the console sends them).
      const refused = (await viewer.evaluate(`(async () => {
        const csrf = decodeURIComponent(document.cookie.match(/dozen_csrf=([^;]*)/)[1]);
        const headers = { 'content-type': 'application/json', 'x-dozen-csrf': csrf };
        const graphql = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query: 'mutation { createProxyApiKey(app: "shop", name: "x") { id } }' }) });
        const upload = await fetch('/storage/objects/media/x.txt', { method: 'PUT', headers: { 'x-dozen-csrf': csrf }, body: 'x' });
        const remove = await fetch('/storage/objects/media/photo.bin', { method: 'DELETE', headers: { 'x-dozen-csrf': csrf } });
        return { graphql: (await graphql.json()).errors?.[0]?.message ?? null, upload: upload.status, remove: remove.status };
      })()`)) as { graphql: string | null; upload: number; remove: number };
      assert.match(refused.graphql ?? '', /may not .*proxy\.manage/);
      assert.equal(refused.upload, 403);
      assert.equal(refused.remove, 403);

      await viewer.click('header button:has-text("Log out")');
      await viewer.waitForSelector('input[name=username]');
      assert.equal((await viewer.evaluate(`fetch('/auth/me').then((response) => response.status)`)) as number, 401, 'the session ended on the server');
    } finally {
      await context.close();
    }
  });

  it('needs nothing its Content-Security-Policy forbids: login, every page, live data', async () => {
    const { context, page: strict } = await logIn(browser, dozen, 'ada', PASSWORD, 'en-US', true);
    try {
      const refused = cspViolations(strict);
      for (const path of ['/overview', '/apps', '/routes', '/broadcast', '/storage', '/people']) await open(strict, path);
      // The live views' WebSockets (GraphQL subscriptions, the hub) are connect-src 'self'.
      await open(strict, '/routes');
      await strict.waitForSelector('[data-instance]');
      assert.deepEqual(refused, []);
    } finally {
      await context.close();
    }
  });
});

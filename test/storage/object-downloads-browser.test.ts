import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { addUser } from '../access/people.js';
import { launchChromium } from '../support/chromium.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';

/** What an app's confined token uploads: a page that would act with the admin's CSRF cookie, and says so in its title. */
const PAGE = '<html><head><title>inert</title></head><body><p>report</p><script>document.title = "ran: " + document.cookie</script></body></html>';
const SVG = '<svg xmlns="http://www.w3.org/2000/svg"><title>inert</title><script>document.title = "ran: " + document.cookie</script></svg>';

describe('Chromium, logged in as an admin, opening objects an app\'s token uploaded', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const url = (key: string) => dozen.url + '/storage/objects/' + key;

  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'storage' } });
    await addUser(dozen, 'ada', 'admin', 'ada-password');
    const created = await dozen.api('/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'app1', scopes: ['storage:write'], prefix: 'logs/app1/' }) });
    const token = (await created.json()).token as string;
    for (const [key, body, type] of [['report.txt', PAGE, 'text/html'], ['logo.svg', SVG, 'image/svg+xml'], ['notes.txt', PAGE, 'text/plain']]) {
      const put = await fetch(url(`logs/app1/${key}`), { method: 'PUT', body, headers: { authorization: `Bearer ${token}`, 'content-type': type } });
      assert.equal(put.status, 201, await put.text());
    }
    browser = await launchChromium();
    context = await browser.newContext({ acceptDownloads: true });
    const login = await context.request.post(dozen.url + '/auth/login', { data: { username: 'ada', password: 'ada-password' } });
    assert.equal(login.status(), 200, await login.text());
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await dozen?.stop();
  });

  it('saves HTML and SVG as files instead of showing them', async () => {
    for (const name of ['report.txt', 'logo.svg']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.goto(url(`logs/app1/${name}`)).catch(() => null)]);
      assert.equal(download.suggestedFilename(), name);
      assert.equal(page.url(), 'about:blank', 'the page did not navigate to the object');
    }
  });

  it('shows plain text as text, without running it', async () => {
    const response = await page.goto(url('logs/app1/notes.txt'));
    assert.equal(response?.status(), 200);
    // Inline scripts run before the load event that goto waits for: had it run, the title would say so.
    assert.doesNotMatch(await page.title(), /ran/);
    assert.match(await page.innerText('body'), /<script>document\.title/);
  });

  it('runs no script even where a browser rendered the page anyway: the sandbox holds without the attachment', async () => {
    const served = (drop: string[]) => page.route(url('logs/app1/report.txt'), async (route) => {
      const response = await route.fetch();
      route.fulfill({ response, headers: Object.fromEntries(Object.entries(response.headers()).filter(([name]) => !drop.includes(name))) });
    });
    await served(['content-disposition']);
    assert.equal((await page.goto(url('logs/app1/report.txt')))?.status(), 200);
    assert.doesNotMatch(await page.title(), /ran/);
    await page.unrouteAll();
    // The check can see a script run: with dozen's policy taken away too, this one does, with the admin's cookie.
    await served(['content-disposition', 'content-security-policy']);
    await page.goto(url('logs/app1/report.txt'));
    assert.match(await page.title(), /^ran: .*dozen_csrf=/);
    await page.unrouteAll();
  });
});

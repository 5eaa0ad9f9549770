import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { CONSOLE_POLICY } from '../../src/common/security-headers.js';

/** Clickjacking and content served as pages: what every answer of the admin port tells the browser. */
describe('no page may frame the console or the API, and nothing the API answers runs as a page', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  let browser: Browser;
  let framer: Server;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,storage' } });
    browser = await launchChromium();
    // Another origin's page that frames the console.
    framer = createServer((_request, response) => response.setHeader('content-type', 'text/html').end(`<iframe id="console" src="${dozen.url}/console/apps"></iframe>`));
    await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await browser?.close();
    framer?.close();
    await dozen?.stop();
  });

  it('every answer, console or API, success or error, says frame-ancestors none and X-Frame-Options DENY; the API also sandbox', async () => {
    const put = await dozen.api('/storage/objects/pages/evil.html', { method: 'PUT', headers: { 'content-type': 'text/html' }, body: '<script>alert(document.cookie)</script>' });
    assert.ok(put.status < 300, `${put.status} ${await put.text()}`);
    const answers: [string, Promise<Response>, 'console' | 'data' | 'object'][] = [
      ['the page', fetch(dozen.url + '/'), 'console'],
      ['a client route', fetch(dozen.url + '/console/people'), 'console'],
      ['the API, 200', dozen.api('/registry/services'), 'data'],
      ['the API, 401', fetch(dozen.url + '/registry/services'), 'data'],
      ['the API, 404', dozen.api('/no/such/route'), 'data'],
      ['GraphQL', dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ me { name } }"}' }), 'data'],
      ['an HTML object', dozen.api('/storage/objects/pages/evil.html'), 'object'],
    ];
    for (const [what, pending, kind] of answers) {
      const response = await pending;
      await response.arrayBuffer();
      assert.equal(response.headers.get('x-frame-options'), 'DENY', what);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', what);
      const policy = response.headers.get('content-security-policy') ?? '';
      // A stored object carries storage's own policy (download-headers.ts): sandboxed too.
      if (kind === 'object') assert.match(policy, /\bsandbox\b/, what);
      else assert.equal(policy, kind === 'console' ? CONSOLE_POLICY : "default-src 'none'; frame-ancestors 'none'; sandbox", what);
      if (kind === 'console') assert.match(policy, /script-src 'self';.*frame-ancestors 'none'/, what);
      assert.equal(response.headers.get('referrer-policy'), 'same-origin', what);
    }
  });

  it("Chromium does not show the console inside another origin's page", async () => {
    const page = await browser.newPage();
    try {
      const blocked = page.waitForEvent('console', { predicate: (message) => /frame-ancestors|X-Frame-Options/i.test(message.text()), timeout: 15_000 });
      await page.goto(`http://127.0.0.1:${(framer.address() as AddressInfo).port}/`);
      assert.match((await blocked).text(), /frame-ancestors 'none'.*blocked|Refused to (display|frame)/);
      const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
      assert.ok(frame);
      assert.equal(await frame.locator('input[name=username]').count(), 0, 'no login form inside the frame');
    } finally {
      await page.close();
    }
  });
});

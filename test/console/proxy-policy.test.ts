import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { SecretsBox } from '../../src/common/secrets-box.js';
import type { DozenConfig } from '../../src/config/config.schema.js';
import { launchChromium } from '../support/chromium.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { createUser, logIn, open } from './console-helpers.js';

const PASSWORD = 'correct horse battery staple';
const SECRET = 'hs256-secret-of-shop-0123456789';

describe("an app's proxy policy saved from the console keeps what the form does not edit", { timeout: 180_000 }, () => {
  let dozen: DozenProcess;
  let browser: Browser;
  const rest = (path: string, method: string, body?: unknown) =>
    dozen.api(path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  /** The jwt settings as stored, the secret opened with the data dir's key: the secret itself, which no API shows. */
  const storedJwt = (app: string) => {
    const database = new Database(join(dozen.dataDir, 'dozen.sqlite'), { readonly: true });
    try {
      const row = database.prepare('SELECT jwt FROM proxy_app_policies WHERE app = ?').get(app) as { jwt: string | null } | undefined;
      if (!row?.jwt) return null;
      const { sealedSecret, ...rest } = JSON.parse(row.jwt) as { sealedSecret?: string; algorithms: string[] };
      const box = SecretsBox.fromConfig({ dataDir: dozen.dataDir, deploy: {} } as DozenConfig);
      return { ...rest, ...(sealedSecret ? { secret: box.open(sealedSecret) } : {}) };
    } finally {
      database.close();
    }
  };

  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,proxy' } });
    browser = await launchChromium();
    await createUser(dozen, 'ada', 'admin', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await dozen?.stop();
  });

  it('the API keeps the stored HS256 secret when it is given back as "[redacted]" or left out', async () => {
    const hs256 = { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET } };
    assert.equal((await rest('/proxy/apps/api/policy', 'PUT', hs256)).status, 200);
    const shown = await (await rest('/proxy/apps/api/policy', 'GET')).json();
    assert.equal(shown.jwt.secret, '[redacted]');
    const back = await rest('/proxy/apps/api/policy', 'PUT', { auth: 'jwt', jwt: shown.jwt, balancer: 'ip-hash' });
    assert.equal(back.status, 200, await back.clone().text());
    assert.equal(storedJwt('api')?.secret, SECRET, 'saved back as shown: the secret stays');
    assert.equal((await rest('/proxy/apps/api/policy', 'PUT', { auth: 'jwt', jwt: { algorithms: ['HS256'], audience: 'shop' } })).status, 200);
    assert.equal(storedJwt('api')?.secret, SECRET, 'left out: the secret stays');
    assert.equal((await rest('/proxy/apps/api/policy', 'PUT', { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: 'another-secret-0123456789' } })).status, 200);
    assert.equal(storedJwt('api')?.secret, 'another-secret-0123456789', 'a new secret replaces it');

    const none = await rest('/proxy/apps/fresh/policy', 'PUT', { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: '[redacted]' } });
    assert.equal(none.status, 400);
    assert.deepEqual(await none.json(), { error: 'bad_request', message: 'jwt.secret: no HS256 secret is stored for fresh to keep: give the secret itself', field: 'jwt.secret' });
    const neither = await rest('/proxy/apps/fresh/policy', 'PUT', { auth: 'jwt', jwt: { algorithms: ['HS256'] } });
    assert.equal((await neither.json()).field, 'jwt.secret');
    const short = await rest('/proxy/apps/fresh/policy', 'PUT', { auth: 'jwt', jwt: { secret: 'short' } });
    assert.match((await short.json()).message, /at least 16 characters/);
  });

  it('changing the balancer in the form leaves HTTPS, HSTS and the HS256 secret as they were', async () => {
    const registered = await rest('/registry/instances', 'POST', { id: 'shop-1', app: 'shop', address: '127.0.0.1', port: 9101, domains: ['shop.test'], ttl: 600 });
    assert.equal(registered.status, 201, await registered.text());
    const policy = { balancer: 'random', auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET, audience: 'shop' }, tls: 'auto', redirectHttp: true, hsts: { maxAge: 31536000, includeSubDomains: true } };
    const set = await rest('/proxy/apps/shop/policy', 'PUT', policy);
    assert.equal(set.status, 200, await set.text());

    const { context, page } = await logIn(browser, dozen, 'ada', PASSWORD);
    try {
      await open(page, '/apps');
      await page.click('[data-app=shop] a');
      await page.waitForSelector('[data-testid=proxy-policy] select[name=balancer]');
      assert.match(await page.inputValue('[data-testid=proxy-policy] textarea[name=jwt]'), /"secret":"\[redacted\]"/, 'the form shows the secret redacted');
      await page.selectOption('[data-testid=proxy-policy] select[name=balancer]', 'least-load');
      await page.click('[data-testid=proxy-policy] button[type=submit]');
      await page.waitForSelector('[data-testid=proxy-policy] [role=status]');
      assert.equal(await page.locator('[data-testid=proxy-policy] [role=alert]').count(), 0, 'saved without an error');
    } finally {
      await context.close();
    }
    const after = await (await rest('/proxy/apps/shop/policy', 'GET')).json();
    assert.deepEqual(
      { balancer: after.balancer, auth: after.auth, tls: after.tls, redirectHttp: after.redirectHttp, hsts: after.hsts, audience: after.jwt.audience },
      { balancer: 'least-load', auth: 'jwt', tls: 'auto', redirectHttp: true, hsts: { maxAge: 31536000, includeSubDomains: true }, audience: 'shop' },
    );
    assert.equal(storedJwt('shop')?.secret, SECRET, 'the HS256 secret is the one set before');
  });
});

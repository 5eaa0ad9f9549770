import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SignJWT } from 'jose';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { call, startBackend, type TestBackend } from './helpers.js';

const SECRET = 'an-hs256-secret-of-the-app-0123456789';
const LEGACY = 'a-secret-an-earlier-dozen-kept-in-the-clear';
const json = (body: unknown): RequestInit => ({ method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function token(secret: string): Promise<string> {
  return new SignJWT({ scope: 'read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('client-1').setExpirationTime('5m').sign(new TextEncoder().encode(secret));
}

describe("apps' HS256 secrets are sealed at rest", { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dozen-policy-secrets-'));
  let dozen: DozenProcess;
  let proxyPort: number;
  let web: TestBackend;
  const env = () => ({ DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '1', DOZEN_PROXY_LISTEN_PORT: String(proxyPort) });
  const storedJwt = () => {
    const database = new Database(join(dataDir, 'dozen.sqlite'), { readonly: true });
    try {
      return (database.prepare("SELECT jwt FROM proxy_app_policies WHERE app = 'web'").get() as { jwt: string }).jwt;
    } finally {
      database.close();
    }
  };
  const answers = (secret: string) => async () => (await call(proxyPort, 'web.sealed.test', '/', { headers: { authorization: `Bearer ${await token(secret)}` } })).status === 200;

  before(async () => {
    proxyPort = await freePort();
    web = await startBackend('web-1');
    dozen = await startDozen({ env: env(), dataDir });
    const registered = await dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'web-1', app: 'web', address: '127.0.0.1', port: web.port, domains: ['web.sealed.test'], ttl: 600 }) });
    assert.equal(registered.status, 201);
  });
  after(async () => {
    await dozen?.stop();
    await web?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores the secret sealed, never in the clear, and the proxy checks tokens with it', async () => {
    const set = await dozen.api('/proxy/apps/web/policy', json({ auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET } }));
    const view = await set.json();
    assert.equal(set.status, 200, JSON.stringify(view));
    assert.equal(view.jwt.secret, '[redacted]');
    await waitFor('a token signed with the secret to pass', answers(SECRET), 5_000, 50);
    assert.equal((await call(proxyPort, 'web.sealed.test', '/', { headers: { authorization: `Bearer ${await token('another-secret-another-secret-000')}` } })).status, 401);
    const stored = storedJwt();
    assert.ok(!stored.includes(SECRET), `the secret is in the database: ${stored}`);
    assert.match(JSON.parse(stored).sealedSecret, /^v1\./);
    // Saved back as GET shows it ([redacted]), the stored secret is kept.
    assert.equal((await dozen.api('/proxy/apps/web/policy', json({ auth: 'jwt', jwt: view.jwt }))).status, 200);
    await waitFor('the kept secret to still pass', answers(SECRET), 5_000, 50);
  });

  it('seals at start a secret an earlier version stored in the clear', async () => {
    assert.equal(await dozen.stop('SIGTERM'), 0, dozen.logs());
    const database = new Database(join(dataDir, 'dozen.sqlite'));
    database.prepare("UPDATE proxy_app_policies SET jwt = ? WHERE app = 'web'").run(JSON.stringify({ algorithms: ['HS256'], secret: LEGACY, scopes: {} }));
    database.close();
    dozen = await startDozen({ env: env(), dataDir });
    const stored = storedJwt();
    assert.ok(!stored.includes(LEGACY), `still in the clear: ${stored}`);
    assert.match(JSON.parse(stored).sealedSecret, /^v1\./);
    await waitFor('a token signed with the old secret to pass', answers(LEGACY), 5_000, 50);
  });
});

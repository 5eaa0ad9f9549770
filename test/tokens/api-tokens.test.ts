import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { TokenView } from '../../src/tokens/tokens.service.js';
import { runCli } from '../support/cli.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';

/** What POST /tokens answers: the view plus, this once, the secret. */
type Created = Omit<TokenView, 'lastUsedAt' | 'revokedAt'> & { token: string };

describe('API tokens through the admin API', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const create = async (body: unknown): Promise<Created> => {
    const response = await dozen.api('/tokens', { method: 'POST', ...json(body) });
    const created = await response.json();
    assert.equal(response.status, 201, JSON.stringify(created) + dozen.logs());
    return created;
  };
  const withToken = (token: string, path: string, init: RequestInit = {}) =>
    fetch(dozen.url + path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
  const graphql = async (query: string, token = dozen.token) => {
    const response = await withToken(token, '/graphql', { method: 'POST', ...json({ query }) });
    return { status: response.status, body: await response.json() };
  };

  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,storage' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('creates a token shown once, lists it with its last use but never its secret, and revokes it', async () => {
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const created = await create({ name: 'ci', scopes: ['storage:write'], prefix: 'logs/app1/', expiresAt });
    assert.match(created.token, /^dzt_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual({ ...created, id: undefined, createdAt: undefined, token: undefined }, {
      id: undefined, name: 'ci', scopes: ['storage:write'], prefix: 'logs/app1/', expiresAt, createdAt: undefined, token: undefined, lastUsedAt: null, revokedAt: null,
    });
    const listed = async () => ((await (await dozen.api('/tokens')).json()).tokens as Record<string, unknown>[]).find((token) => token.id === created.id)!;
    assert.equal((await listed()).lastUsedAt, null);
    assert.equal((await withToken(created.token, '/storage/objects/logs/app1/a.txt', { method: 'PUT', body: 'a' })).status, 201);
    const used = await listed();
    assert.ok(used.lastUsedAt && Date.parse(used.lastUsedAt as string) >= Date.parse(created.createdAt), JSON.stringify(used));
    assert.ok(!JSON.stringify(used).includes(created.token.slice(4)), 'the list never shows the secret');
    assert.equal(used.token, undefined);

    const revoked = await dozen.api(`/tokens/${created.id}`, { method: 'DELETE' });
    assert.equal(revoked.status, 200);
    assert.ok((await revoked.json()).revokedAt);
    assert.ok((await listed()).revokedAt);
    assert.equal((await dozen.api(`/tokens/${created.id}`, { method: 'DELETE' })).status, 200, 'revoking twice is not an error');
    const unknown = await dozen.api('/tokens/00000000-0000-4000-8000-000000000000', { method: 'DELETE' });
    assert.equal(unknown.status, 404);
    const badId = await dozen.api('/tokens/nope', { method: 'DELETE' });
    assert.equal((await badId.json()).field, 'id');
  });

  it('refuses a revoked token with 401 right after the revoke, though it was just used (and cached)', async () => {
    const { id, token } = await create({ name: 'short-lived', scopes: ['storage'] });
    assert.equal((await withToken(token, '/storage/objects?prefix=')).status, 200);
    assert.equal((await dozen.api(`/tokens/${id}`, { method: 'DELETE' })).status, 200);
    const refused = await withToken(token, '/storage/objects?prefix=');
    const body = await refused.json();
    assert.equal(refused.status, 401, JSON.stringify(body));
    assert.equal(body.error, 'unauthorized');
    assert.match(body.message, /revoked/);
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer realm="dozen", error="invalid_token"/);
  });

  it('refuses an expired token with 401', async () => {
    const { token, expiresAt } = await create({ name: 'brief', scopes: ['storage:read'], expiresAt: new Date(Date.now() + 1500).toISOString() });
    assert.equal((await withToken(token, '/storage/objects')).status, 200);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt!) - Date.now() + 50));
    const refused = await withToken(token, '/storage/objects');
    const body = await refused.json();
    assert.equal(refused.status, 401, JSON.stringify(body));
    assert.match(body.message, /expired at/);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const unknown = await withToken('dzt_' + 'x'.repeat(43), '/storage/objects');
    assert.equal(unknown.status, 401);
    assert.match((await unknown.json()).message, /not valid/);
  });

  it('never lets a storage token reach other modules, GraphQL or /tokens', async () => {
    const { token } = await create({ name: 'everything-storage', scopes: ['storage'] });
    const attempts: [string, RequestInit][] = [
      ['/registry/routes', {}],
      ['/registry/instances', { method: 'POST', ...json({ app: 'x', address: '10.0.0.1', port: 1 }) }],
      ['/graphql', { method: 'POST', ...json({ query: '{ apiTokens { id } }' }) }],
      ['/tokens', {}],
      ['/tokens', { method: 'POST', ...json({ name: 'escalate', scopes: ['storage'] }) }],
      ['/storage/tail', {}],
      ['/storage/health', {}],
    ];
    for (const [path, init] of attempts) {
      const response = await withToken(token, path, init);
      const body = await response.json();
      assert.equal(response.status, 403, `${init.method ?? 'GET'} ${path}: ${JSON.stringify(body)}`);
      assert.equal(body.error, 'forbidden');
      assert.match(body.message, /needs the admin token/);
    }
    const tokens = (await (await dozen.api('/tokens')).json()).tokens as { name: string }[];
    assert.ok(!tokens.some((listed) => listed.name === 'escalate'));
  });

  it('answers bad input with 400 naming the field', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ name: 'x', scopes: ['storage:admin'] }, 'scopes.0', /expected one of "storage"\|"storage:read"\|"storage:write"/],
      [{ name: 'x', scopes: [] }, 'scopes', /at least one/],
      [{ name: 'x' }, 'scopes', /required/],
      [{ name: '', scopes: ['storage'] }, 'name', /must not be empty/],
      [{ name: '  ', scopes: ['storage'] }, 'name', /must not be empty/],
      [{ scopes: ['storage'] }, 'name', /required/],
      [{ name: 'x', scopes: ['storage'], expiresAt: 'tomorrow' }, 'expiresAt', /ISO 8601/],
      [{ name: 'x', scopes: ['storage'], expiresAt: '2020-01-01T00:00:00Z' }, 'expiresAt', /in the future/],
      [{ name: 'x', scopes: ['storage'], prefix: '' }, 'prefix', /must not be empty/],
      [{ name: 'x', scopes: ['storage'], prefix: '/abs/' }, 'prefix', /must not start with \//],
      // Prefixes GET /storage/objects?prefix= refuses: a token given one could never list.
      [{ name: 'x', scopes: ['storage'], prefix: '../' }, 'prefix', /must not contain \. or \.\. segments/],
      [{ name: 'x', scopes: ['storage'], prefix: 'logs/./app1/' }, 'prefix', /must not contain \. or \.\. segments/],
      [{ name: 'x', scopes: ['storage'], prefix: 'logs//app1/' }, 'prefix', /must not contain empty segments/],
      [{ name: 'x', scopes: ['storage'], prefix: 'logs\\app1' }, 'prefix', /backslash/],
      [{ name: 'x', scopes: ['storage'], owner: 'me' }, 'body', /owner/],
    ];
    for (const [input, field, message] of cases) {
      const response = await dozen.api('/tokens', { method: 'POST', ...json(input) });
      const body = await response.json();
      assert.equal(response.status, 400, JSON.stringify(input));
      assert.equal(body.field, field, JSON.stringify({ input, body }));
      assert.match(body.message, message, JSON.stringify({ input, body }));
    }
  });

  it('keeps only a SHA-256 digest of the secret in the database', async () => {
    const { id, token } = await create({ name: 'digest-only', scopes: ['storage:read'] });
    const database = new Database(join(dozen.dataDir, 'dozen.sqlite'), { readonly: true });
    try {
      const row = database.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Record<string, unknown>;
      assert.ok(row, 'the token has a row');
      const dump = JSON.stringify(database.prepare('SELECT * FROM api_tokens').all());
      assert.ok(!dump.includes(token) && !dump.includes(token.slice(4)), 'the secret is nowhere in the table');
      const { createHash } = await import('node:crypto');
      assert.equal(row.digest, createHash('sha256').update(token).digest('hex'));
    } finally {
      database.close();
    }
  });

  it('GraphQL lists, creates and revokes tokens, with errors naming the field', async () => {
    const created = await graphql('mutation { createApiToken(name: "gql", scopes: ["storage:read"], prefix: "public/") { id name scopes prefix expiresAt token } }');
    const token = created.body.data.createApiToken;
    assert.match(token.token, /^dzt_/);
    assert.deepEqual({ ...token, id: undefined, token: undefined }, { id: undefined, token: undefined, name: 'gql', scopes: ['storage:read'], prefix: 'public/', expiresAt: null });
    const listed = await graphql('{ apiTokens { id name lastUsedAt revokedAt token } }');
    const entry = listed.body.data.apiTokens.find((listedToken: { id: string }) => listedToken.id === token.id);
    assert.deepEqual(entry, { id: token.id, name: 'gql', lastUsedAt: null, revokedAt: null, token: null });
    const revoked = await graphql(`mutation { revokeApiToken(id: "${token.id}") { id revokedAt } }`);
    assert.ok(revoked.body.data.revokeApiToken.revokedAt);
    const bad = await graphql('mutation { createApiToken(name: "x", scopes: ["root"]) { id } }');
    assert.match(bad.body.errors[0].message, /^scopes\.0: /);
  });

  it('dozen token create/list/revoke drive the same API; create prints the token alone on stdout', async () => {
    const env = { DOZEN_URL: dozen.url, DOZEN_TOKEN: dozen.token };
    const made = await runCli(['token', 'create', '--name', 'app1-logs', '--scope', 'storage:write', '--prefix', 'logs/app1/', '--expires', '30d'], env);
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    assert.match(token, /^dzt_[A-Za-z0-9_-]{43}$/);
    assert.match(made.stderr, /storage:write on keys under logs\/app1\/, expires \S+\. It is not shown again\./);
    assert.equal((await withToken(token, '/storage/objects/logs/app1/cli.txt', { method: 'PUT', body: 'x' })).status, 201);

    const list = await runCli(['token', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    const mine = (JSON.parse(list.stdout) as TokenView[]).find((listed) => listed.name === 'app1-logs')!;
    assert.ok(!list.stdout.includes(token.slice(4)));
    const days = (Date.parse(mine.expiresAt!) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);
    assert.ok(mine.lastUsedAt);

    const revoke = await runCli(['token', 'revoke', mine.id], env);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.ok(JSON.parse(revoke.stdout).revokedAt);
    assert.equal((await withToken(token, '/storage/objects/logs/app1/cli.txt')).status, 401);

    for (const [args, message] of [
      [['token', 'create', '--name', 'x', '--scope', 'storage:admin'], /^dozen: 400 scopes\.0: Invalid option/],
      [['token', 'create', '--name', 'x'], /^dozen: --scope: give at least one of storage, storage:read, storage:write\n$/],
      [['token', 'create', '--name', 'x', '--scope', 'storage', '--expires', 'soon'], /^dozen: --expires: expected a duration/],
      [['token', 'revoke', '00000000-0000-4000-8000-000000000000'], /^dozen: 404 API token "00000000-0000-4000-8000-000000000000" does not exist\n$/],
    ] as [string[], RegExp][]) {
      const run = await runCli(args, env);
      assert.notEqual(run.code, 0, args.join(' '));
      assert.match(run.stderr, message, args.join(' '));
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    }
    const withStorageToken = await runCli(['token', 'list'], { DOZEN_URL: dozen.url, DOZEN_TOKEN: (await create({ name: 'cli-sneak', scopes: ['storage'] })).token });
    assert.equal(withStorageToken.code, 1);
    assert.match(withStorageToken.stderr, /^dozen: 403 API tokens do not reach GET \/tokens; it needs the admin token\n$/);
  });
});

describe('API tokens on MySQL', { timeout: 60_000 }, () => {
  let mariadb: MariaDb;
  before(async () => {
    mariadb = await startMariaDb();
  });
  after(async () => {
    await mariadb?.stop();
  });

  it('are created, checked (expiry read back from BIGINT), revoked, and stored as digests', async () => {
    const connection = await mariadb.connect();
    await connection.query('DROP DATABASE IF EXISTS dozen_tokens_test; CREATE DATABASE dozen_tokens_test');
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'storage', DOZEN_DATABASE_URL: `${mariadb.url}dozen_tokens_test` } });
    try {
      const expiresAt = new Date(Date.now() + 3600_000).toISOString();
      const response = await dozen.api('/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'mysql', scopes: ['storage'], prefix: 'm/', expiresAt }) });
      const created = await response.json();
      assert.equal(response.status, 201, JSON.stringify(created) + dozen.logs());
      const put = (key: string) => fetch(`${dozen.url}/storage/objects/${key}`, { method: 'PUT', body: 'x', headers: { authorization: `Bearer ${created.token}` } });
      assert.equal((await put('m/a.txt')).status, 201);
      assert.equal((await put('n/a.txt')).status, 403);
      const [listed] = (await (await dozen.api('/tokens')).json()).tokens;
      assert.equal(listed.expiresAt, expiresAt);
      assert.ok(listed.lastUsedAt);
      const [rows] = await connection.query('SELECT * FROM dozen_tokens_test.api_tokens');
      assert.ok(!JSON.stringify(rows).includes(created.token.slice(4)));
      assert.equal((await dozen.api(`/tokens/${created.id}`, { method: 'DELETE' })).status, 200);
      assert.equal((await put('m/b.txt')).status, 401);
    } finally {
      await dozen.stop();
      await connection.end();
    }
  });
});

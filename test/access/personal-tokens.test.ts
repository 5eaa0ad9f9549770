import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { addUser, json, login, signIn } from './people.js';

/** Opens /ws with these headers; resolves with the first frame the hub sends after a join (or the close). */
async function wsJoin(dozen: DozenProcess, headers: Record<string, string>, room: string, publish?: unknown): Promise<{ frames: Record<string, unknown>[]; closed: number | null }> {
  const socket = new WebSocket(dozen.url.replace(/^http/, 'ws') + '/ws', { headers });
  const frames: Record<string, unknown>[] = [];
  let closed: number | null = null;
  await new Promise<void>((resolve) => {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      frames.push(frame);
      if (frame.type === 'joined' && publish !== undefined) socket.send(JSON.stringify({ type: 'publish', room, data: publish }));
      // An unauthorized client is closed right after its error frame: wait for the close.
      if ((frame.type === 'error' && frame.code !== 'unauthorized') || frame.type === 'message' || (frame.type === 'joined' && publish === undefined)) resolve();
    });
    socket.on('close', (code) => {
      closed = code;
      resolve();
    });
    socket.on('error', () => resolve());
    socket.on('open', () => socket.send(JSON.stringify({ type: 'join', room })));
  });
  socket.close();
  return { frames, closed };
}

describe('personal API tokens and the WebSocket hub for users', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  const bearer = (token: string, path: string, init: RequestInit = {}) =>
    fetch(dozen.url + path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });

  before(async () => {
    // Requests from loopback are believed about TLS (X-Forwarded-Proto), as from a proxy in front.
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,storage,broadcast', DOZEN_ADMIN_TRUSTED_PROXIES: '127.0.0.1' } });
    await addUser(dozen, 'dev', 'deployer');
    await addUser(dozen, 'watcher', 'viewer');
  });
  after(async () => {
    await dozen?.stop();
  });

  it('a token is shown once, acts with its owner role (no CSRF header needed), follows role changes, and stops when revoked', async () => {
    const browser = await signIn(dozen, 'dev');
    const created = await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'ci' }) });
    assert.equal(created.status, 201);
    const { id, token, expiresAt } = await created.json();
    assert.match(token, /^dzp_[A-Za-z0-9_-]{43}$/);
    assert.equal(expiresAt, null);
    const listed = await (await browser.fetch('/auth/tokens')).json();
    assert.deepEqual(listed.tokens.map((entry: { id: string }) => entry.id), [id]);
    assert.ok(!JSON.stringify(listed).includes(token.slice(4)), 'the list never shows the secret');

    assert.equal((await bearer(token, '/auth/me').then((response) => response.json())).role, 'deployer');
    const publish = await bearer(token, '/broadcast/rooms/ci/messages', { method: 'POST', ...json({ data: { n: 1 } }) });
    assert.ok(publish.status < 300, `a deployer publishes: ${publish.status} ${await publish.text()}`);
    const tokensRoute = await bearer(token, '/tokens');
    assert.equal(tokensRoute.status, 403, 'a deployer manages no API tokens');
    assert.equal((await tokensRoute.json()).permission, 'tokens.manage');

    assert.equal((await dozen.api('/users/dev', { method: 'PATCH', ...json({ role: 'viewer' }) })).status, 200);
    assert.equal((await bearer(token, '/broadcast/rooms/ci/messages', { method: 'POST', ...json({ data: { n: 2 } }) })).status, 403, 'the token follows its owner to viewer');
    assert.equal((await dozen.api('/users/dev', { method: 'PATCH', ...json({ role: 'deployer' }) })).status, 200);

    const again = await signIn(dozen, 'dev');
    const revoked = await again.fetch(`/auth/tokens/${id}`, { method: 'DELETE' });
    assert.equal(revoked.status, 200);
    assert.ok((await revoked.json()).revokedAt);
    const refused = await bearer(token, '/auth/me');
    assert.equal(refused.status, 401);
    assert.match((await refused.json()).message, /revoked/);
  });

  it('a token with an expiry is refused after it; another user cannot revoke it; the admin token has none', async () => {
    const browser = await signIn(dozen, 'watcher');
    const { data } = (await browser.graphql('mutation($at: String) { createPersonalToken(name: "brief", expiresAt: $at) { id token expiresAt } }', { at: new Date(Date.now() + 1500).toISOString() })).body;
    const created = data!.createPersonalToken as { id: string; token: string; expiresAt: string };
    assert.equal((await bearer(created.token, '/auth/me')).status, 200);

    const other = await signIn(dozen, 'dev');
    const foreign = await other.graphql(`mutation { revokePersonalToken(id: "${created.id}") { id } }`);
    assert.match(foreign.body.errors![0].message, /personal token .* does not exist/);
    assert.deepEqual((await other.graphql('{ personalTokens { name } }')).body.data!.personalTokens, [{ name: 'ci' }]);

    // The expiry is a point in time: the condition waited for is the clock passing it.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(created.expiresAt) - Date.now()) + 50));
    const expired = await bearer(created.token, '/auth/me');
    assert.equal(expired.status, 401);
    assert.match((await expired.json()).message, /expired at/);

    const admin = await dozen.api('/auth/tokens', { method: 'POST', ...json({ name: 'x' }) });
    assert.equal(admin.status, 403);
    const past = await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'old', expiresAt: '2001-01-01T00:00:00Z' }) });
    assert.equal(past.status, 400);
    assert.equal((await past.json()).field, 'expiresAt');
  });

  it('a personal token may list and revoke its owner’s tokens but not make new ones, which would outlive it', async () => {
    const browser = await signIn(dozen, 'dev');
    const { id, token } = await (await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'short-lived', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }) })).json();
    for (const body of [{ name: 'forever' }, { name: 'as-long', expiresAt: new Date(Date.now() + 1_800_000).toISOString() }]) {
      const minted = await bearer(token, '/auth/tokens', { method: 'POST', ...json(body) });
      assert.equal(minted.status, 403, JSON.stringify(body));
      assert.match((await minted.json()).message, /may not make personal tokens/);
    }
    const viaGraphql = await bearer(token, '/graphql', { method: 'POST', ...json({ query: 'mutation { createPersonalToken(name: "forever") { token } }' }) });
    assert.equal((await viaGraphql.json()).errors[0].extensions.code, 'forbidden');
    const listed = await (await bearer(token, '/auth/tokens')).json();
    assert.ok(!listed.tokens.some((entry: { name: string }) => ['forever', 'as-long'].includes(entry.name)), 'none was made');
    assert.equal((await bearer(token, `/auth/tokens/${id}`, { method: 'DELETE' })).status, 200, 'a token may revoke itself');
  });

  it('an admin’s personal token may not make storage API tokens either (REST and GraphQL), which would outlive it; its session may', async () => {
    await addUser(dozen, 'boss', 'admin');
    const browser = await signIn(dozen, 'boss');
    const { token } = await (await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'admin-script', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }) })).json();
    assert.equal((await bearer(token, '/tokens')).status, 200, 'it may list them (tokens.manage)');
    const minted = await bearer(token, '/tokens', { method: 'POST', ...json({ name: 'forever', scopes: ['storage'] }) });
    const refused = await minted.json();
    assert.equal(minted.status, 403, JSON.stringify(refused));
    assert.equal(refused.error, 'forbidden');
    assert.match(refused.message, /^a personal token \(\S+\) may not make API tokens: one it made would outlive it/);
    const viaGraphql = await (await bearer(token, '/graphql', { method: 'POST', ...json({ query: 'mutation { createApiToken(name: "forever", scopes: ["storage"]) { token } }' }) })).json();
    assert.equal(viaGraphql.errors?.[0].extensions.code, 'forbidden', JSON.stringify(viaGraphql));
    assert.equal(viaGraphql.data?.createApiToken ?? null, null);
    const listed = await (await bearer(token, '/tokens')).json();
    assert.ok(!listed.tokens.some((entry: { name: string }) => entry.name === 'forever'), 'none was made');
    assert.equal((await browser.fetch('/tokens', { method: 'POST', ...json({ name: 'from-session', scopes: ['storage:read'] }) })).status, 201, 'the session makes them');
  });

  it('an admin’s personal token may not make users or set passwords (REST and GraphQL): either would log in and make tokens that outlive it', async () => {
    const browser = await signIn(dozen, 'boss');
    const { token } = await (await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'people-script' }) })).json();
    const made = await bearer(token, '/users', { method: 'POST', ...json({ name: 'backdoor', role: 'admin', password: 'backdoor-password-1' }) });
    const refused = await made.json();
    assert.equal(made.status, 403, JSON.stringify(refused));
    assert.match(refused.message, /^a personal token \(\S+\) may not make users: one it made would outlive it/);
    const reset = await bearer(token, '/users/boss/password', { method: 'PUT', ...json({ password: 'taken-over-password-1' }) });
    assert.equal(reset.status, 403, await reset.clone().text());
    for (const query of ['mutation { createUser(name: "backdoor", role: "admin", password: "backdoor-password-1") { name } }', 'mutation { resetPassword(name: "boss", password: "taken-over-password-1") { name } }']) {
      const answer = await (await bearer(token, '/graphql', { method: 'POST', ...json({ query }) })).json();
      assert.equal(answer.errors?.[0].extensions.code, 'forbidden', JSON.stringify(answer));
    }
    assert.equal((await login(dozen, 'backdoor', 'backdoor-password-1')).status, 401, 'no such user was made');
    assert.equal((await login(dozen, 'boss', 'taken-over-password-1')).status, 401, 'the password was not changed');
    assert.equal((await bearer(token, '/users/boss', { method: 'PATCH', ...json({ role: 'admin' }) })).status, 200, 'managing existing users makes no credential');
    assert.equal((await browser.fetch('/users', { method: 'POST', ...json({ name: 'made-by-session', role: 'viewer', password: 'session-made-password-1' }) })).status, 201, 'the session makes them');
  });

  it('a disabled user’s tokens stop working', async () => {
    await addUser(dozen, 'gone', 'viewer');
    const browser = await signIn(dozen, 'gone');
    const { token } = await (await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'script' }) })).json();
    assert.equal((await bearer(token, '/auth/me')).status, 200);
    await dozen.api('/users/gone', { method: 'PATCH', ...json({ disabled: true }) });
    assert.equal((await bearer(token, '/auth/me')).status, 401);
  });

  it('the hub takes the session cookie: a viewer joins but may not publish, a deployer publishes; no session, no entry', async () => {
    const viewer = await signIn(dozen, 'watcher');
    const deployer = await signIn(dozen, 'dev');
    const asViewer = await wsJoin(dozen, { cookie: `dozen_session=${viewer.session}` }, 'lobby', { hello: 'from viewer' });
    assert.equal(asViewer.frames[0].type, 'joined');
    assert.deepEqual({ type: asViewer.frames[1].type, code: asViewer.frames[1].code }, { type: 'error', code: 'forbidden' });
    const asDeployer = await wsJoin(dozen, { cookie: `dozen_session=${deployer.session}` }, 'lobby', { hello: 'from deployer' });
    assert.deepEqual(asDeployer.frames.map((frame) => frame.type), ['joined', 'message']);
    assert.deepEqual(asDeployer.frames[1].data, { hello: 'from deployer' });
    const stranger = await wsJoin(dozen, { cookie: 'dozen_session=not-a-session' }, 'lobby');
    assert.equal(stranger.frames[0]?.code, 'unauthorized');
    assert.equal(stranger.closed, 1008);
  });

  it('the hub reads the session cookie by the transport, as the HTTP routes do: over TLS only __Host-dozen_session, over plain HTTP only dozen_session', async () => {
    const deployer = await signIn(dozen, 'dev');
    const overTls = { 'x-forwarded-proto': 'https' };
    // A plain dozen_session over TLS may have been set by another host of the site (session fixation).
    const planted = await wsJoin(dozen, { ...overTls, cookie: `dozen_session=${deployer.session}` }, 'lobby');
    assert.deepEqual([planted.frames[0]?.code, planted.closed], ['unauthorized', 1008], JSON.stringify(planted.frames));
    const prefixed = await wsJoin(dozen, { ...overTls, cookie: `__Host-dozen_session=${deployer.session}` }, 'lobby');
    assert.equal(prefixed.frames[0]?.type, 'joined', JSON.stringify(prefixed.frames));
    const plainHttp = await wsJoin(dozen, { cookie: `__Host-dozen_session=${deployer.session}` }, 'lobby');
    assert.equal(plainHttp.frames[0]?.code, 'unauthorized', 'over plain HTTP the plain name only');
  });

  it('the hub takes the session cookie only from a page of dozen\'s own origin: another app\'s page on the same site gets no session', async () => {
    const deployer = await signIn(dozen, 'dev');
    const own = new URL(dozen.url).origin;
    const fromConsole = await wsJoin(dozen, { cookie: `dozen_session=${deployer.session}`, origin: own }, 'lobby', { hello: 'from the console' });
    assert.deepEqual(fromConsole.frames.map((frame) => frame.type), ['joined', 'message']);
    // A page of chat.example.net opening the hub with the user's cookie: treated as a caller without one.
    const hijack = await wsJoin(dozen, { cookie: `dozen_session=${deployer.session}`, origin: 'https://chat.example.net' }, 'lobby', { hello: 'as the user' });
    assert.equal(hijack.frames[0]?.code, 'unauthorized', JSON.stringify(hijack.frames));
    assert.equal(hijack.closed, 1008);
  });
});

describe('personal tokens and the credentials of apps', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry,deploy', DOZEN_PROXY_WORKERS: '0', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: '/nonexistent/docker.sock' }, waitHealthy: false });
    const created = await dozen.api('/deploy/apps', { method: 'POST', ...json({ name: 'shop', runtime: 'image', image: 'dozen/none:1' }) });
    assert.equal(created.status, 201, await created.text());
  });
  after(async () => {
    await dozen?.stop();
  });

  it('an admin’s personal token may not make proxy API keys or webhook secrets (REST and GraphQL), which would outlive it; its session may', async () => {
    await addUser(dozen, 'owner', 'admin');
    const browser = await signIn(dozen, 'owner');
    const { token } = await (await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'app-script' }) })).json();
    const bearer = (path: string, init: RequestInit = {}) => fetch(dozen.url + path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
    for (const [path, what] of [['/proxy/apps/shop/keys', 'proxy API keys'], ['/deploy/apps/shop/webhook', 'webhook secrets']]) {
      const refused = await bearer(path, { method: 'POST', ...json({ name: 'forever' }) });
      const body = await refused.json();
      assert.equal(refused.status, 403, `${path}: ${JSON.stringify(body)}`);
      assert.match(body.message, new RegExp(`^a personal token \\(\\S+\\) may not make ${what}: one it made would outlive it`));
    }
    for (const query of ['mutation { createProxyApiKey(app: "shop", name: "forever") { key } }', 'mutation { rotateWebhook(app: "shop") { secret } }']) {
      const answer = await (await bearer('/graphql', { method: 'POST', ...json({ query }) })).json();
      assert.equal(answer.errors?.[0].extensions.code, 'forbidden', JSON.stringify(answer));
    }
    assert.deepEqual(await (await dozen.api('/proxy/apps/shop/keys')).json(), [], 'no key was made');
    assert.equal((await dozen.api('/deploy/apps/shop/webhook')).status, 404, 'no webhook was made');
    assert.equal((await browser.fetch('/proxy/apps/shop/keys', { method: 'POST', ...json({ name: 'from-session' }) })).status, 201, 'the session makes them');
    assert.equal((await browser.fetch('/deploy/apps/shop/webhook', { method: 'POST' })).status, 201);
  });
});

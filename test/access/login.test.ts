import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { runCli } from '../support/cli.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { addUser, cookieValue, json, login, setCookies, signIn } from './people.js';

describe('logging in to the console', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'registry,storage',
        DOZEN_ACCESS_LOGIN_MAX_FAILURES_PER_USER: '3',
        DOZEN_ACCESS_LOGIN_MAX_FAILURES_PER_ADDRESS: '6',
        DOZEN_ACCESS_LOGIN_LOCKOUT_SECONDS: '2',
        // Requests from loopback are believed about the client address and TLS, as from a proxy in front.
        DOZEN_ADMIN_TRUSTED_PROXIES: '127.0.0.1',
        DOZEN_ADMIN_ALLOWED_ORIGINS: 'https://console.example.net',
      },
    });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('`dozen user add|list|disable|enable|passwd` manage users with a password file, and refuse a bad role, a short password or an unknown user with one line', async () => {
    const file = join(dozen.dataDir, 'ana-password');
    writeFileSync(file, 'ana-password\n');
    const env = { DOZEN_URL: dozen.url, DOZEN_TOKEN: dozen.token };
    const added = await runCli(['user', 'add', 'ana', '--role', 'deployer', '--password-file', file], env);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /user ana created with role deployer/);
    assert.equal((await login(dozen, 'ana', 'ana-password')).status, 200);

    const badRole = await runCli(['user', 'add', 'bo', '--role', 'owner', '--password-file', file], env);
    assert.equal(badRole.code, 2);
    assert.equal(badRole.stderr, 'dozen: --role: expected one of admin, deployer, viewer\n');
    writeFileSync(file, 'short\n');
    const short = await runCli(['user', 'add', 'bo', '--role', 'viewer', '--password-file', file], env);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /^dozen: .*password: must be at least 8 characters\n$/);
    const again = await runCli(['user', 'add', 'ana', '--role', 'viewer', '--password-file', join(dozen.dataDir, 'missing')], env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^dozen: --password-file: cannot read .*ENOENT\n$/);

    const listed = await runCli(['user', 'list'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const users = JSON.parse(listed.stdout) as { name: string; role: string; disabled: boolean }[];
    assert.deepEqual(users.map(({ name, role, disabled }) => ({ name, role, disabled })), [{ name: 'ana', role: 'deployer', disabled: false }]);
    assert.ok(!listed.stdout.includes('scrypt'), 'the hash is never shown');

    const disabled = await runCli(['user', 'disable', 'ana'], env);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal((await login(dozen, 'ana', 'ana-password')).status, 401);
    assert.equal((await runCli(['user', 'enable', 'ana'], env)).code, 0);
    writeFileSync(file, 'ana-password-2\n');
    const changed = await runCli(['user', 'passwd', 'ana', '--password-file', file], env);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal((await login(dozen, 'ana', 'ana-password')).status, 401);
    assert.equal((await login(dozen, 'ana', 'ana-password-2')).status, 200);
    writeFileSync(file, 'ana-password\n');
    assert.equal((await runCli(['user', 'passwd', 'ana', '--password-file', file], env)).code, 0);
    const unknown = await runCli(['user', 'disable', 'nobody'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^dozen: .*user "nobody" does not exist\n$/);
  });

  it('login sets an HttpOnly SameSite=Strict session cookie and a readable CSRF cookie; over TLS through the trusted proxy, Secure and __Host- named', async () => {
    await addUser(dozen, 'cookie-user', 'viewer');
    const plain = await login(dozen, 'cookie-user', 'cookie-user-password');
    assert.equal(plain.status, 200);
    assert.deepEqual(await plain.json(), { user: { name: 'cookie-user', role: 'viewer' } });
    const cookies = setCookies(plain);
    assert.match(cookies.get('dozen_session')!, /^dozen_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; SameSite=Strict; HttpOnly$/);
    assert.match(cookies.get('dozen_csrf')!, /^dozen_csrf=[A-Za-z0-9_-]{32}; Path=\/; Max-Age=43200; SameSite=Strict$/);

    const tls = await login(dozen, 'cookie-user', 'cookie-user-password', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' });
    const secure = setCookies(tls);
    assert.deepEqual([...secure.keys()], ['__Host-dozen_session', '__Host-dozen_csrf']);
    assert.match(secure.get('__Host-dozen_session')!, /^__Host-dozen_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; SameSite=Strict; Secure; HttpOnly$/);
    assert.match(secure.get('__Host-dozen_csrf')!, /^__Host-dozen_csrf=[A-Za-z0-9_-]{32}; Path=\/; Max-Age=43200; SameSite=Strict; Secure$/);
    assert.notEqual(cookieValue(secure.get('__Host-dozen_session')!), cookieValue(cookies.get('dozen_session')!), 'each login is its own session');
  });

  it('over TLS only the __Host- cookies count: a plain dozen_session another host of the site set is ignored', async () => {
    await addUser(dozen, 'tls-user', 'admin');
    const overTls = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.8' };
    const secure = setCookies(await login(dozen, 'tls-user', 'tls-user-password', overTls));
    const session = cookieValue(secure.get('__Host-dozen_session')!);
    const csrf = cookieValue(secure.get('__Host-dozen_csrf')!);
    const me = await fetch(dozen.url + '/auth/me', { headers: { ...overTls, cookie: `__Host-dozen_session=${session}; __Host-dozen_csrf=${csrf}` } });
    assert.equal((await me.json()).name, 'tls-user');
    const made = await fetch(dozen.url + '/users', { method: 'POST', headers: { ...overTls, cookie: `__Host-dozen_session=${session}; __Host-dozen_csrf=${csrf}`, 'x-dozen-csrf': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'tls-made', role: 'viewer', password: 'tls-made-password' }) });
    assert.equal(made.status, 201, 'the CSRF check reads __Host-dozen_csrf');

    // A session of the attacker's own, set by an app on another host of the site (Domain=example.net), must not be taken for the victim's.
    await addUser(dozen, 'attacker', 'viewer');
    const planted = cookieValue(setCookies(await login(dozen, 'attacker', 'attacker-password')).get('dozen_session')!);
    const tossed = await fetch(dozen.url + '/auth/me', { headers: { ...overTls, cookie: `dozen_session=${planted}` } });
    assert.equal(tossed.status, 401, 'over TLS a plain dozen_session is no session');
    const both = await fetch(dozen.url + '/auth/me', { headers: { ...overTls, cookie: `dozen_session=${planted}; __Host-dozen_session=${session}` } });
    assert.equal((await both.json()).name, 'tls-user');
    assert.equal((await fetch(dozen.url + '/auth/me', { headers: { cookie: `__Host-dozen_session=${session}` } })).status, 401, 'over plain HTTP the plain names only');

    const out = await fetch(dozen.url + '/auth/logout', { method: 'POST', headers: { ...overTls, cookie: `__Host-dozen_session=${session}; __Host-dozen_csrf=${csrf}`, 'x-dozen-csrf': csrf } });
    assert.equal(out.status, 204);
    assert.match(setCookies(out).get('__Host-dozen_session')!, /^__Host-dozen_session=; Path=\/; Max-Age=0; SameSite=Strict; Secure; HttpOnly$/);
    assert.equal((await fetch(dozen.url + '/auth/me', { headers: { ...overTls, cookie: `__Host-dozen_session=${session}` } })).status, 401, 'logged out');
  });

  it('GET /auth/me and GraphQL me name the user, its role and permissions; 401 without a session', async () => {
    await addUser(dozen, 'me-viewer', 'viewer');
    const browser = await signIn(dozen, 'me-viewer');
    const me = await browser.fetch('/auth/me');
    assert.equal(me.status, 200);
    const body = await me.json();
    assert.deepEqual(body, { name: 'me-viewer', role: 'viewer', permissions: ['node.read', 'registry.read', 'proxy.read', 'deploy.read', 'storage.read', 'broadcast.read', 'audit.read'] });
    const graphql = await browser.graphql('{ me { name role permissions } }');
    assert.deepEqual(graphql.body.data, { me: body });
    const anonymous = await fetch(dozen.url + '/auth/me');
    assert.equal(anonymous.status, 401);
    assert.equal((await anonymous.json()).error, 'unauthorized');
    const admin = await dozen.api('/auth/me');
    assert.equal((await admin.json()).name, 'admin-token');
  });

  it('refuses a cookie-authenticated POST (REST or GraphQL) without the CSRF header or with a wrong one, with 403', async () => {
    await addUser(dozen, 'csrf-admin', 'admin');
    const browser = await signIn(dozen, 'csrf-admin');
    const body = json({ name: 'csrf-made', role: 'viewer', password: 'csrf-made-password' });
    const missing = await browser.fetch('/users', { method: 'POST', ...body, csrf: false });
    assert.equal(missing.status, 403);
    assert.equal((await missing.json()).error, 'csrf');
    const wrong = await browser.fetch('/users', { method: 'POST', ...body, headers: { ...body.headers, 'x-dozen-csrf': 'x'.repeat(32) } });
    assert.equal(wrong.status, 403);
    const graphql = await browser.fetch('/graphql', { method: 'POST', ...json({ query: '{ me { name } }' }), csrf: false });
    assert.equal(graphql.status, 403, 'POST /graphql too');
    const users = await (await dozen.api('/users')).json();
    assert.ok(!users.users.some((user: { name: string }) => user.name === 'csrf-made'), 'nothing was created');
    const made = await browser.fetch('/users', { method: 'POST', ...body });
    assert.equal(made.status, 201, 'with the header it goes through');
    assert.equal((await browser.fetch('/auth/me')).status, 200, 'GET needs no header');
  });

  it('takes the session cookie only from pages of its own origin or admin.allowedOrigins (REST and the GraphQL WebSocket)', async () => {
    await addUser(dozen, 'origin-admin', 'admin');
    const browser = await signIn(dozen, 'origin-admin');
    const own = new URL(dozen.url).origin;
    assert.equal((await browser.fetch('/auth/me', { headers: { origin: own } })).status, 200, 'the console itself');
    assert.equal((await browser.fetch('/auth/me')).status, 200, 'no Origin: not a cross-origin browser request');
    assert.equal((await browser.fetch('/auth/me', { headers: { origin: 'https://console.example.net' } })).status, 200, 'listed in admin.allowedOrigins');
    const proxied = { origin: 'https://dozen.example.net', 'x-forwarded-host': 'dozen.example.net', 'x-forwarded-proto': 'https' };
    const overTls = cookieValue(setCookies(await login(dozen, 'origin-admin', 'origin-admin-password', proxied)).get('__Host-dozen_session')!);
    const behindProxy = await fetch(dozen.url + '/auth/me', { headers: { ...proxied, cookie: `__Host-dozen_session=${overTls}` } });
    assert.equal(behindProxy.status, 200, 'the console behind a proxy of admin.trustedProxies');
    for (const origin of ['https://chat.example.net', 'null', `${own}.evil.example`]) {
      const refused = await browser.fetch('/auth/me', { headers: { origin } });
      assert.equal(refused.status, 403, origin);
      const body = await refused.json();
      assert.equal(body.error, 'origin');
      assert.match(body.message, /admin\.allowedOrigins/);
      const made = await browser.fetch('/users', { method: 'POST', ...json({ name: 'origin-made', role: 'viewer', password: 'origin-made-password' }), headers: { 'content-type': 'application/json', origin } });
      assert.equal(made.status, 403, `${origin}: POST with the CSRF header too`);
    }
    // WebSockets have no CORS: a page of another origin on the same site could open the GraphQL socket as the user.
    const upgrade = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(dozen.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws', { headers: { cookie: `dozen_session=${browser.session}`, origin } });
        socket.on('open', () => (socket.close(), resolve(101)));
        socket.on('unexpected-response', (_request, response) => (socket.terminate(), resolve(response.statusCode ?? 0)));
        socket.on('error', reject);
      });
    assert.equal(await upgrade(own), 101);
    assert.equal(await upgrade('https://chat.example.net'), 403);
    assert.equal((await dozen.api('/users')).status, 200);
    assert.ok(!(await (await dozen.api('/users')).json()).users.some((user: { name: string }) => user.name === 'origin-made'), 'nothing was created');
  });

  it("refuses a login or logout from a page of another origin (login CSRF: the victim's browser signed into the attacker's account), and a login body that is not JSON", async () => {
    await addUser(dozen, 'csrf-victim', 'admin');
    await addUser(dozen, 'csrf-attacker', 'viewer');
    for (const origin of ['https://evil.example', 'null']) {
      const refused = await login(dozen, 'csrf-attacker', 'csrf-attacker-password', { origin });
      const body = await refused.json();
      assert.deepEqual([refused.status, body.error, body.field], [403, 'origin', 'origin'], JSON.stringify(body));
      assert.equal(refused.headers.getSetCookie().length, 0, 'no cookie was set');
    }
    // What an HTML form of another site sends: no preflight for a urlencoded body.
    const form = await fetch(dozen.url + '/auth/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=csrf-attacker&password=csrf-attacker-password' });
    const formBody = await form.json();
    assert.deepEqual([form.status, formBody.error, formBody.field], [415, 'unsupported_media_type', 'content-type'], JSON.stringify(formBody));
    assert.equal(form.headers.getSetCookie().length, 0);
    assert.equal((await login(dozen, 'csrf-attacker', 'csrf-attacker-password', { origin: new URL(dozen.url).origin })).status, 200, 'the console itself');
    assert.equal((await login(dozen, 'csrf-attacker', 'csrf-attacker-password', { origin: 'https://console.example.net' })).status, 200, 'listed in admin.allowedOrigins');
    const victim = await signIn(dozen, 'csrf-victim');
    const logout = await victim.fetch('/auth/logout', { method: 'POST', headers: { origin: 'https://evil.example' } });
    assert.equal(logout.status, 403);
    assert.equal((await victim.fetch('/auth/me')).status, 200, 'the session lives on');
  });

  it('logout ends the session server-side and clears both cookies', async () => {
    await addUser(dozen, 'leaver', 'viewer');
    const browser = await signIn(dozen, 'leaver');
    const out = await browser.fetch('/auth/logout', { method: 'POST' });
    assert.equal(out.status, 204);
    const cleared = setCookies(out);
    assert.match(cleared.get('dozen_session')!, /^dozen_session=; Path=\/; Max-Age=0;/);
    assert.match(cleared.get('dozen_csrf')!, /^dozen_csrf=; Path=\/; Max-Age=0;/);
    const after = await browser.fetch('/auth/me');
    assert.equal(after.status, 401, 'the old cookie no longer opens anything');
    assert.match((await after.json()).message, /session has ended/);
    const again = await browser.fetch('/auth/logout', { method: 'POST' });
    assert.equal(again.status, 204, 'logging out of an ended session still clears the cookies');
    assert.match(setCookies(again).get('dozen_session')!, /Max-Age=0/);
    const live = await signIn(dozen, 'leaver');
    const forged = await live.fetch('/auth/logout', { method: 'POST', csrf: false });
    assert.equal(forged.status, 403, 'a live session is not ended without its CSRF header');
    assert.equal((await live.fetch('/auth/me')).status, 200);
  });

  it('locks a user out after failed logins ("try again in N s", Retry-After), even with the right password, and releases it after the lockout', async () => {
    await addUser(dozen, 'locked', 'viewer');
    const address = { 'x-forwarded-for': '198.51.100.1' };
    for (let attempt = 0; attempt < 3; attempt++) {
      const wrong = await login(dozen, 'locked', 'not-the-password', address);
      assert.equal(wrong.status, 401);
      assert.deepEqual(await wrong.json(), { error: 'unauthorized', message: 'wrong user name or password' });
    }
    const refused = await login(dozen, 'locked', 'locked-password', { 'x-forwarded-for': '198.51.100.2' });
    assert.equal(refused.status, 429, 'from another address too: the lockout is per user');
    const body = await refused.json();
    assert.equal(body.error, 'too_many_requests');
    assert.ok(body.retryAfter >= 1 && body.retryAfter <= 2, JSON.stringify(body));
    assert.equal(body.message, `try again in ${body.retryAfter} s`);
    assert.equal(refused.headers.get('retry-after'), String(body.retryAfter));
    const lockedAt = Date.now();
    // The lockout is a span of time: the condition is the clock passing its end.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lockedAt + body.retryAfter * 1000 - Date.now()) + 50));
    assert.equal((await login(dozen, 'locked', 'locked-password', address)).status, 200, 'released after the lockout');
  });

  it('locks an address out after failures across names; an admin password reset releases a user lockout at once', async () => {
    const address = { 'x-forwarded-for': '198.51.100.50' };
    for (let attempt = 0; attempt < 6; attempt++) assert.equal((await login(dozen, `nobody${attempt}`, 'whatever-password', address)).status, 401);
    assert.equal((await login(dozen, 'ana', 'ana-password', address)).status, 429, 'the address is locked out');
    assert.equal((await login(dozen, 'ana', 'ana-password', { 'x-forwarded-for': '198.51.100.51' })).status, 200, 'another address is not');

    await addUser(dozen, 'forgetful', 'viewer');
    for (let attempt = 0; attempt < 3; attempt++) await login(dozen, 'forgetful', 'wrong-guess-1', { 'x-forwarded-for': '198.51.100.60' });
    assert.equal((await login(dozen, 'forgetful', 'forgetful-password', { 'x-forwarded-for': '198.51.100.61' })).status, 429);
    const reset = await dozen.api('/users/forgetful/password', { method: 'PUT', ...json({ password: 'a-new-password' }) });
    assert.equal(reset.status, 200);
    assert.equal((await login(dozen, 'forgetful', 'a-new-password', { 'x-forwarded-for': '198.51.100.61' })).status, 200);
  });

  it("one's own successful logins between guesses at other names do not reset the address's count", async () => {
    await addUser(dozen, 'mallory', 'viewer');
    const address = { 'x-forwarded-for': '198.51.100.70' };
    const guesses: number[] = [];
    const own: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      guesses.push((await login(dozen, `sprayed${attempt}`, 'summer-2024', address)).status);
      own.push((await login(dozen, 'mallory', 'mallory-password', address)).status);
    }
    assert.deepEqual(guesses, [401, 401, 401, 401, 401, 401, 429], 'six failures from the address, then it is locked out');
    assert.deepEqual(own, [200, 200, 200, 200, 200, 429, 429], dozen.logs());
  });

  it('disabling a user ends its sessions and refuses its logins; a password reset ends its sessions', async () => {
    await addUser(dozen, 'temp', 'deployer');
    const browser = await signIn(dozen, 'temp');
    assert.equal((await dozen.api('/users/temp', { method: 'PATCH', ...json({ disabled: true }) })).status, 200);
    assert.equal((await browser.fetch('/auth/me')).status, 401);
    assert.equal((await login(dozen, 'temp', 'temp-password')).status, 401);
    assert.equal((await dozen.api('/users/temp', { method: 'PATCH', ...json({ disabled: false }) })).status, 200);
    const again = await signIn(dozen, 'temp');
    assert.equal((await dozen.api('/users/temp/password', { method: 'PUT', ...json({ password: 'temp-password-2' }) })).status, 200);
    assert.equal((await again.fetch('/auth/me')).status, 401);
  });

  it('answers bad input with 400 naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/auth/login', { username: 'x' }, 'password'],
      ['POST', '/users', { name: 'Bad Name', role: 'viewer', password: 'long-enough' }, 'name'],
      ['POST', '/users', { name: 'fine', role: 'root', password: 'long-enough' }, 'role'],
      ['PATCH', '/users/ana', { role: 'king' }, 'role'],
    ];
    for (const [method, path, body, field] of cases) {
      const response = path === '/auth/login' ? await fetch(dozen.url + path, { method, ...json(body) }) : await dozen.api(path, { method, ...json(body) });
      const answer = await response.json();
      assert.equal(response.status, 400, `${method} ${path}: ${JSON.stringify(answer)}`);
      assert.equal(answer.field, field, JSON.stringify(answer));
    }
    const taken = await dozen.api('/users', { method: 'POST', ...json({ name: 'ana', role: 'viewer', password: 'long-enough' }) });
    assert.equal(taken.status, 409);
    assert.equal((await dozen.api('/users/nobody-here', { method: 'PATCH', ...json({ disabled: true }) })).status, 404);
  });
});

describe('session expiry', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  const idleMs = 3_000;
  const absoluteMs = 7_200;
  before(async () => {
    dozen = await startDozen({
      env: { DOZEN_MODULES: 'registry', DOZEN_ACCESS_SESSION_IDLE_MINUTES: String(idleMs / 60_000), DOZEN_ACCESS_SESSION_ABSOLUTE_HOURS: String(absoluteMs / 3_600_000) },
    });
    await addUser(dozen, 'sleeper', 'viewer');
  });
  after(async () => {
    await dozen?.stop();
  });

  it('ends a session left unused for the idle time, and keeps one in use', async () => {
    const idle = await signIn(dozen, 'sleeper');
    const busy = await signIn(dozen, 'sleeper');
    const lastUse = Date.now();
    assert.equal((await idle.fetch('/auth/me')).status, 200);
    // Keep `busy` in use past the idle time of `idle`; the condition waited for is the clock passing lastUse + idle.
    while (Date.now() < lastUse + idleMs + 300) {
      assert.equal((await busy.fetch('/auth/me')).status, 200, 'a session in use stays');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const ended = await idle.fetch('/auth/me');
    assert.equal(ended.status, 401);
    assert.match((await ended.json()).message, /session has ended/);
  });

  it('ends a session at the absolute time however busy it is', async () => {
    const started = Date.now();
    const browser = await signIn(dozen, 'sleeper');
    let status = 200;
    while (status === 200) {
      assert.ok(Date.now() - started < absoluteMs + 5_000, 'the session outlived its absolute time');
      status = (await browser.fetch('/auth/me')).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(status, 401);
    assert.ok(Date.now() - started >= absoluteMs - 50, `ended after ${Date.now() - started} ms, before its absolute time`);
  });
});

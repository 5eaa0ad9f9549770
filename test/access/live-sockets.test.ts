import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { openGraphql, openHub, type UserSocket } from './live-sockets.js';
import { addUser, json, signIn, type Browser } from './people.js';

const SERVICES = 'subscription { servicesChanged { app } }';
/** The close of a socket whose caller changed (src/common/live-callers.ts). */
const CALLER_CHANGED = 4401;

const cookieOf = (browser: Browser) => ({ cookie: `dozen_session=${browser.session}` });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function personalToken(browser: Browser): Promise<{ id: string; token: string }> {
  const created = await browser.fetch('/auth/tokens', { method: 'POST', ...json({ name: 'live' }) });
  assert.equal(created.status, 201);
  return created.json();
}

async function assertClosed(socket: UserSocket, reason: RegExp, what: string): Promise<void> {
  const closed = await socket.closedWithin();
  assert.notEqual(closed, 'still open', `${what} is still open`);
  if (closed === 'still open') return;
  assert.equal(closed.code, CALLER_CHANGED, `${what}: ${JSON.stringify(closed)}`);
  assert.match(closed.reason, reason, what);
}

describe('open WebSockets follow their caller: logout, revoked tokens, disabled users, new roles', { timeout: 180_000 }, () => {
  let dozen: DozenProcess;
  const open: UserSocket[] = [];
  const track = <T extends UserSocket>(socket: T): T => (open.push(socket), socket);

  before(async () => {
    // The periodic check is kept out of the way: each change must close the sockets by itself.
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,broadcast', DOZEN_ACCESS_SOCKET_RECHECK_SECONDS: '3600' } });
  });
  after(async () => {
    for (const socket of open) socket.close();
    await dozen?.stop();
  });

  it("logout closes the GraphQL and hub sockets of that session, not another session's", async () => {
    await addUser(dozen, 'leaving', 'viewer');
    const first = await signIn(dozen, 'leaving');
    const second = await signIn(dozen, 'leaving');
    const graphql = track(await openGraphql(dozen, cookieOf(first)));
    assert.equal((await graphql.subscribe(SERVICES)).type, 'next');
    const hub = track(await openHub(dozen, cookieOf(first), 'live-room'));
    const other = track(await openGraphql(dozen, cookieOf(second)));

    assert.equal((await first.fetch('/auth/logout', { method: 'POST' })).status, 204);
    await assertClosed(graphql, /logged out/, 'the GraphQL socket');
    await assertClosed(hub, /logged out/, 'the hub socket');
    assert.equal((await other.subscribe(SERVICES)).type, 'next', "the other session's socket still serves");
  });

  it('revoking a personal token closes the sockets opened with it', async () => {
    await addUser(dozen, 'bot-owner', 'deployer');
    const owner = await signIn(dozen, 'bot-owner');
    const { id, token } = await personalToken(owner);
    const graphql = track(await openGraphql(dozen, bearer(token)));
    const hub = track(await openHub(dozen, { token }, 'live-room'));
    const session = track(await openGraphql(dozen, cookieOf(owner)));

    assert.equal((await owner.fetch(`/auth/tokens/${id}`, { method: 'DELETE' })).status, 200);
    await assertClosed(graphql, /token revoked/, 'the GraphQL socket');
    await assertClosed(hub, /token revoked/, 'the hub socket');
    assert.equal((await session.subscribe(SERVICES)).type, 'next', "the owner's session is not the token");
  });

  it("disabling a user closes every socket of it; a password reset closes its sessions' sockets", async () => {
    await addUser(dozen, 'soon-off', 'viewer');
    const browser = await signIn(dozen, 'soon-off');
    const { token } = await personalToken(browser);
    const byToken = track(await openGraphql(dozen, bearer(token)));
    const bySession = track(await openHub(dozen, cookieOf(browser), 'live-room'));
    assert.equal((await dozen.api('/users/soon-off', { method: 'PATCH', ...json({ disabled: true }) })).status, 200);
    await assertClosed(byToken, /user disabled/, 'the token socket');
    await assertClosed(bySession, /user disabled/, 'the session socket');

    await addUser(dozen, 'forgetful', 'viewer');
    const forgetful = await signIn(dozen, 'forgetful');
    const { token: kept } = await personalToken(forgetful);
    const sessionSocket = track(await openGraphql(dozen, cookieOf(forgetful)));
    const tokenSocket = track(await openGraphql(dozen, bearer(kept)));
    assert.equal((await dozen.api('/users/forgetful/password', { method: 'PUT', ...json({ password: 'forgetful-password-2' }) })).status, 200);
    await assertClosed(sessionSocket, /password reset/, 'the session socket');
    assert.equal((await tokenSocket.subscribe(SERVICES)).type, 'next', 'personal tokens outlive a password reset (docs/access.md)');
  });

  it('a new role closes the sockets; reconnecting gets the new rights', async () => {
    await addUser(dozen, 'demoted', 'deployer');
    const browser = await signIn(dozen, 'demoted');
    const graphql = track(await openGraphql(dozen, cookieOf(browser)));
    const hub = track(await openHub(dozen, cookieOf(browser), 'live-room'));
    assert.equal((await dozen.api('/users/demoted', { method: 'PATCH', ...json({ role: 'viewer' }) })).status, 200);
    await assertClosed(graphql, /role changed to viewer/, 'the GraphQL socket');
    await assertClosed(hub, /role changed to viewer/, 'the hub socket');
    const again = track(await openGraphql(dozen, cookieOf(browser)));
    assert.equal((await again.subscribe(SERVICES)).type, 'next', 'the session itself goes on, with the new role');
  });

  it('a session ended on another host is caught by the next subscription on an open socket', async () => {
    await addUser(dozen, 'elsewhere', 'viewer');
    const browser = await signIn(dozen, 'elsewhere');
    const graphql = track(await openGraphql(dozen, cookieOf(browser)));
    assert.equal((await graphql.subscribe(SERVICES)).type, 'next');
    // Another host sharing the database logs the session out: nothing on this host hears of it.
    const database = new Database(join(dozen.dataDir, 'dozen.sqlite'));
    try {
      database.prepare('DELETE FROM access_sessions WHERE user_id = (SELECT id FROM access_users WHERE name = ?)').run('elsewhere');
    } finally {
      database.close();
    }
    const refused = await graphql.subscribe(SERVICES);
    assert.notEqual(refused.type, 'next', JSON.stringify(refused));
    await assertClosed(graphql, /session or token has ended/, 'the GraphQL socket');
  });
});

describe('the periodic check of open WebSockets', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,broadcast', DOZEN_ACCESS_SOCKET_RECHECK_SECONDS: '0.5' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('closes a socket whose token was revoked on another host', async () => {
    await addUser(dozen, 'far', 'viewer');
    const { id, token } = await personalToken(await signIn(dozen, 'far'));
    const hub = await openHub(dozen, { token }, 'far-room');
    const database = new Database(join(dozen.dataDir, 'dozen.sqlite'));
    try {
      database.prepare('UPDATE access_personal_tokens SET revoked_at = ? WHERE id = ?').run(Date.now(), id);
    } finally {
      database.close();
    }
    await assertClosed(hub, /session or token has ended/, 'the hub socket');
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { addUser, json, login, signIn } from './people.js';

interface Event {
  module: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  address: string | null;
  detail: Record<string, unknown>;
  at: string;
}

describe('one audit trail for every module', { timeout: 180_000 }, () => {
  let dozen: DozenProcess;
  const audit = async (query: string): Promise<Event[]> => {
    const response = await dozen.api(`/audit?${query}`);
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    return body.events;
  };
  /** The newest event matching, waited for (events are written after the answer is sent). */
  const recorded = (query: string, what: (event: Event) => boolean) => waitFor(`an audit event for ${query}`, async () => (await audit(query)).find(what), 10_000);

  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry,deploy,storage,broadcast' }, waitHealthy: false });
    await addUser(dozen, 'op', 'deployer');
    await addUser(dozen, 'looker', 'viewer');
  });
  after(async () => {
    await dozen?.stop();
  });

  it("records each module's REST mutations: who, what, target, when, from where, and the outcome", async () => {
    const op = await signIn(dozen, 'op');
    const before = Date.now();
    const mutations: [string, RequestInit, string, string, string][] = [
      ['/registry/instances', { method: 'POST', ...json({ app: 'shop', address: '127.0.0.1', port: 9 }) }, 'registry', 'POST /registry/instances', ''],
      ['/storage/objects/audit/a.txt', { method: 'PUT', body: 'a' }, 'storage', 'PUT /storage/objects/*', 'audit/a.txt'],
      ['/broadcast/rooms/audit-room/messages', { method: 'POST', ...json({ data: 1 }) }, 'broadcast', 'POST /broadcast/rooms/:room/messages', 'audit-room'],
    ];
    for (const [path, init, module, action, target] of mutations) {
      const response = await op.fetch(path, init);
      assert.ok(response.status < 300, `${path}: ${response.status} ${await response.text()}`);
      const event = await recorded(`module=${module}&actor=op`, (candidate) => candidate.action === action);
      assert.equal(event.outcome, 'ok');
      assert.equal(event.target, target);
      assert.equal(event.address, '127.0.0.1');
      assert.ok(Date.parse(event.at) >= before - 1000 && Date.parse(event.at) <= Date.now(), event.at);
    }
    const admin: [string, RequestInit, string, string][] = [
      ['/proxy/apps/shop/policy', { method: 'PUT', ...json({ balancer: 'random' }) }, 'proxy', 'PUT /proxy/apps/:app/policy'],
      ['/tokens', { method: 'POST', ...json({ name: 'audit', scopes: ['storage:read'] }) }, 'tokens', 'POST /tokens'],
      ['/users', { method: 'POST', ...json({ name: 'audited', role: 'viewer', password: 'audited-password' }) }, 'users', 'POST /users'],
      ['/storage/objects/audit/a.txt', { method: 'DELETE' }, 'storage', 'DELETE /storage/objects/*'],
    ];
    for (const [path, init, module, action] of admin) {
      const response = await dozen.api(path, init);
      assert.ok(response.status < 300, `${path}: ${response.status} ${await response.text()}`);
      const event = await recorded(`module=${module}&actor=admin-token`, (candidate) => candidate.action === action);
      assert.equal(event.outcome, 'ok');
    }
  });

  it('records refusals and failures too, and logins by the user tried (an unknown name as such)', async () => {
    const looker = await signIn(dozen, 'looker');
    assert.equal((await looker.fetch('/storage/objects/x.txt', { method: 'DELETE' })).status, 403);
    const refused = await recorded('actor=looker&outcome=refused', (event) => event.action === 'DELETE /storage/objects/*');
    assert.deepEqual([refused.module, refused.target, refused.detail], ['storage', 'x.txt', { status: 403 }]);
    assert.equal((await dozen.api('/registry/instances/nope', { method: 'DELETE' })).status, 404);
    await recorded('module=registry&outcome=failed', (event) => event.action === 'DELETE /registry/instances/:id');
    assert.equal((await login(dozen, 'looker', 'wrong-password')).status, 401);
    const failedLogin = await recorded('module=auth&action=POST%20/auth/login', (event) => event.outcome === 'refused');
    assert.equal(failedLogin.actor, 'looker');
    // A name that is no user's may be anything typed, a password in the wrong field too: it is not written down.
    assert.equal((await login(dozen, 'Tr0ub4dor&3-typed-as-a-name', 'x')).status, 401);
    const unknown = await recorded(`module=auth&actor=${encodeURIComponent('(unknown user)')}`, (event) => event.action === 'POST /auth/login');
    assert.equal(unknown.outcome, 'refused');
    const trail = await (await dozen.api('/audit?module=auth&limit=50')).text();
    assert.ok(!trail.includes('Tr0ub4dor'), 'the typed name is in the audit trail');
  });

  it("deploy's named events carry the real user; GET /deploy/audit shows deploy's part of the one trail", async () => {
    const op = await signIn(dozen, 'op');
    const created = await op.fetch('/deploy/apps', { method: 'POST', ...json({ name: 'audit-app', runtime: 'image', image: 'dozen/none:1' }) });
    assert.equal(created.status, 201, await created.text());
    const event = await recorded('module=deploy&actor=op', (candidate) => candidate.action === 'app.create');
    assert.equal(event.target, 'audit-app');
    const deployView = await (await dozen.api('/deploy/audit?limit=5')).json();
    assert.ok(deployView.events.some((candidate: Event) => candidate.action === 'app.create' && candidate.actor === 'op'), JSON.stringify(deployView));
    assert.ok(deployView.events.every((candidate: Event) => candidate.module === 'deploy'));
  });

  it('GraphQL mutations are recorded with hidden secrets; auditEvents filters by module, actor, action prefix, time and pages', async () => {
    const admin = await (async () => {
      await addUser(dozen, 'boss', 'admin');
      return signIn(dozen, 'boss');
    })();
    const made = await admin.graphql('mutation { createUser(name: "gq", role: "viewer", password: "gq-password-1") { name } }');
    assert.deepEqual(made.body.data, { createUser: { name: 'gq' } });
    const event = await recorded('actor=boss&action=Mutation.*', (candidate) => candidate.action === 'Mutation.createUser');
    assert.deepEqual([event.module, event.target, event.outcome], ['users', 'gq', 'ok']);
    assert.deepEqual(event.detail, { args: { name: 'gq', role: 'viewer', password: '(hidden)' } });

    const looker = await signIn(dozen, 'looker');
    await looker.graphql('mutation { deleteObject(key: "k") }');
    await recorded('actor=looker&action=Mutation.deleteObject', (candidate) => candidate.outcome === 'refused');

    const page = await looker.graphql('query($f: AuditFilter) { auditEvents(filter: $f) { module actor action outcome at } }', { f: { actor: 'boss', action: 'Mutation.*', limit: 1, since: new Date(Date.now() - 60_000).toISOString() } });
    assert.deepEqual((page.body.data!.auditEvents as Event[]).map((entry) => [entry.actor, entry.action]), [['boss', 'Mutation.createUser']]);
    const none = await looker.graphql('query { auditEvents(filter: {module: "users", until: "2001-01-01T00:00:00Z"}) { id } }');
    assert.deepEqual(none.body.data, { auditEvents: [] });
    const bad = await dozen.api('/audit?limit=0');
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).field, 'limit');
    const all = await audit('limit=1000');
    const second = await audit('limit=2&offset=1');
    assert.deepEqual(second.map((entry) => entry.at + entry.action), all.slice(1, 3).map((entry) => entry.at + entry.action));
  });

  it("a secret inside an argument's JSON text or a git URL never reaches the trail every role reads", async () => {
    await addUser(dozen, 'keeper', 'admin');
    const keeper = await signIn(dozen, 'keeper');
    const secret = 'hs256-leak-0123456789abcdef';
    const policy = JSON.stringify({ auth: 'jwt', jwt: { algorithms: ['HS256'], secret } });
    const set = await keeper.graphql('mutation ($policy: String!) { setProxyPolicy(app: "vault", policy: $policy) { auth jwt } }', { policy });
    assert.deepEqual(set.body.errors, undefined, JSON.stringify(set.body));
    // A policy that does not parse is recorded too (failed): its text may hold the secret all the same.
    const broken = await keeper.graphql('mutation ($policy: String!) { setProxyPolicy(app: "vault", policy: $policy) { auth } }', { policy: policy.slice(0, -2) });
    assert.equal(broken.body.errors?.[0]?.extensions?.code, 'bad_request', JSON.stringify(broken.body));
    const token = 'glpat-leak-0123456789';
    const op = await signIn(dozen, 'op');
    // deploy refuses such a URL (400), but the failed mutation is recorded with its arguments.
    const app = await op.graphql('mutation ($input: CreateAppInput!) { createApp(input: $input) { name } }', { input: { name: 'leaky', runtime: 'nodejs', repository: `https://ci:${token}@git.example.net/team/leaky.git` } });
    assert.equal(app.body.errors?.[0]?.extensions?.field, 'repository', JSON.stringify(app.body));
    const looker = await signIn(dozen, 'looker');
    const refused = await looker.graphql('mutation ($input: CreateAppInput!) { createApp(input: $input) { name } }', { input: { name: 'leaky2', runtime: 'nodejs', repository: `https://ci:${token}@git.example.net/team/leaky.git` } });
    assert.equal(refused.body.errors?.[0]?.extensions?.code, 'forbidden');

    const stored = await recorded('actor=keeper&action=Mutation.setProxyPolicy', (event) => event.outcome === 'ok');
    assert.deepEqual(JSON.parse((stored.detail.args as { policy: string }).policy), { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: '(hidden)' } });
    await recorded('actor=keeper&action=Mutation.setProxyPolicy', (event) => event.outcome === 'failed');
    const created = await recorded('module=deploy&actor=op', (event) => event.action === 'Mutation.createApp' && event.outcome === 'failed');
    assert.equal((created.detail.args as { input: { repository: string } }).input.repository, 'https://***@git.example.net/team/leaky.git');
    await recorded('actor=looker&action=Mutation.createApp', (event) => event.outcome === 'refused');
    const asViewer = await looker.fetch('/audit?limit=1000');
    assert.equal(asViewer.status, 200);
    const text = await asViewer.text();
    const graphql = JSON.stringify((await looker.graphql('{ auditEvents(filter: {limit: 1000}) { detail } }')).body);
    for (const [where, seen] of [['GET /audit', text], ['auditEvents', graphql]]) {
      assert.ok(!seen.includes(secret) && !seen.includes(secret.slice(0, 12)), `${where} shows the HS256 secret: ${seen}`);
      assert.ok(!seen.includes(token), `${where} shows the git token`);
    }
  });
});

describe("deploy's earlier audit rows move into the one trail", { timeout: 120_000 }, () => {
  it('keeps them, under module deploy, after the upgrade', async () => {
    const first = await startDozen({ env: { DOZEN_MODULES: 'registry' } });
    const dataDir = first.dataDir;
    await first.stop('SIGKILL');
    // Put the database back to before the audit migration, with one deploy event in deploy's old table.
    const database = new Database(join(dataDir, 'dozen.sqlite'));
    database.exec('DROP TABLE audit_events');
    database.exec("DELETE FROM migrations WHERE name = 'Audit1764300006000'");
    database.exec('CREATE TABLE deploy_audit_events (id varchar(36) PRIMARY KEY, at bigint, actor varchar(128), action varchar(64), target varchar(255), detail text, address varchar(64))');
    database.prepare('INSERT INTO deploy_audit_events VALUES (?, ?, ?, ?, ?, ?, ?)').run('11111111-1111-4111-8111-111111111111', 1_700_000_000_000, 'admin', 'app.create', 'old-app', '{"runtime":"nodejs"}', '10.0.0.9');
    database.close();
    const second = await startDozen({ env: { DOZEN_MODULES: 'registry' }, dataDir });
    try {
      const { events } = await (await second.api('/audit?module=deploy')).json();
      assert.deepEqual(events, [
        { id: '11111111-1111-4111-8111-111111111111', at: new Date(1_700_000_000_000).toISOString(), module: 'deploy', actor: 'admin', action: 'app.create', target: 'old-app', detail: { runtime: 'nodejs' }, address: '10.0.0.9', outcome: 'ok' },
      ]);
    } finally {
      await second.stop();
    }
  });
});

describe('secrets the trail kept before it redacted every detail', { timeout: 120_000 }, () => {
  it('are hidden by the upgrade', async () => {
    const first = await startDozen({ env: { DOZEN_MODULES: 'registry' } });
    const dataDir = first.dataDir;
    await first.stop('SIGKILL');
    // An event as the trail wrote it before: the policy's JSON text verbatim. The migration is made to run again.
    const database = new Database(join(dataDir, 'dozen.sqlite'));
    const policy = JSON.stringify({ auth: 'jwt', jwt: { secret: 'old-hs256-secret-0123456789' } });
    const insert = database.prepare('INSERT INTO audit_events (id, at, module, actor, action, target, detail, address, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    insert.run('22222222-2222-4222-8222-222222222222', 1_700_000_000_000, 'proxy', 'ada', 'Mutation.setProxyPolicy', 'vault', JSON.stringify({ args: { app: 'vault', policy } }), '10.0.0.9', 'ok');
    insert.run('33333333-3333-4333-8333-333333333333', 1_700_000_000_001, 'deploy', 'ada', 'app.create', 'leaky', JSON.stringify({ repository: 'https://ci:old-git-token@git.example.net/x.git', runtime: 'nodejs' }), '10.0.0.9', 'ok');
    database.exec("DELETE FROM migrations WHERE name = 'AuditRedact1764810000000'");
    database.close();
    const second = await startDozen({ env: { DOZEN_MODULES: 'registry' }, dataDir });
    try {
      const { events } = (await (await second.api('/audit?since=2023-11-14T00:00:00Z&until=2023-11-15T00:00:00Z')).json()) as { events: Event[] };
      assert.deepEqual(events.map((event) => event.detail), [
        { repository: 'https://***@git.example.net/x.git', runtime: 'nodejs' },
        { args: { app: 'vault', policy: JSON.stringify({ auth: 'jwt', jwt: { secret: '(hidden)' } }) } },
      ]);
    } finally {
      await second.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { addUser, json, signIn, type Browser } from '../access/people.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

interface Event {
  actor: string;
  action: string;
  target: string;
  outcome: string;
  detail: Record<string, unknown>;
}

const TOKEN = 'ghp_0123456789abcdef';

/**
 * Who may change what of an app, and who the audit trail says did it: the parts of deploy that need
 * more than the route's own permission. No Docker: nothing here is built or run.
 */
describe('deploy: callers, permissions and the audit trail', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  let admin: Browser;
  let deployer: Browser;

  const events = async (query: string): Promise<Event[]> => (await (await dozen.api(`/audit?module=deploy&${query}`)).json()).events;
  const recorded = (query: string, what: (event: Event) => boolean) => waitFor(`an audit event for ${query}`, async () => (await events(query)).find(what), 10_000);

  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'accesstest' }, waitHealthy: false });
    await addUser(dozen, 'ops', 'admin');
    await addUser(dozen, 'dev', 'deployer');
    admin = await signIn(dozen, 'ops');
    deployer = await signIn(dozen, 'dev');
    const created = await dozen.api('/deploy/apps', { method: 'POST', ...json({ name: 'shop', runtime: 'image', image: 'dozen/none:1' }) });
    assert.equal(created.status, 201, await created.text());
  });
  after(async () => {
    await dozen?.stop();
  });

  it('the audit trail names whoever rotated or deleted a webhook, over REST and GraphQL', async () => {
    assert.equal((await admin.fetch('/deploy/apps/shop/webhook', { method: 'POST' })).status, 201);
    await recorded('actor=ops', (event) => event.action === 'app.webhook.create' && event.target === 'shop');
    const rotated = await admin.graphql('mutation { rotateWebhook(app: "shop") { secret } }');
    assert.ok(rotated.body.data?.rotateWebhook, JSON.stringify(rotated.body));
    await recorded('actor=ops', (event) => event.action === 'app.webhook.rotate');
    assert.equal((await admin.graphql('mutation { deleteWebhook(app: "shop") }')).body.data?.deleteWebhook, true);
    await recorded('actor=ops', (event) => event.action === 'app.webhook.delete');
    assert.equal((await dozen.api('/deploy/apps/shop/webhook', { method: 'POST' })).status, 201);
    assert.equal((await dozen.api('/deploy/apps/shop/webhook', { method: 'DELETE' })).status, 204);
    await recorded('actor=admin-token', (event) => event.action === 'app.webhook.delete');
    assert.deepEqual((await events('actor=admin')).filter((event) => event.action.startsWith('app.webhook')), [], 'no event names a caller "admin" that does not exist');
  });

  it('a deployer may create an app, but not with secrets (REST and GraphQL); an admin may', async () => {
    const refused = await deployer.fetch('/deploy/apps', { method: 'POST', ...json({ name: 'leaky', runtime: 'image', image: 'dozen/none:1', secrets: { DB_PASSWORD: 'pw' } }) });
    const body = await refused.json();
    assert.equal(refused.status, 403, JSON.stringify(body));
    assert.deepEqual([body.error, body.field, body.permission], ['forbidden', 'secrets', 'deploy.secrets']);
    assert.match(body.message, /^dev may not create an app with secrets/);
    assert.equal((await dozen.api('/deploy/apps/leaky')).status, 404, 'nothing was created');

    const viaGraphQL = await deployer.graphql('mutation { createApp(input: { name: "leaky", runtime: "image", image: "dozen/none:1", secrets: [{ name: "DB_PASSWORD", value: "pw" }] }) { name } }');
    assert.deepEqual(viaGraphQL.body.errors?.[0].extensions && [viaGraphQL.body.errors[0].extensions.code, viaGraphQL.body.errors[0].extensions.permission], ['forbidden', 'deploy.secrets'], JSON.stringify(viaGraphQL.body));
    assert.equal((await dozen.api('/deploy/apps/leaky')).status, 404);

    assert.equal((await deployer.fetch('/deploy/apps', { method: 'POST', ...json({ name: 'plain', runtime: 'image', image: 'dozen/none:1' }) })).status, 201);
    const made = await admin.fetch('/deploy/apps', { method: 'POST', ...json({ name: 'sealed', runtime: 'image', image: 'dozen/none:1', secrets: { DB_PASSWORD: 'pw' } }) });
    assert.equal(made.status, 201, await made.clone().text());
    assert.deepEqual((await made.json()).secrets, ['DB_PASSWORD']);
  });

  it("a deployer may not change where an app with secrets gets its code (its secrets would reach code of the deployer's choosing); an admin may", async () => {
    for (const change of [{ image: 'attacker/prints-env:1' }, { runtime: 'nodejs', repository: 'https://git.example.net/attacker/x.git' }]) {
      const refused = await deployer.fetch('/deploy/apps/sealed', { method: 'PUT', ...json(change) });
      const body = await refused.json();
      assert.equal(refused.status, 403, JSON.stringify(body));
      assert.deepEqual([body.error, body.permission], ['forbidden', 'deploy.secrets']);
      assert.match(body.message, /^dev may not change where sealed's code comes from \((image|repository)\): the app's secrets \(DB_PASSWORD\) reach the code it runs/);
    }
    const viaGraphQL = await deployer.graphql('mutation { updateApp(name: "sealed", input: { image: "attacker/prints-env:1" }) { name } }');
    assert.equal(viaGraphQL.body.errors?.[0].extensions?.permission, 'deploy.secrets', JSON.stringify(viaGraphQL.body));
    assert.equal((await dozen.api('/deploy/apps/sealed').then((response) => response.json())).image, 'dozen/none:1', 'nothing changed');
    // The same image again, and other fields, are the deployer's; an app without secrets is the deployer's whole.
    assert.equal((await deployer.fetch('/deploy/apps/sealed', { method: 'PUT', ...json({ image: 'dozen/none:1', memoryMb: 256 }) })).status, 200);
    assert.equal((await deployer.fetch('/deploy/apps/plain', { method: 'PUT', ...json({ image: 'dozen/other:2' }) })).status, 200);
    assert.equal((await admin.fetch('/deploy/apps/sealed', { method: 'PUT', ...json({ image: 'dozen/none:2' }) })).status, 200);
  });

  it("a deployer may not set env that chooses the code an app runs (NODE_OPTIONS, LD_PRELOAD, npm's settings: its secrets would reach that code); other env is the deployer's, and an admin may", async () => {
    const leak = { NODE_OPTIONS: '--import=data:text/javascript,console.log(process.env.DB_PASSWORD)' };
    for (const [app, env] of [['sealed', leak], ['plain', { LD_PRELOAD: '/tmp/x.so' }], ['sealed', { npm_config_node_options: '--require=/tmp/x.js', MODE: 'prod' }]] as const) {
      const refused = await deployer.fetch(`/deploy/apps/${app}/env`, { method: 'PUT', ...json({ env }) });
      const body = await refused.json();
      assert.equal(refused.status, 403, JSON.stringify(body));
      assert.deepEqual([body.error, body.field, body.permission], ['forbidden', 'env', 'deploy.secrets']);
      assert.match(body.message, new RegExp(`^dev may not set ${Object.keys(env)[0]} on ${app}: they choose the code its containers run`));
    }
    const viaGraphQL = await deployer.graphql('mutation { setEnv(app: "sealed", name: "BASH_ENV", value: "/tmp/x.sh") { name } }');
    assert.equal(viaGraphQL.body.errors?.[0].extensions?.permission, 'deploy.secrets', JSON.stringify(viaGraphQL.body));
    const created = await deployer.fetch('/deploy/apps', { method: 'POST', ...json({ name: 'preloaded', runtime: 'image', image: 'dozen/none:1', env: { PYTHONSTARTUP: '/tmp/x.py' } }) });
    assert.deepEqual([created.status, (await created.json()).field], [403, 'env']);
    assert.equal((await dozen.api('/deploy/apps/preloaded')).status, 404, 'nothing was created');
    const sealed = await (await dozen.api('/deploy/apps/sealed')).json();
    assert.ok(!('NODE_OPTIONS' in sealed.env) && !('MODE' in sealed.env) && !('BASH_ENV' in sealed.env), 'nothing of a refused change was kept');
    assert.equal((await deployer.fetch('/deploy/apps/sealed/env', { method: 'PUT', ...json({ env: { MODE: 'prod', NODE_ENV: 'production' } }) })).status, 200);
    assert.equal((await admin.fetch('/deploy/apps/sealed/env', { method: 'PUT', ...json({ env: { NODE_OPTIONS: '--max-old-space-size=512' } }) })).status, 200);
  });

  it('a repository URL with credentials is refused, saying to use the secrets, and the audit trail keeps no copy of them', async () => {
    const repository = `https://ci:${TOKEN}@git.example.net/shop.git`;
    const refused = await dozen.api('/deploy/apps', { method: 'POST', ...json({ name: 'urlcreds', repository }) });
    const body = await refused.json();
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(body.field, 'repository');
    assert.match(body.message, /^repository: must not hold credentials \(user:password@\): set the app's secrets GIT_USERNAME and GIT_TOKEN instead$/);
    const viaGraphQL = await admin.graphql(`mutation { createApp(input: { name: "urlcreds", repository: "${repository}" }) { name } }`);
    assert.match(String(viaGraphQL.body.errors?.[0].message), /^repository: must not hold credentials/);
    const event = await recorded('actor=ops', (candidate) => candidate.action === 'Mutation.createApp' && candidate.outcome === 'failed');
    assert.deepEqual((event.detail.args as { input: Record<string, unknown> }).input.repository, 'https://***@git.example.net/shop.git');
    assert.ok(!JSON.stringify(await events('limit=1000')).includes(TOKEN), 'the token is in the audit trail');
  });
});

describe('deploy: a repository URL with credentials stored by an earlier version', { timeout: 120_000 }, () => {
  it('is shown without them, and the audit trail loses its copies', async () => {
    const env = { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'olderhost' };
    const first = await startDozen({ env, waitHealthy: false });
    const created = await first.api('/deploy/apps', { method: 'POST', ...json({ name: 'legacy', repository: 'https://git.example.net/legacy.git' }) });
    assert.equal(created.status, 201, await created.text());
    await first.stop('SIGKILL');
    // As an earlier dozen left it: the URL as given, and recorded so (before the audit migration ran).
    const database = new Database(join(first.dataDir, 'dozen.sqlite'));
    const repository = `https://ci:${TOKEN}@git.example.net/legacy.git`;
    database.prepare('UPDATE deploy_apps SET repository = ? WHERE name = ?').run(repository, 'legacy');
    database.prepare("UPDATE audit_events SET detail = ? WHERE action = 'app.create'").run(JSON.stringify({ repository, runtime: 'nodejs', domains: [] }));
    database.exec("DELETE FROM migrations WHERE name = 'AuditRedact1764810000000'");
    database.close();

    const again = await startDozen({ env, dataDir: first.dataDir, waitHealthy: false });
    try {
      const app = await (await again.api('/deploy/apps/legacy')).json();
      assert.equal(app.repository, 'https://***@git.example.net/legacy.git');
      const trail = await (await again.api('/audit?module=deploy')).json();
      const event = trail.events.find((candidate: Event) => candidate.action === 'app.create');
      assert.equal(event.detail.repository, 'https://***@git.example.net/legacy.git');
      assert.ok(!JSON.stringify(trail).includes(TOKEN));
    } finally {
      await again.stop();
    }
  });
});

describe('deploy: file:// repositories', { timeout: 120_000 }, () => {
  it("are refused while deploy.git.allowFile is off, saying the same whatever the path; one stored while they were on fails its build, and when on, git's words about the path are not passed on", async () => {
    const refusal = async (dozen: DozenProcess, repository: string) => {
      const response = await dozen.api('/deploy/apps', { method: 'POST', ...json({ name: 'peek', repository }) });
      return [response.status, (await response.json()).message];
    };
    const on = await startDozen({ env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'filehost', DOZEN_DEPLOY_GIT_ALLOW_FILE: 'true' }, waitHealthy: false });
    const release = async (dozen: DozenProcess, app: string) => {
      const queued = await (await dozen.api(`/deploy/apps/${app}/deploy`, { method: 'POST', ...json({}) })).json();
      return waitFor(`release of ${app} to end`, async () => {
        const now = await (await dozen.api(`/deploy/releases/${queued.id}`)).json();
        return now.status === 'failed' || now.status === 'ready' ? now : undefined;
      }, 30_000);
    };
    try {
      // A folder that exists (no repository) and one that does not.
      for (const [name, path] of [['here', '/etc'], ['nowhere', '/nonexistent/repo']]) {
        assert.equal((await on.api('/deploy/apps', { method: 'POST', ...json({ name, repository: `file://${path}` }) })).status, 201);
      }
      const [here, nowhere] = [await release(on, 'here'), await release(on, 'nowhere')];
      assert.equal(here.status, 'failed');
      assert.equal(nowhere.status, 'failed');
      const said = (error: string, path: string) => error.split('\n').filter((line) => line.startsWith('error: ')).join('\n').replace(path, '<path>');
      assert.equal(said(here.error, '/etc'), said(nowhere.error, '/nonexistent/repo'), 'the same words for a folder that exists and one that does not');
      await on.stop('SIGKILL');

      const off = await startDozen({ env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: 'filehost' }, dataDir: on.dataDir, waitHealthy: false });
      try {
        // This very checkout, a git repository a build could read.
        const [status, message] = await refusal(off, `file://${process.cwd()}`);
        assert.equal(status, 400);
        assert.deepEqual(await refusal(off, 'file:///nonexistent/repo'), [400, message], 'the same answer whether the path exists or not');
        assert.equal(message, 'repository: file:// repositories are off on this dozen (deploy.git.allowFile): use an https:// or ssh:// URL');
        const stored = await release(off, 'here');
        assert.equal(stored.status, 'failed');
        assert.match(stored.error, /file:\/\/ repositories are off on this dozen \(deploy\.git\.allowFile\)/);
      } finally {
        await off.stop();
      }
    } finally {
      await on.stop();
    }
  });
});

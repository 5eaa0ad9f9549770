import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { BASE_IMAGE } from '../support/base-image.js';
import { runCli } from '../support/cli.js';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { appSource, expectStatus, FILE_REPOSITORIES, json, makeRepository, waitInstance, waitRelease } from './helpers.js';

const HOST = 'hooktest';

/** GitHub's push payload (docs.github.com, "push" webhook event), trimmed of nothing dozen reads. */
function githubPush(ref: string, before: string, after: string) {
  const commit = { id: after, tree_id: 'f9d2a07e9488b91af2641b26b9407fe22a451433', distinct: true, message: 'Update server.js', timestamp: '2026-11-29T17:00:00Z', url: `https://github.com/team/hooked/commit/${after}`, author: { name: 'Octo Cat', email: 'octo@example.com', username: 'octocat' }, committer: { name: 'Octo Cat', email: 'octo@example.com', username: 'octocat' }, added: [], removed: [], modified: ['server.js'] };
  return {
    ref, before, after, created: false, deleted: false, forced: false, base_ref: null, compare: `https://github.com/team/hooked/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits: [commit], head_commit: commit,
    repository: { id: 35129377, node_id: 'MDEwOlJlcG9zaXRvcnkzNTEyOTM3Nw==', name: 'hooked', full_name: 'team/hooked', private: true, owner: { name: 'team', login: 'team', id: 21031067 }, html_url: 'https://github.com/team/hooked', clone_url: 'https://github.com/team/hooked.git', default_branch: 'main', master_branch: 'main' },
    pusher: { name: 'octocat', email: 'octo@example.com' }, sender: { login: 'octocat', id: 583231, type: 'User' },
  };
}

/** Gitea's push payload (docs.gitea.com, Webhooks, "Event information"). */
function giteaPush(ref: string, before: string, after: string) {
  return {
    ref, before, after, compare_url: `http://gitea.local:3000/team/hooked/compare/${before}...${after}`,
    commits: [{ id: after, message: 'Webhooks Yay!', url: `http://gitea.local:3000/team/hooked/commit/${after}`, author: { name: 'Gitea', email: 'someone@gitea.io', username: 'gitea' }, committer: { name: 'Gitea', email: 'someone@gitea.io', username: 'gitea' }, timestamp: '2026-11-29T13:52:11-04:00' }],
    repository: { id: 140, owner: { id: 1, login: 'team', full_name: '', email: 'someone@gitea.io', username: 'team' }, name: 'hooked', full_name: 'team/hooked', private: false, fork: false, html_url: 'http://gitea.local:3000/team/hooked', ssh_url: 'ssh://gitea@gitea.local:2222/team/hooked.git', clone_url: 'http://gitea.local:3000/team/hooked.git', default_branch: 'main' },
    pusher: { id: 1, login: 'gitea', full_name: '', email: 'someone@gitea.io', username: 'gitea' },
    sender: { id: 1, login: 'gitea', full_name: '', email: 'someone@gitea.io', username: 'gitea' },
  };
}

/** GitLab's "Push Hook" payload (docs.gitlab.com, Webhook events, Push events). */
function gitlabPush(ref: string, before: string, after: string) {
  return {
    object_kind: 'push', event_name: 'push', before, after, ref, ref_protected: true, checkout_sha: after, message: null,
    user_id: 4, user_name: 'John Smith', user_username: 'jsmith', user_email: 'john@example.com', user_avatar: null, project_id: 15,
    project: { id: 15, name: 'Hooked', description: '', web_url: 'http://gitlab.local/team/hooked', git_ssh_url: 'git@gitlab.local:team/hooked.git', git_http_url: 'http://gitlab.local/team/hooked.git', namespace: 'Team', visibility_level: 0, path_with_namespace: 'team/hooked', default_branch: 'main' },
    commits: [{ id: after, message: 'Update server.js\n', title: 'Update server.js', timestamp: '2026-11-29T17:00:00+00:00', url: `http://gitlab.local/team/hooked/-/commit/${after}`, author: { name: 'John Smith', email: 'john@example.com' }, added: [], modified: ['server.js'], removed: [] }],
    total_commits_count: 1, push_options: {},
    repository: { name: 'Hooked', url: 'git@gitlab.local:team/hooked.git', description: '', homepage: 'http://gitlab.local/team/hooked', git_http_url: 'http://gitlab.local/team/hooked.git', git_ssh_url: 'git@gitlab.local:team/hooked.git', visibility_level: 0 },
  };
}

const hmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');

/** The headers each provider sends with a delivery signed (or tokened) with `secret`. */
function signed(provider: 'github' | 'gitea' | 'gitlab', secret: string, body: string, event = 'push'): Record<string, string> {
  const delivery = randomUUID();
  if (provider === 'github') return { 'content-type': 'application/json', 'user-agent': 'GitHub-Hookshot/1a2b3c4', 'x-github-event': event, 'x-github-delivery': delivery, 'x-github-hook-id': '292430182', 'x-hub-signature-256': `sha256=${hmac(secret, body)}` };
  if (provider === 'gitea') {
    return { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': delivery, 'x-gogs-event': event, 'x-gogs-delivery': delivery, 'x-gitea-event': event, 'x-gitea-delivery': delivery, 'x-gitea-signature': hmac(secret, body), 'x-gogs-signature': hmac(secret, body), 'x-hub-signature-256': `sha256=${hmac(secret, body)}` };
  }
  return { 'content-type': 'application/json', 'user-agent': 'GitLab/17.5.0', 'x-gitlab-event': event === 'push' ? 'Push Hook' : event, 'x-gitlab-event-uuid': delivery, 'x-gitlab-instance': 'http://gitlab.local', 'x-gitlab-token': secret };
}

describe('deploy on push: GitHub, Gitea and GitLab webhooks', { timeout: 300_000 }, () => {
  const socketPath = process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET;
  const docker = new Docker({ socketPath });
  const repository = makeRepository();
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=test@dozen', '-c', 'user.name=test', ...args], { cwd: repository.dir, encoding: 'utf8' }).trim();
  let dozen: DozenProcess;
  let secret: string;
  let hookUrl: string;
  let instance: string;

  /** Posts a delivery to the hook without the admin token, as a git host does. */
  const deliver = async (headers: Record<string, string>, body: string, app = 'hooked') => {
    const response = await fetch(`${dozen.url}/deploy/hooks/${app}`, { method: 'POST', headers, body });
    return { status: response.status, body: (await response.json()) as { deployed?: boolean; reason?: string; error?: string; field?: string; release?: { id: string; commit?: string; ref?: string; createdBy?: string } } };
  };
  const answer = async () => {
    const { port } = await expectStatus<{ port: number }>(dozen, `/deploy/instances/${instance}`, {}, 200);
    return (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { version: number };
  };

  before(async () => {
    await docker.ping().catch(() => assert.fail(`no Docker Engine at ${socketPath}: run through the bench (node dist/test/support/bench.js test/deploy)`));
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: HOST, DOZEN_DEPLOY_DOCKER_SOCKET_PATH: socketPath, DOZEN_DEPLOY_RUNTIMES_NODEJS_BASE_IMAGE: BASE_IMAGE,
        DOZEN_DEPLOY_DRAIN_SECONDS: '0', DOZEN_DEPLOY_HEALTH_TIMEOUT_SECONDS: '20', DOZEN_DEPLOY_LOGS_SHIP: 'false', ...FILE_REPOSITORIES,
      },
    });
    await expectStatus(dozen, '/deploy/apps', json({ name: 'hooked', repository: repository.url, defaultRef: 'main' }), 201);
  });

  after(async () => {
    if (dozen) {
      await dozen.api('/deploy/apps/hooked', { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the app containers to go', async () => (await docker.listContainers({ all: true, filters: { label: [`dozen.host=${HOST}`] } })).length === 0, 30_000).catch(() => undefined);
      await dozen.stop();
      rmSync(dozen.dataDir, { recursive: true, force: true });
    }
    for (const container of await docker.listContainers({ all: true, filters: { label: ['dozen.managed=true', `dozen.host=${HOST}`] } })) await docker.getContainer(container.Id).remove({ force: true }).catch(() => undefined);
    for (const image of await docker.listImages({ filters: { label: ['dozen.app=hooked'] } })) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    rmSync(repository.dir, { recursive: true, force: true });
  });

  it('gives the app a webhook URL and a secret shown once (admin token only)', async () => {
    assert.equal((await fetch(`${dozen.url}/deploy/apps/hooked/webhook`, { method: 'POST' })).status, 401);
    await expectStatus(dozen, '/deploy/apps/hooked/webhook', {}, 404);
    const created = await expectStatus<{ url: string; secret: string }>(dozen, '/deploy/apps/hooked/webhook', { method: 'POST' }, 201);
    secret = created.secret;
    hookUrl = created.url;
    assert.match(hookUrl, /\/deploy\/hooks\/hooked$/);
    assert.ok(secret.length >= 40);
    const shown = await expectStatus(dozen, '/deploy/apps/hooked/webhook', {}, 200);
    assert.equal(shown.url, hookUrl);
    assert.equal(shown.secret, undefined, 'the secret is shown once only');
  });

  it('a GitHub push to the branch deploys the pushed commit; an instance runs it', async () => {
    const main = repository.commit('main');
    const body = JSON.stringify(githubPush('refs/heads/main', '0'.repeat(39) + '1', main));
    const delivered = await deliver(signed('github', secret, body), body);
    assert.equal(delivered.status, 202, JSON.stringify(delivered.body));
    assert.equal(delivered.body.deployed, true);
    const release = delivered.body.release!;
    assert.equal(release.ref, main);
    assert.equal(release.createdBy, 'webhook:github');
    const built = await waitRelease(dozen, release.id, 'ready');
    assert.equal(built.commit, main);
    instance = String((await expectStatus(dozen, '/deploy/instances', json({ app: 'hooked', host: HOST }), 201)).id);
    await waitInstance(dozen, instance, (state) => state.state === 'running', 'running');
    assert.equal((await answer()).version, 1);
  });

  it('a replay of a deployed commit, a push to another branch and a ping are acknowledged and ignored', async () => {
    const main = repository.commit('main');
    const replay = JSON.stringify(githubPush('refs/heads/main', '0'.repeat(39) + '1', main));
    const again = await deliver(signed('github', secret, replay), replay);
    assert.deepEqual([again.status, again.body.deployed, again.body.reason], [200, false, 'already_deployed']);
    const otherBranch = JSON.stringify(giteaPush('refs/heads/next', main, repository.commit('next')));
    const other = await deliver(signed('gitea', secret, otherBranch), otherBranch);
    assert.deepEqual([other.status, other.body.deployed, other.body.reason], [200, false, 'other_branch']);
    const tag = JSON.stringify(gitlabPush('refs/tags/v2', '0'.repeat(40), repository.commit('v2')));
    assert.equal((await deliver(signed('gitlab', secret, tag, 'Tag Push Hook'), tag)).body.reason, 'not_a_push');
    const ping = JSON.stringify({ zen: 'Design for failure.', hook_id: 292430182, hook: { type: 'Repository', events: ['push'] } });
    assert.deepEqual((await deliver(signed('github', secret, ping, 'ping'), ping)).body.reason, 'ping');
    const { releases } = await expectStatus<{ releases: unknown[] }>(dozen, '/deploy/apps/hooked/releases', {}, 200);
    assert.equal(releases.length, 1, 'nothing was deployed');
  });

  it('a wrong signature or token is 401, for each provider, and deploys nothing', async () => {
    const body = JSON.stringify(githubPush('refs/heads/main', repository.commit('main'), repository.commit('next')));
    const wrong = 'not-the-secret';
    for (const provider of ['github', 'gitea', 'gitlab'] as const) {
      const refused = await deliver(signed(provider, wrong, body), body);
      assert.equal(refused.status, 401, `${provider}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error, 'unauthorized');
    }
    // Signed right, then changed on the way.
    const tampered = await deliver(signed('github', secret, body), body.replace('refs/heads/main', 'refs/heads/main '));
    assert.equal(tampered.status, 401);
    assert.equal((await deliver({ 'content-type': 'application/json', 'x-github-event': 'push' }, body)).status, 401);
    // The admin token is no substitute for the hook's secret.
    assert.equal((await fetch(`${dozen.url}/deploy/hooks/hooked`, { method: 'POST', headers: { authorization: `Bearer ${dozen.token}`, 'content-type': 'application/json', 'x-github-event': 'push' }, body })).status, 401);
    // An app without a webhook, and no app: 401, as a bad signature (which apps have a webhook stays unsaid); a bad app name: 400 naming it.
    await expectStatus(dozen, '/deploy/apps', json({ name: 'nohook', repository: repository.url }), 201);
    assert.equal((await deliver(signed('github', secret, body), body, 'nohook')).status, 401);
    assert.equal((await deliver(signed('github', secret, body), body, 'ghost')).status, 401);
    const badName = await deliver(signed('github', secret, body), body, 'Bad_Name');
    assert.deepEqual([badName.status, badName.body.field], [400, 'app']);
    // Signed, but not a push body.
    const noAfter = JSON.stringify({ ref: 'refs/heads/main' });
    const missing = await deliver(signed('gitlab', secret, noAfter), noAfter);
    assert.deepEqual([missing.status, missing.body.field], [400, 'after']);
    const { releases } = await expectStatus<{ releases: unknown[] }>(dozen, '/deploy/apps/hooked/releases', {}, 200);
    assert.equal(releases.length, 1, 'nothing was deployed');
  });

  it('a GitLab push of a new commit moves the instance to it; a Gitea replay of it is ignored; the audit names the hooks', async () => {
    const before = repository.commit('main');
    writeFileSync(join(repository.dir, 'server.js'), appSource(3));
    git('commit', '-qam', 'version 3');
    const pushed = repository.commit('main');
    const body = JSON.stringify(gitlabPush('refs/heads/main', before, pushed));
    const delivered = await deliver(signed('gitlab', secret, body), body);
    assert.equal(delivered.status, 202, JSON.stringify(delivered.body));
    const release = delivered.body.release!;
    assert.equal((await waitRelease(dozen, release.id, 'ready')).commit, pushed);
    await waitInstance(dozen, instance, (state) => state.state === 'running' && state.runningRelease === release.id, 'moved to the pushed release');
    assert.equal((await answer()).version, 3);

    const replay = JSON.stringify(giteaPush('refs/heads/main', before, pushed));
    assert.equal((await deliver(signed('gitea', secret, replay), replay)).body.reason, 'already_deployed');

    const { events } = await expectStatus<{ events: { actor: string; action: string; target: string; address: string | null; detail: { release?: string } }[] }>(dozen, '/deploy/audit?limit=50', {}, 200);
    const deploys = events.filter((event) => event.action === 'app.deploy' && event.target === 'hooked');
    assert.deepEqual(deploys.map((event) => event.actor), ['webhook:gitlab', 'webhook:github']);
    assert.equal(deploys[0].detail.release, release.id);
    assert.ok(deploys[0].address, 'the sender address is recorded');
    assert.ok(events.some((event) => event.action === 'app.webhook.create' && event.actor === 'admin-token'));
  });

  it('a Gitea push deploys too; after a rotation the old secret is refused and the new one works (CLI and GraphQL)', async () => {
    const before = repository.commit('main');
    writeFileSync(join(repository.dir, 'server.js'), appSource(4));
    git('commit', '-qam', 'version 4');
    const pushed = repository.commit('main');
    const body = JSON.stringify(giteaPush('refs/heads/main', before, pushed));

    const rotated = await runCli(['app', 'webhook', 'hooked', 'rotate', '--server', dozen.url, '--token', dozen.token]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = (JSON.parse(rotated.stdout) as { secret: string }).secret;
    assert.notEqual(fresh, secret);
    assert.equal((await deliver(signed('gitea', secret, body), body)).status, 401, 'the old secret stops working');
    const delivered = await deliver(signed('gitea', fresh, body), body);
    assert.equal(delivered.status, 202, JSON.stringify(delivered.body));
    assert.equal((await waitRelease(dozen, delivered.body.release!.id, 'ready')).commit, pushed);

    const graphql = await expectStatus<{ data: { rotateWebhook: { url: string; secret: string }; webhook: { url: string } } }>(dozen, '/graphql', json({ query: 'mutation { rotateWebhook(app: "hooked") { url secret } }' }), 200);
    assert.equal(graphql.data.rotateWebhook.url, hookUrl);
    assert.equal((await deliver(signed('gitea', fresh, body), body)).status, 401);
    assert.equal((await deliver(signed('gitea', graphql.data.rotateWebhook.secret, body), body)).body.reason, 'already_deployed');

    const queried = await expectStatus<{ data: { webhook: Record<string, string> } }>(dozen, '/graphql', json({ query: '{ webhook(app: "hooked") { app url createdAt } }' }), 200);
    assert.deepEqual(Object.keys(queried.data.webhook).sort(), ['app', 'createdAt', 'url']);
    const badName = await expectStatus<{ errors: { message: string }[] }>(dozen, '/graphql', json({ query: 'mutation { rotateWebhook(app: "Not_An_App") { secret } }' }), 200);
    assert.match(badName.errors[0].message, /^app: /);

    const shown = await runCli(['app', 'webhook', 'hooked', '--server', dozen.url, '--token', dozen.token]);
    assert.equal((JSON.parse(shown.stdout) as { url: string }).url, hookUrl);
    const usage = await runCli(['app', 'webhook', 'hooked', 'explode', '--server', dozen.url, '--token', dozen.token]);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /usage: dozen app webhook/);
    const removed = await runCli(['app', 'webhook', 'hooked', 'delete', '--server', dozen.url, '--token', dozen.token]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await deliver(signed('gitea', graphql.data.rotateWebhook.secret, body), body)).status, 401);
  });
});

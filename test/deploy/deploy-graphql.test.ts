import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEST_DOCKER_SOCKET } from '../support/docker-engine.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';

const HOST = 'graphqlhost';

describe('deploy GraphQL: the same service as REST', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  const query = async (text: string, variables: Record<string, unknown> = {}) => {
    const response = await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: text, variables }) });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    return body;
  };
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,deploy', DOZEN_HOST_NAME: HOST, DOZEN_DEPLOY_DOCKER_SOCKET_PATH: process.env.DOZEN_TEST_DOCKER_SOCKET ?? TEST_DOCKER_SOCKET } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('createApp, setEnv, setSecret and addDomain change the app REST shows; secret values never come back', async () => {
    const created = await query(
      'mutation ($input: CreateAppInput!) { createApp(input: $input) { name runtime defaultRef healthPath env { name value } secrets domains policy } }',
      { input: { name: 'blog', repository: 'https://git.example.net/blog.git', env: [{ name: 'MODE', value: 'prod' }], secrets: [{ name: 'DB_PASSWORD', value: 'pw-1' }], domains: ['blog.example.net'] } },
    );
    assert.deepEqual(created.data.createApp, {
      name: 'blog', runtime: 'nodejs', defaultRef: 'main', healthPath: '/', env: [{ name: 'MODE', value: 'prod' }], secrets: ['DB_PASSWORD'], domains: ['blog.example.net'], policy: '/proxy/apps/blog/policy',
    });
    await query('mutation { setEnv(app: "blog", name: "LEVEL", value: "3") { name } }');
    await query('mutation { setSecret(app: "blog", name: "API_KEY", value: "k-9") { name } }');
    await query('mutation { addDomain(app: "blog", domain: "www.blog.example.net") { name } }');
    const rest = await (await dozen.api('/deploy/apps/blog')).json();
    assert.deepEqual(rest.env, { MODE: 'prod', LEVEL: '3' });
    assert.deepEqual(rest.secrets, ['API_KEY', 'DB_PASSWORD']);
    assert.deepEqual(rest.domains, ['blog.example.net', 'www.blog.example.net']);
    const listed = await query('{ apps { name secrets env { name value } } app(name: "blog") { name } }');
    assert.ok(!JSON.stringify(listed).includes('pw-1') && !JSON.stringify(listed).includes('k-9'));
    assert.equal(listed.data.app.name, 'blog');
  });

  it('bad input names the field; conflicts and unknown ids say so', async () => {
    const bad = await query('mutation { createApp(input: { name: "Blog", repository: "https://git.example.net/x.git" }) { name } }');
    assert.match(bad.errors[0].message, /^name: expected a DNS label/);
    const badScale = await query('mutation { scale(app: "blog", host: "graphqlhost", count: -2) { id } }');
    assert.match(badScale.errors[0].message, /^count: /);
    const taken = await query('mutation { createApp(input: { name: "blog", repository: "https://git.example.net/x.git" }) { name } }');
    assert.match(taken.errors[0].message, /app "blog" exists already/);
    const notDeployed = await query('mutation { createInstance(app: "blog", host: "graphqlhost") { id } }');
    assert.match(notDeployed.errors[0].message, /blog has no ready release yet/);
    const unknown = await query('mutation { restartInstance(id: "i00000000") { id } }');
    assert.match(unknown.errors[0].message, /instance "i00000000" does not exist/);
    const badCancel = await query('mutation { cancelRelease(id: "latest") { id } }');
    assert.match(badCancel.errors[0].message, /^id: expected a release id/);
    const unknownCancel = await query('mutation { cancelRelease(id: "r00000000") { id } }');
    assert.match(unknownCancel.errors[0].message, /release "r00000000" does not exist/);
  });

  it('hosts shows this host up; auditEvents lists the mutations, newest first', async () => {
    const body = await query('{ hosts { name state modules } auditEvents(filter: {module: "deploy", outcome: "ok", limit: 10}) { action target actor } instances(app: "blog") { id } releases(app: "blog") { id } }');
    assert.deepEqual(body.data.hosts, [{ name: HOST, state: 'up', modules: ['registry', 'deploy'] }]);
    assert.deepEqual(body.data.auditEvents.map((event: { action: string }) => event.action).slice(0, 4), ['app.domain.add', 'app.secret.set', 'app.env.set', 'app.create']);
    assert.equal(body.data.auditEvents[0].actor, 'admin-token');
    assert.deepEqual(body.data.instances, []);
    assert.deepEqual(body.data.releases, []);
  });
});

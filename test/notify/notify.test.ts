import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

interface Received {
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const SECRETS = { webhook: 'hook-secret', dingtalk: 'SECding', feishu: 'feishu-secret' };

/** Checks each format's signature the way the vendor documents it; a wrong one is answered as the robot would. */
function verdict(request: Received): { status: number; body: unknown } {
  const json = JSON.parse(request.body);
  switch (request.path) {
    case '/hook':
    case '/deploys': {
      const expected = `sha256=${createHmac('sha256', SECRETS.webhook).update(`${request.headers['x-dozen-timestamp']}.${request.body}`).digest('hex')}`;
      const sent = String(request.headers['x-dozen-signature']);
      return sent.length === expected.length && timingSafeEqual(Buffer.from(sent), Buffer.from(expected)) ? { status: 204, body: '' } : { status: 401, body: 'bad signature' };
    }
    case '/ding': {
      const timestamp = request.query.get('timestamp')!;
      const fresh = Math.abs(Date.now() - Number(timestamp)) < 3_600_000;
      const sign = createHmac('sha256', SECRETS.dingtalk).update(`${timestamp}\n${SECRETS.dingtalk}`).digest('base64');
      return fresh && request.query.get('sign') === sign && json.msgtype === 'text' ? { status: 200, body: { errcode: 0, errmsg: 'ok' } } : { status: 200, body: { errcode: 310000, errmsg: 'sign not match' } };
    }
    case '/feishu': {
      const sign = createHmac('sha256', `${json.timestamp}\n${SECRETS.feishu}`).update('').digest('base64');
      return json.sign === sign && json.msg_type === 'text' ? { status: 200, body: { code: 0, msg: 'success' } } : { status: 200, body: { code: 19021, msg: 'sign match fail' } };
    }
    case '/wecom':
      return new URLSearchParams(request.query).get('key') === 'wecom-key' && json.msgtype === 'text' ? { status: 200, body: { errcode: 0, errmsg: 'ok' } } : { status: 200, body: { errcode: 93000, errmsg: 'invalid webhook url' } };
  }
  return { status: 404, body: '' };
}

describe('notifications reach each channel in its own format, signed, retried', { timeout: 120_000 }, () => {
  let receiver: Server;
  let dozen: DozenProcess;
  const received: (Received & { accepted: boolean })[] = [];
  let failFirstHook = true;

  before(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const url = new URL(request.url!, 'http://127.0.0.1');
        const entry: Received = { path: url.pathname, query: url.searchParams, headers: request.headers, body };
        // The generic webhook's first delivery fails, so the retry is seen.
        const answer = url.pathname === '/hook' && failFirstHook ? { status: 503, body: 'busy' } : verdict(entry);
        if (url.pathname === '/hook') failFirstHook = false;
        received.push({ ...entry, accepted: answer.status < 300 && !/errcode":[1-9]|code":[1-9]/.test(JSON.stringify(answer.body)) });
        response.writeHead(answer.status, { 'content-type': 'application/json' }).end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    const channels = [
      { name: 'ops-hook', type: 'webhook', url: `${base}/hook`, secret: SECRETS.webhook },
      { name: 'ops-ding', type: 'dingtalk', url: `${base}/ding?access_token=t`, secret: SECRETS.dingtalk },
      { name: 'ops-feishu', type: 'feishu', url: `${base}/feishu`, secret: SECRETS.feishu },
      { name: 'ops-wecom', type: 'wecom', url: `${base}/wecom?key=wecom-key` },
      { name: 'only-up', type: 'wecom', url: `${base}/wecom?key=wecom-key`, events: ['module.up'] },
      { name: 'deploys', type: 'webhook', url: `${base}/deploys`, secret: SECRETS.webhook, events: ['deploy.succeeded', 'deploy.failed'] },
    ];
    // The deploy module is down from the start: its Docker socket does not exist.
    dozen = await startDozen({
      waitHealthy: false,
      env: { DOZEN_MODULES: 'registry,deploy', DOZEN_DEPLOY_DOCKER_SOCKET_PATH: '/nonexistent/docker.sock', DOZEN_DEPLOY_GIT_ALLOW_FILE: 'true', DOZEN_NOTIFY_CHANNELS: JSON.stringify(channels), DOZEN_NOTIFY_HEALTH_CHECK_SECONDS: '0.2' },
    });
  });
  after(async () => {
    await dozen?.stop();
    receiver?.close();
  });

  it('tells every channel that chose it that deploy went down, once, however often health is checked', async () => {
    await waitFor('a delivery on each channel', async () => ['/hook', '/ding', '/feishu', '/wecom'].every((path) => received.some((entry) => entry.path === path && entry.accepted)), 30_000);
    const hooks = received.filter((entry) => entry.path === '/hook');
    assert.deepEqual(hooks.map((entry) => entry.accepted), [false, true], 'the webhook was retried after its 503');
    const hook = JSON.parse(hooks[1].body);
    assert.deepEqual([hook.event, hook.subject, hook.heldBack], ['module.down', 'deploy', 0]);
    assert.match(hook.message, /docker/i);
    const ding = JSON.parse(received.find((entry) => entry.path === '/ding')!.body);
    assert.match(ding.text.content, /^\[dozen [^\]]+\] module\.down deploy: /);
    const feishu = JSON.parse(received.find((entry) => entry.path === '/feishu')!.body);
    assert.match(feishu.content.text, /module\.down deploy/);
    // Health is checked every 0.2 s; the module stays down through ten more checks.
    const metric = async (line: RegExp) => Number(line.exec(await (await fetch(dozen.url + '/metrics')).text())?.[1] ?? NaN);
    const checks = /^dozen_notify_health_checks_total (\d+)/m;
    const seen = await metric(checks);
    await waitFor('ten more health checks', async () => (await metric(checks)) >= seen + 10, 20_000);
    assert.equal(await metric(/^dozen_notify_messages_total\{channel="ops-wecom",outcome="sent"\} (\d+)/m), 1);
    assert.equal(await metric(/^dozen_notify_messages_total\{channel="ops-hook",outcome="retried"\} (\d+)/m), 1);
    assert.equal(received.filter((entry) => entry.path === '/wecom').length, 1, 'one message, and none for the channel that chose only module.up');
    assert.equal(received.filter((entry) => entry.path === '/ding').length, 1);
  });

  it('tells the channel that chose deploy events that a deploy failed, and nothing else', async () => {
    assert.ok(!received.some((entry) => entry.path === '/deploys'), 'module events did not reach it');
    const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = await dozen.api('/deploy/apps', json({ name: 'doomed', repository: 'file:///nonexistent/doomed.git', runtime: 'nodejs' }));
    assert.equal(created.status, 201, await created.text());
    const deployed = await dozen.api('/deploy/apps/doomed/deploy', json({ ref: 'main' }));
    const release = await deployed.json();
    assert.ok(deployed.status < 300, JSON.stringify(release));
    const { id } = release;
    const delivery = await waitFor('the deploy.failed message', async () => received.find((entry) => entry.path === '/deploys' && entry.accepted), 30_000);
    const message = JSON.parse(delivery.body);
    assert.deepEqual([message.event, message.subject, message.detail], ['deploy.failed', 'doomed', { release: id }]);
    assert.match(message.message, new RegExp(`^release ${id}: `));
  });
});

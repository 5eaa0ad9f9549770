import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { addUser, json, signIn } from '../access/people.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort } from '../support/ports.js';

/** A webhook receiver on 127.0.0.1 counting what it is sent. */
async function startReceiver(): Promise<{ url: string; received: () => number; server: Server }> {
  let received = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received++;
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received: () => received, server };
}

describe("notification channels made through the API do not reach dozen's own networks", { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver();
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry' } });
    await addUser(dozen, 'curious', 'viewer');
  });
  after(async () => {
    await dozen?.stop();
    receiver?.server.close();
  });

  it('a webhook to loopback, a private or link-local address, or a name resolving there, is refused with 400 naming url', async () => {
    const curious = await signIn(dozen, 'curious');
    for (const url of [receiver.url, 'http://localhost:2375/containers/json', 'http://[::1]:7700/', 'http://169.254.169.254/latest/meta-data/', 'http://100.100.100.200/', 'http://10.0.0.5:6379/']) {
      const made = await curious.fetch('/notify/channels', { method: 'POST', ...json({ name: 'probe', type: 'webhook', url }) });
      assert.equal(made.status, 400, `${url}: ${made.status}`);
      const body = await made.json();
      assert.equal(body.field, 'url', JSON.stringify(body));
      assert.match(body.message, /is an internal address/);
    }
    const graphql = await curious.graphql('mutation { createNotifyChannel(input: {name: "probe", type: "wecom", url: "http://127.0.0.1:9/"}) { id } }');
    assert.match(graphql.body.errors?.[0]?.message ?? '', /^url: 127\.0\.0\.1 is an internal address/, JSON.stringify(graphql.body));

    const outside = await curious.fetch('/notify/channels', { method: 'POST', ...json({ name: 'outside', type: 'webhook', url: 'http://203.0.113.9/hook' }) });
    assert.equal(outside.status, 201, await outside.clone().text());
    const { id } = await outside.json();
    const moved = await curious.fetch(`/notify/channels/${id}`, { method: 'PATCH', ...json({ url: receiver.url }) });
    assert.equal(moved.status, 400, 'nor can a channel be moved inside');
    const team = await dozen.api('/notify/team-channels', { method: 'POST', ...json({ name: 'team-probe', type: 'webhook', url: receiver.url }) });
    assert.equal(team.status, 400, "an admin's team channel neither, unless the config allows the address");
    assert.equal(receiver.received(), 0);
  });
});

describe('internal addresses notify.allowPrivateTargets lists', { timeout: 120_000 }, () => {
  let dozen: DozenProcess;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver();
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry', DOZEN_NOTIFY_ALLOW_PRIVATE_TARGETS: '127.0.0.1/32' } });
    await addUser(dozen, 'member', 'deployer');
    await addUser(dozen, 'chief', 'admin');
  });
  after(async () => {
    await dozen?.stop();
    receiver?.server.close();
  });

  it('may be reached; a failed test tells only admins why, so nobody else maps the ports that answer', async () => {
    const member = await signIn(dozen, 'member');
    const closed = `http://127.0.0.1:${await freePort()}/hook`;
    const made = async (url: string) => {
      const response = await member.fetch('/notify/channels', { method: 'POST', ...json({ name: `to-${url}`, type: 'webhook', url }) });
      assert.equal(response.status, 201, await response.clone().text());
      return (await response.json()).id as string;
    };
    const open = await made(receiver.url);
    const tested = await (await member.fetch(`/notify/channels/${open}/test`, { method: 'POST' })).json();
    assert.deepEqual(tested, { delivered: true, problem: null });
    assert.equal(receiver.received(), 1);

    const shut = await made(closed);
    const refused = await (await member.fetch(`/notify/channels/${shut}/test`, { method: 'POST' })).json();
    assert.equal(refused.delivered, false);
    assert.doesNotMatch(refused.problem, /ECONNREFUSED|connect|127\.0\.0\.1|HTTP \d/, 'no hint of what listens where');
    assert.match(refused.problem, /dozen's log/);
    assert.match(dozen.logs(), /test message not delivered.*ECONNREFUSED|ECONNREFUSED.*test message not delivered/, 'the log has the reason');
    const viaGraphql = await member.graphql('mutation ($id: String!) { testNotifyChannel(id: $id) { delivered problem } }', { id: shut });
    assert.equal((viaGraphql.body.data!.testNotifyChannel as { problem: string }).problem, refused.problem);

    const chief = await signIn(dozen, 'chief');
    const team = await chief.fetch('/notify/team-channels', { method: 'POST', ...json({ name: 'team-closed', type: 'webhook', url: closed }) });
    assert.equal(team.status, 201);
    const told = await (await chief.fetch(`/notify/team-channels/${(await team.json()).id}/test`, { method: 'POST' })).json();
    assert.match(told.problem, /ECONNREFUSED/, 'an admin is told why');
    const metadata = await member.fetch('/notify/channels', { method: 'POST', ...json({ name: 'metadata', type: 'webhook', url: 'http://169.254.169.254/' }) });
    assert.equal(metadata.status, 400, 'only what is listed');
  });
});

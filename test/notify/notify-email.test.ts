import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addUser, json, signIn } from '../access/people.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { NO_SUCH_DOMAIN, smtpEnv, startSmtpReceiver, type SmtpReceiver } from '../support/smtp-receiver.js';

/** The code in a confirmation mail (1234-5678). */
function codeIn(mail: { text: string }): string {
  const code = /: (\d{4}-\d{4})\n/.exec(mail.text)?.[1];
  assert.ok(code, mail.text);
  return code;
}

describe('email notifications over SMTP (STARTTLS, AUTH), chosen in config and by each person', { timeout: 120_000 }, () => {
  let receiver: SmtpReceiver;
  let dozen: DozenProcess;
  const metric = async (line: RegExp) => Number(line.exec(await (await fetch(dozen.url + '/metrics')).text())?.[1] ?? NaN);
  const confirmationMail = (address: string) => waitFor(`the confirmation code mailed to ${address}`, async () => receiver.messages.find((message) => message.to.includes(address) && message.subject.endsWith(`confirm ${address} for notifications`)), 15_000);
  const register = (id: string, ttl: number) => dozen.api('/registry/instances', { method: 'POST', ...json({ id, app: 'mailapp', address: '127.0.0.1', port: 3000, ttl }) });

  before(async () => {
    receiver = await startSmtpReceiver();
    const channels = [
      { name: 'ops-mail', type: 'email', to: ['ops@example.com'], events: ['instance.lost'] },
      { name: 'ghost', type: 'email', to: [`ghost@${NO_SUCH_DOMAIN}`], events: ['instance.lost'] },
    ];
    // Channels made through the API may reach 127.0.0.1 here (notify.allowPrivateTargets): port 9 stands for a robot that does not answer.
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry', DOZEN_NOTIFY_CHANNELS: JSON.stringify(channels), DOZEN_NOTIFY_ALLOW_PRIVATE_TARGETS: '127.0.0.1', ...smtpEnv(receiver) } });
  });
  after(async () => {
    await dozen?.stop();
    await receiver?.stop();
  });

  it('an instance that stops renewing is told by email, retried after a 451; a normal stop is not told; a refused address fails at once, saying why', async () => {
    receiver.refuseNext(1);
    assert.equal((await register('mail-lonely', 1)).status, 201);
    assert.equal((await register('mail-leaving', 1)).status, 201);
    assert.equal((await dozen.api('/registry/instances/mail-leaving', { method: 'DELETE' })).status, 204);
    const mail = await waitFor('the instance.lost email', async () => receiver.messages.find((message) => message.to.includes('ops@example.com')), 30_000);
    assert.equal(receiver.refused, 1, 'the first try was answered 451');
    assert.match(mail.subject, /^\[dozen [^\]]+\] instance\.lost mail-lonely$/);
    assert.match(mail.text, /mailapp on .+: no heartbeat for 1 s/);
    assert.match(mail.text, /"app": "mailapp"/);
    assert.deepEqual([mail.secure, mail.user, mail.from], [true, receiver.username, 'dozen@example.com'], 'sent after STARTTLS, authenticated');
    assert.equal(await metric(/^dozen_notify_messages_total\{channel="ops-mail",outcome="retried"\} (\d+)/m), 1);
    await waitFor('the ghost channel given up', async () => (await metric(/^dozen_notify_messages_total\{channel="ghost",outcome="failed"\} (\d+)/m)) === 1, 10_000);
    assert.ok(Number.isNaN(await metric(/^dozen_notify_messages_total\{channel="ghost",outcome="retried"\} (\d+)/m)), 'a 550 is not retried');
    const failure = dozen.logs().split('\n').find((line) => line.includes('notification not delivered') && line.includes('"channel":"ghost"'));
    assert.match(failure ?? dozen.logs(), new RegExp(`ghost@${NO_SUCH_DOMAIN.replace('.', '\\.')}.*Recipient address rejected`));
    assert.ok(!receiver.messages.some((message) => message.subject.includes('mail-leaving')), 'a deregistered instance is not lost');
  });

  it('a person adds their own email channel, picks events, sends a test message; bad input names the field; the team channels are for admins', async () => {
    await addUser(dozen, 'vera', 'viewer');
    const vera = await signIn(dozen, 'vera');
    const listed = await (await vera.fetch('/notify/channels')).json();
    assert.equal(listed.email, true);
    assert.ok(listed.events.includes('host.silent') && listed.events.includes('certificate.renewal_failed'));
    assert.deepEqual(listed.channels.map((channel: { name: string; scope: string; editable: boolean }) => [channel.name, channel.scope, channel.editable]), [['ops-mail', 'config', false], ['ghost', 'config', false]]);

    const bad = await vera.fetch('/notify/channels', { method: 'POST', ...json({ name: 'mine', type: 'email', to: ['not an address'] }) });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).field, 'to.0');
    const created = await vera.fetch('/notify/channels', { method: 'POST', ...json({ name: 'mine', type: 'email', to: ['vera@example.com'], events: ['deploy.failed'] }) });
    assert.equal(created.status, 201);
    const channel = await created.json();
    assert.deepEqual([channel.scope, channel.target, channel.events, channel.unconfirmed], ['personal', 'vera@example.com', ['deploy.failed'], ['vera@example.com']]);
    const changed = await vera.fetch(`/notify/channels/${channel.id}`, { method: 'PATCH', ...json({ events: ['instance.lost', 'host.silent'] }) });
    assert.deepEqual((await changed.json()).events, ['instance.lost', 'host.silent']);

    // Nothing goes to the address until the code mailed there is entered.
    const code = codeIn(await confirmationMail('vera@example.com'));
    const early = await vera.fetch(`/notify/channels/${channel.id}/test`, { method: 'POST' });
    assert.equal(early.status, 409);
    assert.equal((await early.json()).error, 'unconfirmed');
    const confirmed = await vera.fetch(`/notify/channels/${channel.id}/confirm`, { method: 'POST', ...json({ address: 'vera@example.com', code }) });
    assert.equal(confirmed.status, 200);
    assert.deepEqual((await confirmed.json()).unconfirmed, []);

    const tested = await vera.fetch(`/notify/channels/${channel.id}/test`, { method: 'POST' });
    assert.deepEqual(await tested.json(), { delivered: true, problem: null });
    const test = receiver.messages.find((message) => message.to.includes('vera@example.com') && message.subject.endsWith('test mine'))!;
    assert.match(test.subject, /\] test mine$/);
    assert.match(test.text, /a test message, sent by vera/);

    assert.equal((await register('mail-lost-2', 1)).status, 201);
    await waitFor("the event in vera's own channel", async () => receiver.messages.find((message) => message.to.includes('vera@example.com') && message.subject.endsWith('instance.lost mail-lost-2')), 30_000);

    const team = await vera.fetch('/notify/team-channels', { method: 'POST', ...json({ name: 't', type: 'email', to: ['team@example.com'] }) });
    assert.equal(team.status, 403);
    const otherUser = await (await dozen.api('/notify/channels')).json();
    assert.ok(!otherUser.channels.some((entry: { id: string }) => entry.id === channel.id), "one person's channels are not shown to another caller");
  });

  it('an email address gets nothing before its code is entered: no event, five wrong codes spend it, a new code waits a minute, and each owner confirms for themselves', async () => {
    await addUser(dozen, 'mallory', 'viewer');
    const mallory = await signIn(dozen, 'mallory');
    const victim = 'victim@example.com';
    const created = await (await mallory.fetch('/notify/channels', { method: 'POST', ...json({ name: 'spam', type: 'email', to: [victim], events: ['instance.lost'] }) })).json();
    const mail = await confirmationMail(victim);
    assert.match(mail.subject, /^\[dozen [^\]]+\] confirm victim@example\.com for notifications$/);
    assert.match(mail.text, /mallory added this address to the notification channel "spam"/);
    assert.match(mail.text, /nothing more is sent here until the code is entered/);

    assert.equal((await register('mail-lost-3', 1)).status, 201);
    await waitFor('the config channel told of mail-lost-3', async () => receiver.messages.some((message) => message.subject.endsWith('instance.lost mail-lost-3')), 30_000);
    // The Notifier reads the channels every 5 s at most; the event went to every confirmed channel at once.
    assert.ok(!receiver.messages.some((message) => message.to.includes(victim) && message.subject.includes('mail-lost-3')), 'no event to an unconfirmed address');

    const wrong = String((Number(codeIn(mail).replace('-', '')) + 1) % 100_000_000).padStart(8, '0');
    for (let attempt = 0; attempt < 5; attempt++) {
      const refused = await mallory.fetch(`/notify/channels/${created.id}/confirm`, { method: 'POST', ...json({ address: victim, code: wrong }) });
      assert.equal(refused.status, 400);
      assert.equal((await refused.json()).field, 'code');
    }
    const spent = await mallory.fetch(`/notify/channels/${created.id}/confirm`, { method: 'POST', ...json({ address: victim, code: codeIn(mail) }) });
    assert.equal(spent.status, 400);
    assert.match((await spent.json()).message, /5 wrong codes were entered for victim@example\.com: ask for a new code/);
    const tooSoon = await mallory.fetch(`/notify/channels/${created.id}/code`, { method: 'POST', ...json({ address: victim }) });
    assert.equal(tooSoon.status, 429);
    assert.equal((await tooSoon.json()).field, 'address');
    const notHers = await mallory.fetch(`/notify/channels/${created.id}/code`, { method: 'POST', ...json({ address: 'other@example.com' }) });
    assert.equal(notHers.status, 400);
    assert.match((await notHers.json()).message, /other@example\.com is not an address of spam/);
    const badCode = await mallory.fetch(`/notify/channels/${created.id}/confirm`, { method: 'POST', ...json({ address: victim, code: 'abc' }) });
    assert.equal((await badCode.json()).field, 'code');

    // vera confirmed her address for her own channel; that confirms nothing for anybody else's.
    const copycat = await (await mallory.fetch('/notify/channels', { method: 'POST', ...json({ name: 'copy', type: 'email', to: ['vera@example.com'] }) })).json();
    assert.deepEqual(copycat.unconfirmed, ['vera@example.com']);
    const audit = JSON.stringify(await (await dozen.api('/audit?limit=50')).json());
    assert.ok(audit.includes('/confirm') && !audit.includes(wrong), 'codes stay out of the audit trail');
  });

  it("a team webhook's URL and secret are sealed in the database and never shown", async () => {
    const created = await dozen.api('/notify/team-channels', { method: 'POST', ...json({ name: 'team-hook', type: 'wecom', url: 'http://127.0.0.1:9/cgi-bin/webhook/send?key=wecom-key-sealed-1', events: ['module.down'] }) });
    assert.equal(created.status, 201, await created.clone().text());
    const view = await created.json();
    assert.deepEqual([view.scope, view.target], ['team', 'http://127.0.0.1:9/…']);
    const listed = JSON.stringify(await (await dozen.api('/notify/channels')).json());
    assert.ok(!listed.includes('wecom-key-sealed-1'));
    const files = ['dozen.sqlite', 'dozen.sqlite-wal'].map((name) => { try { return readFileSync(join(dozen.dataDir, name)).toString('latin1'); } catch { return ''; } });
    assert.ok(files[0].length > 0 && !files.some((bytes) => bytes.includes('wecom-key-sealed-1')), 'the key is not in the database in clear');
    const audit = await (await dozen.api('/audit?module=notify')).json();
    assert.ok(JSON.stringify(audit).includes('POST /notify/team-channels'), JSON.stringify(audit));
  });

  it('GraphQL: a person makes, tests and removes a channel of their own; its URL and secret are hidden in the audit trail', async () => {
    await addUser(dozen, 'gus', 'deployer');
    const gus = await signIn(dozen, 'gus');
    const made = await gus.graphql('mutation ($input: NotifyChannelInput!) { createNotifyChannel(input: $input) { id scope target hasSecret events } }', {
      input: { name: 'gus-hook', type: 'webhook', url: 'http://127.0.0.1:9/gus?key=gus-url-key', secret: 'gus-hook-secret', events: ['deploy.failed'] },
    });
    const channel = made.body.data!.createNotifyChannel as { id: string; scope: string; target: string; hasSecret: boolean; events: string[] };
    assert.deepEqual([channel.scope, channel.target, channel.hasSecret, channel.events], ['personal', 'http://127.0.0.1:9/…', true, ['deploy.failed']]);
    const bad = await gus.graphql('mutation { createNotifyChannel(input: {name: "x", type: "email", to: ["nope"]}) { id } }');
    assert.match(bad.body.errors![0].message, /^input\.to\.0: expected an email address/);
    const tested = await gus.graphql('mutation ($id: String!) { testNotifyChannel(id: $id) { delivered problem } }', { id: channel.id });
    const answer = tested.body.data!.testNotifyChannel as { delivered: boolean; problem: string };
    assert.equal(answer.delivered, false, 'nothing listens on port 9');
    assert.match(answer.problem, /^not delivered: .*dozen's log/, 'a deployer is not told what answered where');
    const listed = await gus.graphql('{ notifyChannels { channels { name scope } } }');
    assert.ok((listed.body.data!.notifyChannels as { channels: { name: string }[] }).channels.some((entry) => entry.name === 'gus-hook'));
    assert.equal((await gus.graphql('mutation ($id: String!) { deleteNotifyChannel(id: $id) }', { id: channel.id })).body.data!.deleteNotifyChannel, true);
    const trail = JSON.stringify(await (await dozen.api('/audit?module=notify&actor=gus')).json());
    assert.match(trail, /Mutation\.createNotifyChannel/);
    assert.ok(!trail.includes('gus-hook-secret') && !trail.includes('gus-url-key'), trail);
  });

  it("GraphQL: an admin's team email channel waits for its code; a new one is refused within the minute; the code confirms it and stays out of the audit trail", async () => {
    await addUser(dozen, 'ada', 'admin');
    const ada = await signIn(dozen, 'ada');
    const address = 'team-list@example.com';
    const made = await ada.graphql('mutation ($input: NotifyChannelInput!) { createTeamNotifyChannel(input: $input) { id scope unconfirmed } }', { input: { name: 'team-mail', type: 'email', to: [address] } });
    const channel = made.body.data!.createTeamNotifyChannel as { id: string; scope: string; unconfirmed: string[] };
    assert.deepEqual([channel.scope, channel.unconfirmed], ['team', [address]]);
    const code = codeIn(await confirmationMail(address));
    const again = await ada.graphql('mutation ($id: String!, $address: String!) { sendTeamNotifyAddressCode(id: $id, address: $address) { sent } }', { id: channel.id, address });
    assert.match(again.body.errors?.[0]?.message ?? '', /^a code went to team-list@example\.com less than a minute ago: try again in \d+ s$/, JSON.stringify(again.body));
    const viewer = await signIn(dozen, 'vera');
    const refused = await viewer.graphql('mutation ($id: String!, $address: String!, $code: String!) { confirmTeamNotifyAddress(id: $id, address: $address, code: $code) { id } }', { id: channel.id, address, code });
    assert.equal(refused.body.errors![0].extensions!.code, 'forbidden', 'the team channels are for notify.manage');
    const confirmed = await ada.graphql('mutation ($id: String!, $address: String!, $code: String!) { confirmTeamNotifyAddress(id: $id, address: $address, code: $code) { unconfirmed } }', { id: channel.id, address, code });
    assert.deepEqual(confirmed.body.data!.confirmTeamNotifyAddress, { unconfirmed: [] }, JSON.stringify(confirmed.body));
    const trail = JSON.stringify(await (await dozen.api('/audit?module=notify&actor=ada')).json());
    assert.match(trail, /Mutation\.confirmTeamNotifyAddress/);
    assert.ok(!trail.includes(code) && !trail.includes(code.replace('-', '')), trail);
  });
});

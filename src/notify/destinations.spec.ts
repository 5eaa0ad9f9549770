import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ChannelDestinations, embeddedIpv4, INTERNAL_ADDRESS, targetRange } from './destinations.js';

describe('where channels made through the API may send', () => {
  let port = 0;
  let received = 0;
  const server = createServer((_request, response) => {
    received++;
    response.end('{}');
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it('refuses loopback, private, link-local, shared and reserved addresses, by address or by name', async () => {
    const destinations = new ChannelDestinations([]);
    for (const url of ['http://127.0.0.1/', 'http://127.9.9.9:2375/containers/x/kill', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://10.1.2.3/', 'http://172.20.0.1/',
      'http://192.168.1.1/', 'http://169.254.169.254/latest/meta-data/', 'http://100.100.100.200/', 'http://[fd00::1]/', 'http://[fe80::1]/', 'http://0.0.0.0/', 'http://localhost/']) {
      assert.match((await destinations.refusal(url)) ?? 'allowed', /is an internal address/, url);
    }
    for (const url of ['https://oapi.dingtalk.com/robot/send?access_token=x', 'http://203.0.113.9/', 'http://[2001:db8::1]/', 'http://8.8.8.8/']) {
      assert.equal(await destinations.refusal(url), null, url);
    }
    await destinations.close();
  });

  it('reads the IPv4 address inside NAT64 and 6to4 addresses and checks that; refuses local-use NAT64 and Teredo whole', async () => {
    const destinations = new ChannelDestinations([]);
    for (const url of ['http://[64:ff9b::7f00:1]/', 'http://[64:ff9b::127.0.0.1]/', 'http://[64:ff9b::a9fe:a9fe]/latest/meta-data/', 'http://[64:ff9b::a00:1]/',
      'http://[2002:7f00:1::]/', 'http://[2002:a00:1::1]/', 'http://[64:ff9b:1::7f00:1]/', 'http://[64:ff9b:1:2::1]/', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/']) {
      assert.match((await destinations.refusal(url)) ?? 'allowed', /is an internal address/, url);
    }
    for (const url of ['http://[64:ff9b::808:808]/', 'http://[2002:808:808::1]/']) assert.equal(await destinations.refusal(url), null, url);
    await destinations.close();

    const allowing = new ChannelDestinations(['10.0.0.0/8']);
    assert.equal(await allowing.refusal('http://[64:ff9b::a00:1]/'), null, 'what the config allows by its IPv4 address');
    assert.match((await allowing.refusal('http://[64:ff9b::7f00:1]/')) ?? '', /internal/);
    await allowing.close();

    assert.equal(embeddedIpv4('64:ff9b::7f00:1'), '127.0.0.1');
    assert.equal(embeddedIpv4('64:FF9B:0:0:0:0:a9fe:a9fe'), '169.254.169.254');
    assert.equal(embeddedIpv4('2002:c0a8:101::'), '192.168.1.1');
    assert.equal(embeddedIpv4('64:ff9b:0:1::7f00:1'), null, 'outside the /96');
    assert.equal(embeddedIpv4('2001:db8::1'), null);
  });

  it('checks at the connection too: a name that resolves inside is not connected to, unless the config allows it', async () => {
    const refusing = new ChannelDestinations([]);
    await assert.rejects(request(`http://localhost:${port}/`, { method: 'POST', dispatcher: refusing.dispatcher }), (error: Error & { code?: string }) => error.code === INTERNAL_ADDRESS);
    assert.equal(received, 0, 'nothing reached the server');
    await refusing.close();

    const allowing = new ChannelDestinations(['127.0.0.0/8', '::1']);
    assert.equal(await allowing.refusal(`http://127.0.0.1:${port}/`), null);
    assert.match((await allowing.refusal('http://10.0.0.1/')) ?? '', /internal/, 'only what is listed');
    const response = await request(`http://localhost:${port}/`, { method: 'POST', dispatcher: allowing.dispatcher });
    assert.equal(response.statusCode, 200);
    await response.body.text();
    assert.equal(received, 1);
    await allowing.close();
  });

  it('takes addresses and CIDR blocks in notify.allowPrivateTargets', () => {
    for (const good of ['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1']) assert.ok(targetRange.safeParse(good).success, good);
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/8/1', '10.0.0.0/x', '']) assert.ok(!targetRange.safeParse(bad).success, bad);
  });
});

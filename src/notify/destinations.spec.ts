import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ChannelDestinations, INTERNAL_ADDRESS, targetRange } from './destinations.js';

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

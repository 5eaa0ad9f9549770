import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { emailFor, refusalOf, requestFor, type NotifyEvent } from './formats.js';
import { QuietWindow } from './quiet-window.js';

const event: NotifyEvent = { kind: 'module.down', subject: 'deploy', message: 'Docker is not reachable', host: 'h1', at: 1_764_000_000_000 };
const now = 1_764_000_000_123;

describe('notification formats', () => {
  it('signs the generic webhook over timestamp and body', () => {
    const request = requestFor({ name: 'w', type: 'webhook', url: 'http://127.0.0.1:1/hook', secret: 's3cret', events: [] }, event, 2, now);
    assert.equal(request.headers['x-dozen-timestamp'], '1764000000');
    const expected = createHmac('sha256', 's3cret').update(`1764000000.${request.body}`).digest('hex');
    assert.equal(request.headers['x-dozen-signature'], `sha256=${expected}`);
    assert.deepEqual(JSON.parse(request.body), { event: 'module.down', subject: 'deploy', message: 'Docker is not reachable', host: 'h1', at: '2025-11-24T16:00:00.000Z', detail: {}, heldBack: 2 });
  });

  it('signs DingTalk in the URL, Feishu in the body, and sends WeCom as is', () => {
    const ding = requestFor({ name: 'd', type: 'dingtalk', url: 'https://oapi.dingtalk.com/robot/send?access_token=abc', secret: 'SECx', events: [] }, event, 0, now);
    const url = new URL(ding.url);
    assert.equal(url.searchParams.get('access_token'), 'abc');
    assert.equal(url.searchParams.get('timestamp'), String(now));
    assert.equal(url.searchParams.get('sign'), createHmac('sha256', 'SECx').update(`${now}\nSECx`).digest('base64'));
    assert.deepEqual(JSON.parse(ding.body), { msgtype: 'text', text: { content: '[dozen h1] module.down deploy: Docker is not reachable' } });

    const feishu = JSON.parse(requestFor({ name: 'f', type: 'feishu', url: 'https://open.feishu.cn/open-apis/bot/v2/hook/x', secret: 'fs', events: [] }, event, 0, now).body);
    assert.equal(feishu.timestamp, '1764000000');
    assert.equal(feishu.sign, createHmac('sha256', '1764000000\nfs').update('').digest('base64'));
    assert.deepEqual([feishu.msg_type, feishu.content.text], ['text', '[dozen h1] module.down deploy: Docker is not reachable']);

    const wecom = requestFor({ name: 'q', type: 'wecom', url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', events: [] }, event, 3, now);
    assert.deepEqual(JSON.parse(wecom.body), { msgtype: 'text', text: { content: '[dozen h1] module.down deploy: Docker is not reachable (3 more like it held back)' } });
  });

  it("reads the robots' error codes in a 200 answer", () => {
    assert.equal(refusalOf(200, '{"errcode":0,"errmsg":"ok"}'), null);
    assert.equal(refusalOf(200, '{"code":0}'), null);
    assert.equal(refusalOf(200, '{"errcode":310000,"errmsg":"sign not match"}'), 'error 310000: sign not match');
    assert.equal(refusalOf(200, '{"code":19021,"msg":"sign match fail"}'), 'error 19021: sign match fail');
    assert.equal(refusalOf(500, ''), 'HTTP 500');
    assert.equal(refusalOf(204, ''), null);
  });

  it('writes an email with the robots\' line as subject and the when and details in the body', () => {
    const mail = emailFor({ ...event, detail: { reason: 'socket' } }, 4);
    assert.equal(mail.subject, '[dozen h1] module.down deploy');
    assert.match(mail.text, /^Docker is not reachable\n\nEvent: module\.down\nAbout: deploy\nHost: h1\nAt: 2025-11-24T16:00:00\.000Z\n\n4 more messages like it were held back/);
    assert.match(mail.text, /"reason": "socket"/);
  });

  it('holds back repeats within the quiet window and counts them', () => {
    let clock = 0;
    const quiet = new QuietWindow(1000, () => clock);
    assert.deepEqual(quiet.admit('a'), { heldBack: 0 });
    for (let repeat = 0; repeat < 999; repeat++) assert.equal(quiet.admit('a'), null);
    assert.deepEqual(quiet.admit('b'), { heldBack: 0 }, 'another key is not held back');
    clock = 1000;
    assert.deepEqual(quiet.admit('a'), { heldBack: 999 });
  });
});

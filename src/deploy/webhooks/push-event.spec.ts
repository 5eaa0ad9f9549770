import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { BadSignature, readDelivery } from './push-event.js';

const SECRET = 'hook-secret';
const COMMIT = 'bffeb74224043ba2feb48d137756c8a9331c449a';
const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', before: '28e1879d029cb852e4844d9c718537df08844e03', after: COMMIT }));
const hmac = (data: Buffer, secret = SECRET) => createHmac('sha256', secret).update(data).digest('hex');

describe('webhook deliveries', () => {
  it('reads a push from each provider once its signature or token matches', () => {
    const github = readDelivery({ 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(body)}` }, body, 'application/json', SECRET);
    assert.deepEqual(github.push, { ref: 'refs/heads/main', commit: COMMIT });
    assert.equal(github.provider, 'github');
    const gitea = readDelivery({ 'x-gitea-event': 'push', 'x-github-event': 'push', 'x-gitea-signature': hmac(body), 'x-hub-signature-256': 'sha256=ignored' }, body, 'application/json', SECRET);
    assert.equal(gitea.provider, 'gitea');
    assert.deepEqual(gitea.push, { ref: 'refs/heads/main', commit: COMMIT });
    const gitlab = readDelivery({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET }, body, 'application/json', SECRET);
    assert.equal(gitlab.provider, 'gitlab');
    assert.deepEqual(gitlab.push, { ref: 'refs/heads/main', commit: COMMIT });
  });

  it('refuses a wrong or missing signature, and a body changed after signing', () => {
    assert.throws(() => readDelivery({ 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(body, 'other')}` }, body, 'application/json', SECRET), BadSignature);
    assert.throws(() => readDelivery({ 'x-gitea-event': 'push', 'x-gitea-signature': hmac(body) }, Buffer.from(body.toString().replace('main', 'evil')), 'application/json', SECRET), BadSignature);
    assert.throws(() => readDelivery({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'guess' }, body, 'application/json', SECRET), BadSignature);
    assert.throws(() => readDelivery({ 'x-github-event': 'push' }, body, 'application/json', SECRET), /no X-Hub-Signature-256/);
  });

  it("reads GitHub's form-encoded deliveries, other events, and deleted branches", () => {
    const form = Buffer.from(new URLSearchParams({ payload: body.toString() }).toString());
    assert.equal(readDelivery({ 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(form)}` }, form, 'application/x-www-form-urlencoded', SECRET).push?.commit, COMMIT);
    const ping = Buffer.from('{"zen":"Keep it logically awesome.","hook_id":1}');
    assert.deepEqual(readDelivery({ 'x-github-event': 'ping', 'x-hub-signature-256': `sha256=${hmac(ping)}` }, ping, 'application/json', SECRET).push, null);
    const deleted = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: '0'.repeat(40) }));
    assert.deepEqual(readDelivery({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET }, deleted, 'application/json', SECRET).push, { ref: 'refs/heads/main', commit: '' });
  });

  it('names the field of a signed push that lacks it', () => {
    const bad = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'HEAD' }));
    assert.throws(() => readDelivery({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET }, bad, 'application/json', SECRET), (error: Error & { field?: string }) => error.field === 'after');
    assert.throws(() => readDelivery({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET }, Buffer.from('not json'), 'application/json', SECRET), (error: Error & { field?: string }) => error.field === 'body');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HIDDEN, redacted } from './redact.js';

describe('audit redaction', () => {
  it('hides values by name at any depth of objects and arrays', () => {
    const detail = { args: { name: 'x', password: 'p', input: { secrets: [{ name: 'A', value: 'v' }], env: [{ name: 'MODE', value: 'prod' }], privateKey: 'k', api_key: 'k' } } };
    assert.deepEqual(redacted(detail), { args: { name: 'x', password: HIDDEN, input: { secrets: HIDDEN, env: [{ name: 'MODE', value: HIDDEN }], privateKey: HIDDEN, api_key: HIDDEN } } });
  });

  it('looks inside JSON text: the proxy policy passed as a GraphQL String', () => {
    const policy = JSON.stringify({ auth: 'jwt', jwt: { algorithms: ['HS256'], secret: 'hs256-secret-0123456789' }, hsts: { maxAge: 60 } });
    const shown = redacted({ args: { app: 'shop', policy } }) as { args: { policy: string } };
    assert.ok(!shown.args.policy.includes('hs256-secret'), shown.args.policy);
    assert.deepEqual(JSON.parse(shown.args.policy), { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: HIDDEN }, hsts: { maxAge: 60 } });
    assert.deepEqual(redacted({ list: '[{"token": "t", "n": 1}]' }), { list: '[{"token":"(hidden)","n":1}]' });
  });

  it('hides all of a text that only starts like JSON and names a secret (a policy that failed to parse)', () => {
    assert.deepEqual(redacted({ policy: '{"jwt": {"secret": "hs256-secret-0123456789"' }), { policy: HIDDEN });
    assert.deepEqual(redacted({ policy: '{"balancer": "random"' }), { policy: '{"balancer": "random"' });
  });

  it("hides a URL's user and password, and PEM private keys, wherever they are", () => {
    assert.deepEqual(redacted({ repository: 'https://ci:glpat-123@git.example.net/team/shop.git' }), { repository: 'https://***@git.example.net/team/shop.git' });
    assert.deepEqual(redacted({ note: 'from ssh://git@host/x and http://plain/y' }), { note: 'from ssh://***@host/x and http://plain/y' });
    assert.deepEqual(redacted({ pem: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----' }), { pem: HIDDEN });
    assert.deepEqual(redacted({ publicKey: '-----BEGIN PUBLIC KEY-----\nabc' }), { publicKey: '-----BEGIN PUBLIC KEY-----\nabc' });
  });

  it('cuts nesting deeper than any real input instead of overflowing the stack', () => {
    let deep: unknown = 'bottom';
    for (let level = 0; level < 10_000; level++) deep = [deep];
    const shown = JSON.stringify(redacted({ deep }));
    assert.ok(shown.includes(HIDDEN) && !shown.includes('bottom'));
    const text = '['.repeat(5000) + ']'.repeat(5000);
    assert.ok(JSON.stringify(redacted({ text })).includes(HIDDEN));
  });
});

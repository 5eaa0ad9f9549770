import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertSafeKey, assertSafePrefix } from './object-store.js';

describe('object keys', () => {
  it('accepts ordinary keys up to 1023 bytes of UTF-8', () => {
    for (const key of ['a', 'logs/host/app.log/2026-01-01.log', 'with space/and-dash_under.score', 'a..b/c.d', 'é'.repeat(511)]) assertSafeKey(key);
  });

  it('refuses .. and . segments, a leading or trailing slash, empty segments, backslashes and control characters', () => {
    for (const key of ['', '..', '../a', 'a/../b', 'a/..', './a', '/a', 'a/', 'a//b', 'a\\b', 'a\nb', 'a\u0000', 'a\u007f']) {
      assert.throws(() => assertSafeKey(key), { status: 400, error: 'bad_key' }, JSON.stringify(key));
    }
  });

  it('counts bytes, not characters', () => {
    assert.throws(() => assertSafeKey('é'.repeat(512)), { status: 400 });
    assert.throws(() => assertSafeKey('x'.repeat(1024)), { status: 400 });
    assertSafeKey('x'.repeat(1023));
  });
});

describe('listing prefixes', () => {
  it('may be empty, end with /, or stop inside a segment', () => {
    for (const prefix of ['', 'logs/', 'logs/app1/', 'logs/app', 'logs/.hidden', 'a..b/', 'x'.repeat(1023)]) assertSafePrefix(prefix);
  });

  it('may end in . or .., the start of names such as .profile and ..b: the last segment is never walked', () => {
    for (const prefix of ['.', '..', 'a/.', 'a/..', 'logs/app1/.', 'logs/app1/..']) assertSafePrefix(prefix);
  });

  it('keep the key rules otherwise, as a 400 naming the prefix', () => {
    for (const prefix of ['../', './', '../x', 'a/./', 'a/../', 'logs/app1/../../../../etc/sh', 'logs/app1/../', 'logs/./x', '/etc/', 'a//b', 'a\\b', 'a\nb', 'x'.repeat(1024)]) {
      assert.throws(() => assertSafePrefix(prefix), { status: 400, field: 'prefix', message: /^prefix: / }, JSON.stringify(prefix));
    }
    assert.throws(() => assertSafePrefix(['a', 'b'] as unknown as string), { status: 400, field: 'prefix' });
  });
});

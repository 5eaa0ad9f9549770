import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertSafeKey } from './object-store.js';

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

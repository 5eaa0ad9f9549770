import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { domainSchema, isDomain } from './domains.js';

describe('domain names (RFC 1123, one leading wildcard)', () => {
  it('accepts host names and one leading *.', () => {
    for (const name of ['chat.app.example.net', 'localhost', 'a', '1password.com', 'x-y.example.net', '*.app.example.net', `${'a'.repeat(63)}.net`]) {
      assert.equal(isDomain(name), true, name);
    }
  });
  it('refuses empty labels, edge hyphens, inner or bare wildcards, other characters, over-long names', () => {
    for (const name of ['', '.', 'a..b', '-a.net', 'a-.net', '*', '*.', 'a.*.net', '*.*.net', '**.net', 'a_b.net', 'a b.net', 'ä.net', `${'a'.repeat(64)}.net`, `${'a.'.repeat(127)}ab`]) {
      assert.equal(isDomain(name), false, name);
    }
  });
  it('compares in lower case and drops the trailing dot', () => {
    assert.equal(domainSchema.parse('Chat.Example.NET.'), 'chat.example.net');
  });
});

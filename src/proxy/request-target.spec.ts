import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadTarget, originForm, targetAuthority } from './request-target.js';

describe('originForm', () => {
  it('gives back the very string when the path needs nothing', () => {
    for (const target of ['/', '/a/b', '/a/b/', '/a?x=//../%2f', '/a?x=\\', '/a.b/c.d', '/~user/x-y_z']) assert.equal(originForm(target), target);
  });

  it('decodes unreserved escapes, removes dot segments and merges slashes, as backends read the path', () => {
    const cases: [string, string][] = [
      ['//admin', '/admin'],
      ['/./admin', '/admin'],
      ['/x/../admin', '/admin'],
      ['/%61dmin', '/admin'],
      ['/%2E%2E/admin', '/admin'],
      ['/a/%2e/b', '/a/b'],
      ['/../../admin', '/admin'],
      ['/a//b///c', '/a/b/c'],
      ['/a/b/..', '/a/'],
      ['/a/b/.', '/a/b/'],
      ['/a/%7e%41', '/a/~A'],
      ['/a/%e2%82%ac', '/a/%E2%82%AC'],
      ['/a/%20b', '/a/%20b'],
      ['//a/./b?q=/./', '/a/b?q=/./'],
    ];
    for (const [target, expected] of cases) assert.equal(originForm(target), expected, target);
  });

  it('turns an absolute-form target into origin form', () => {
    assert.equal(originForm('http://other.test/abs?x=1'), '/abs?x=1');
    assert.equal(originForm('HTTP://other.test:8080'), '/');
    assert.equal(originForm('http://other.test?x'), '/?x');
    assert.equal(originForm('http://other.test//a/../admin'), '/admin');
  });

  it('refuses encoded slashes, backslashes, NUL and bad escapes', () => {
    for (const target of ['/a%2fb', '/a%2F..%2Fadmin', '/a%5cb', '/a%00', '/a%zz', '/a%4', 'ftp://x/', 'other.test/x', '/x\\..\\admin', '/x/..\\admin', '/a\\b', 'http://other.test/x\\..\\admin']) {
      assert.throws(() => originForm(target), BadTarget, target);
    }
  });
});

describe('targetAuthority', () => {
  it('reads the authority of an absolute-form target and nothing of origin form', () => {
    assert.equal(targetAuthority('/a'), null);
    assert.equal(targetAuthority('*'), null);
    assert.equal(targetAuthority('http://Other.Test:81/x'), 'Other.Test:81');
    assert.equal(targetAuthority('https://other.test?q'), 'other.test');
    assert.throws(() => targetAuthority('http://user@other.test/'), BadTarget);
    assert.throws(() => targetAuthority('http:///x'), BadTarget);
  });
});

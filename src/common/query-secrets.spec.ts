import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactQuerySecrets } from './query-secrets.js';

describe('redactQuerySecrets', () => {
  it('hides the values of credential parameters in any case and position, and nothing else', () => {
    assert.equal(redactQuerySecrets('/ws?token=abc.def'), '/ws?token=[redacted]');
    assert.equal(redactQuerySecrets('/cb?state=1&Access_Token=xyz&x=2#frag'), '/cb?state=1&Access_Token=[redacted]&x=2#frag');
    assert.equal(redactQuerySecrets('/o?X-Amz-Signature=00ff&X-Amz-Date=1'), '/o?X-Amz-Signature=[redacted]&X-Amz-Date=1');
    assert.equal(redactQuerySecrets('/search?q=token=abc&tokens=1'), '/search?q=token=abc&tokens=1');
    assert.equal(redactQuerySecrets('/token=abc'), '/token=abc');
    assert.equal(redactQuerySecrets('/plain/path'), '/plain/path');
  });
});

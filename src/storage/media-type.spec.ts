import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMediaType, MAX_MEDIA_TYPE_LENGTH } from './media-type.js';

describe('media types (RFC 9110 section 8.3.1)', () => {
  it('takes type/subtype with token or quoted-string parameters', () => {
    for (const value of [
      'text/plain',
      'application/vnd.api+json',
      'text/plain; charset=utf-8',
      'text/plain;charset=UTF-8',
      'text/plain ;\tcharset="utf-8"',
      'multipart/form-data; boundary="a b;c=\\"d\\""',
      'text/plain;',
      "x-my/type!#$%&'*+-.^_`|~09",
    ]) {
      assert.ok(isMediaType(value), value);
    }
  });

  it('refuses CR LF, bare words, missing subtypes, bad parameters, non-ASCII and the over-long', () => {
    for (const value of [
      '',
      'text/html\r\nX-Injected: 1',
      'text/html\n',
      'html',
      'text/',
      '/html',
      'text/html/x',
      ' text/html',
      'text/html charset=utf-8',
      'text/html; charset',
      'text/html; charset=',
      'text/html; charset="unterminated',
      'text/html; a=b c',
      'text/html, text/plain',
      'text/plain; charset=ütf-8',
      'text/\u0000',
      `text/${'x'.repeat(MAX_MEDIA_TYPE_LENGTH)}`,
    ]) {
      assert.ok(!isMediaType(value), JSON.stringify(value));
    }
  });
});

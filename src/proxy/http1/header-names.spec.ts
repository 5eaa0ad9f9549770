import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderKind, headerKind } from './header-names.js';

describe('headerKind', () => {
  it('knows the names the proxy acts on in any case', () => {
    for (const name of ['Connection', 'CONNECTION', 'connection']) assert.equal(headerKind(name), HeaderKind.Connection);
    assert.equal(headerKind('Transfer-Encoding'), HeaderKind.TransferEncoding);
    assert.equal(headerKind('X-Forwarded-For'), HeaderKind.ForwardedFor);
    assert.equal(headerKind('x-dozen-SUBJECT'), HeaderKind.ProxySet);
    assert.equal(headerKind('Keep-Alive'), HeaderKind.KeepAlive);
    assert.equal(headerKind('TE'), HeaderKind.HopByHop);
    assert.equal(headerKind('Proxy-Authorization'), HeaderKind.HopByHop);
  });

  it('passes other names of the same lengths untouched', () => {
    for (const name of ['User-Agent', 'Content-Type', 'Accept', 'Date', 'Referer', 'X-Request-Ix', 'te-', 'Content-Lengtx', 'x-forwarded-fox']) {
      assert.equal(headerKind(name), HeaderKind.Plain, name);
    }
  });

  it('names the underscore spellings of the names it acts on, so requests can drop them', () => {
    for (const name of ['X_Dozen_Subject', 'Transfer_Encoding', 'content_length', 'X_Forwarded_For']) assert.equal(headerKind(name), HeaderKind.Underscored, name);
    assert.equal(headerKind('X_Custom_Name'), HeaderKind.Plain);
  });
});

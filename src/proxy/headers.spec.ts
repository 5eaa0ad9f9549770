import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadHead, downstreamHeaders, requestFraming } from './headers.js';

describe('downstreamHeaders', () => {
  it('drops hop-by-hop headers, those Connection names (before or after it) and the backend X-Request-Id', () => {
    const raw = ['X-Hop', '1', 'Connection', 'close, X-Hop, x-later', 'Content-Length', '2', 'Keep-Alive', 'timeout=5', 'X-Request-Id', 'backend', 'x-later', '3', 'Server', 'nginx'];
    const { lines, hasLength } = downstreamHeaders(raw, 'proxy-id');
    assert.equal(lines, 'Content-Length: 2\r\nServer: nginx\r\nx-request-id: proxy-id\r\n');
    assert.equal(hasLength, true);
  });

  it('drops the headers every Connection field names, not only the last one (RFC 9110 7.6.1)', () => {
    const raw = ['Connection', 'X-Secret', 'X-Secret', 'token', 'Connection', 'X-Other', 'X-Other', 'x', 'Server', 'nginx'];
    assert.equal(downstreamHeaders(raw, 'id').lines, 'Server: nginx\r\nx-request-id: id\r\n');
  });

  it('says when the backend sent no length', () => {
    assert.equal(downstreamHeaders(['Transfer-Encoding', 'chunked', 'Connection', 'keep-alive'], 'id').hasLength, false);
    assert.equal(downstreamHeaders(['Transfer-Encoding', 'chunked', 'Connection', 'keep-alive'], 'id').lines, 'x-request-id: id\r\n');
  });
});

describe('requestFraming', () => {
  it('reads a request body framing from Content-Length and a coding list ending in chunked', () => {
    assert.equal(requestFraming(null, null), 'none');
    assert.equal(requestFraming(null, '0'), 'none');
    assert.equal(requestFraming(null, '000'), 'none');
    assert.equal(requestFraming(null, '12'), 'length');
    assert.equal(requestFraming('chunked', null), 'chunked');
    assert.equal(requestFraming('gzip, Chunked', null), 'chunked');
  });

  it('refuses both headers, a list not ending in one chunked, and unknown codings', () => {
    for (const [coding, length] of [['chunked', '3'], ['xchunked', null], ['identity', null], ['chunked, gzip', null], ['chunked, chunked', null], ['foo, chunked', null]] as const) {
      assert.throws(() => requestFraming(coding, length), BadHead, coding);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentDisposition, downloadHeaders } from './download-headers.js';

describe('download headers', () => {
  it('serve only plain text and raster images inline; HTML, SVG, scripts, PDF and the unknown as attachments', () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'IMAGE/PNG', 'image/jpeg', 'image/webp']) {
      assert.match(downloadHeaders('a/b', type)['content-disposition'], /^inline;/, type);
    }
    for (const type of ['text/html', 'text/html; charset=utf-8', 'image/svg+xml', 'application/xhtml+xml', 'text/xml', 'application/javascript', 'application/pdf', 'application/octet-stream', 'x/y']) {
      assert.match(downloadHeaders('a/b', type)['content-disposition'], /^attachment;/, type);
    }
  });

  it('always forbid sniffing and scripts, and keep the stored content type', () => {
    const headers = downloadHeaders('logs/app1/report.txt', 'text/html');
    assert.equal(headers['content-type'], 'text/html');
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.match(headers['content-security-policy'], /\bsandbox\b/);
    assert.match(headers['content-security-policy'], /default-src 'none'/);
  });

  it('name the file by the key\'s last segment, UTF-8 in filename* and an ASCII fallback in filename (RFC 6266, 8187)', () => {
    assert.equal(contentDisposition('attachment', 'report.txt'), `attachment; filename="report.txt"; filename*=UTF-8''report.txt`);
    assert.equal(contentDisposition('attachment', '报告 (1).svg'), `attachment; filename="__ (1).svg"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%20%281%29.svg`);
    // Quotes, backslashes and percent signs cannot break out of the quoted string or be decoded by a client.
    assert.equal(contentDisposition('inline', `a"b\\c%41'*.txt`), `inline; filename="a_b_c_41'*.txt"; filename*=UTF-8''a%22b%5Cc%2541%27%2A.txt`);
  });
});

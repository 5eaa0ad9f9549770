import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runCli } from './support/cli.js';

describe('client commands that cannot reach dozen', { timeout: 60_000 }, () => {
  let plain: Server;
  let httpsUrl: string;
  let connections = 0;
  before(async () => {
    plain = createServer((_request, response) => response.end('{}'));
    plain.on('connection', () => connections++);
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    httpsUrl = `https://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  });
  after(() => plain?.close());

  it('say in one line that an https:// URL met a plain-HTTP server, without OpenSSL text, and do not retry it', async () => {
    const listed = await runCli(['user', 'list'], { DOZEN_URL: httpsUrl, DOZEN_TOKEN: 'x' });
    assert.equal(listed.code, 1, listed.stderr);
    assert.equal(listed.stderr, `dozen: cannot reach dozen at ${httpsUrl}: TLS handshake failed (wrong version number: is it plain HTTP? try http://)\n`);
    // Not retried: a handshake that failed fails again (five retries waited about 8 s for the same line).
    assert.equal(connections, 1);
    const registered = await runCli(['register', '--app', 'blog', '--port', '3000', '--server', httpsUrl, '--token', 'x']);
    assert.equal(registered.code, 1, registered.stderr);
    assert.equal(registered.stderr, `dozen: ${httpsUrl} did not answer: TLS handshake failed (wrong version number: is it plain HTTP? try http://)\n`);
  });
});

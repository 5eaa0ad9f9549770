/**
 * proxy.tls.defaultDomain: the certificate a client gets when its SNI names none. Two kinds of client
 * need it: one whose SNI names a domain no certificate covers, and one that sends no SNI at all, as
 * curl and Node do for an address in the URL (RFC 6066 allows no address as a server name) and as
 * many load balancers' health checks do. The second never reaches the SNI callback: OpenSSL answers
 * it from the listener's own context.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { requireBinary } from '../support/debian.js';
import { runToEnd, type RunResult } from '../support/run-to-end.js';
import { ENGINES, sharedTestCa, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

interface Handshake {
  /** The served certificate's serial number (none on a resumed session or a failed handshake). */
  serial?: string;
  /** What ended the connection with an error (a failed handshake). */
  error?: string;
  answer: string;
  /** The server resumed the session offered; the last session (ticket) it sent. */
  reused: boolean;
  session?: Buffer;
}

/** A TLS connection to the proxy sending `servername` as SNI (none when undefined) and offering session `offered`, then one request for web.example.net. */
function handshake(port: number, servername: string | undefined, offered?: Buffer): Promise<Handshake> {
  return new Promise((resolve) => {
    // Node sends no SNI when it has no servername and the host is an address.
    const socket = connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), session: offered, ca: sharedTestCa().caPem, checkServerIdentity: () => undefined }, () => {
      // A resumed session shows no certificate: the first connection's is the one it resumed.
      serial = socket.getPeerX509Certificate()?.serialNumber;
      reused = socket.isSessionReused();
      socket.write('GET / HTTP/1.1\r\nHost: web.example.net\r\nConnection: close\r\n\r\n');
    });
    let serial: string | undefined;
    let reused = false;
    let session: Buffer | undefined;
    let answer = '';
    let error: string | undefined;
    socket.on('session', (ticket: Buffer) => (session = ticket));
    socket.on('data', (chunk: Buffer) => (answer += chunk));
    socket.on('error', (failure: Error) => (error = failure.message));
    socket.on('close', () => resolve({ serial, error, answer, reused, session }));
  });
}

/** curl to `https://127.0.0.1:<port>/`: an address, so curl sends no SNI (and, no name to check, --insecure; the Node client above checks the certificate). */
function curlByAddress(curl: string, port: number): Promise<RunResult> {
  return runToEnd(curl, ['-sS', '--insecure', '--max-time', '10', '-H', 'Host: web.example.net', '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${port}/`]);
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

for (const engine of ENGINES) {
  describe(`proxy.tls.defaultDomain (${engine} engine)`, { timeout: 60_000 }, () => {
    const curl = requireBinary('curl', 'curl');
    let web: TestBackend;
    let withDefault: TestProxy;
    let withoutDefault: TestProxy;
    // A certificate of the test CA for the default domain alone, apart from the helpers' one for every test domain.
    const own = sharedTestCa().issue(['fallback.example.com'], { name: 'default-domain' });

    before(async () => {
      web = await startBackend('web-1');
      withDefault = await startProxy({ engine, https: true, tls: { host: '127.0.0.1', port: 0, defaultDomain: 'fallback.example.com' } });
      withoutDefault = await startProxy({ engine, https: true });
      for (const proxy of [withDefault, withoutDefault]) proxy.source.set([{ app: 'web', domains: ['web.example.net'], backends: [web.as('web')] }]);
      withDefault.server.applyCertificates({ kind: 'put', entry: { domains: ['fallback.example.com'], certPem: own.certPem, keyPem: own.keyPem, source: 'files' } });
    });
    after(async () => {
      await Promise.all([withDefault?.close(), withoutDefault?.close()]);
      await web?.close();
    });

    it('a client without SNI, and one naming a domain no certificate covers, get the default domain\'s certificate', async () => {
      for (const servername of [undefined, 'unknown.example.info']) {
        const shaken = await handshake(withDefault.port, servername);
        assert.equal(shaken.error, undefined, `SNI ${servername ?? 'none'}`);
        assert.equal(shaken.serial, serialOf(own.certPem), `SNI ${servername ?? 'none'}`);
        assert.match(shaken.answer, /^HTTP\/1\.1 200/, 'the request is routed by its Host as any other');
      }
      const byAddress = await curlByAddress(curl, withDefault.port);
      assert.equal(byAddress.status, 0, byAddress.stderr);
      assert.equal(byAddress.stdout, '200');
      // A covered name still gets its own certificate.
      const covered = await handshake(withDefault.port, 'web.example.net');
      assert.notEqual(covered.serial, serialOf(own.certPem));
      assert.match(covered.answer, /^HTTP\/1\.1 200/);
    });

    it('without a default domain, such clients fail the handshake', async () => {
      for (const servername of [undefined, 'unknown.example.info']) {
        const shaken = await handshake(withoutDefault.port, servername);
        assert.equal(shaken.serial, undefined, `SNI ${servername ?? 'none'}`);
        assert.match(shaken.error ?? '', /handshake failure|alert/i, `SNI ${servername ?? 'none'}`);
      }
      assert.notEqual((await curlByAddress(curl, withoutDefault.port)).status, 0);
    });

    it('follows the default domain\'s certificate when it is replaced, and fails without SNI once it is removed', async () => {
      const renewed = sharedTestCa().issue(['fallback.example.com'], { name: 'default-domain-renewed' });
      withDefault.server.applyCertificates({ kind: 'put', entry: { domains: ['fallback.example.com'], certPem: renewed.certPem, keyPem: renewed.keyPem, source: 'files' } });
      // The certificate book reaches a worker over IPC; in this process it is applied at once.
      const first = await handshake(withDefault.port, undefined);
      assert.equal(first.serial, serialOf(renewed.certPem));
      // The listener's new context keeps the shared ticket keys: a client without SNI resumes its session.
      assert.ok(first.session, 'a session ticket');
      const resumed = await handshake(withDefault.port, undefined, first.session);
      assert.equal(resumed.reused, true, resumed.error);
      assert.match(resumed.answer, /^HTTP\/1\.1 200/);
      withDefault.server.applyCertificates({ kind: 'remove', domain: 'fallback.example.com' });
      const removed = await handshake(withDefault.port, undefined);
      assert.equal(removed.serial, undefined);
      assert.match(removed.error ?? '', /handshake failure|alert/i);
      const stillServed = await handshake(withDefault.port, 'web.example.net');
      assert.match(stillServed.answer, /^HTTP\/1\.1 200/);
    });
  });
}

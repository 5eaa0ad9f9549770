import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import * as acme from 'acme-client';
import { TLS_ALPN_CHALLENGE } from '../../src/proxy/tls/served-certificates.js';
import { call, ENGINES, sharedTestCa, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

/**
 * ACME's TLS-ALPN-01 (RFC 8737) at the TLS listener, on both engines: a validator offering
 * `acme-tls/1` gets the pending challenge's certificate over TLS 1.3 (ALPN is chosen before the
 * certificate; over TLS 1.2 it comes after, and the protocol is refused); everyone else gets the
 * domain's own certificate and never that protocol. The whole order against pebble is in acme-tls-alpn.test.ts.
 */
const DOMAIN = 'shop.example.net';
/** RFC 8737 section 3: the acmeIdentifier extension, holding the SHA-256 of the key authorization. */
const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

interface Handshake {
  protocol: string | false | null;
  certificate: X509Certificate;
  socket: TLSSocket;
}

function handshake(port: number, servername: string, protocols: string[], maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    // The challenge's certificate is self-signed: the validator checks its extension, not a chain.
    const socket = connect({ host: '127.0.0.1', port, servername, ALPNProtocols: protocols, maxVersion, rejectUnauthorized: false }, () =>
      resolve({ protocol: socket.alpnProtocol, certificate: socket.getPeerX509Certificate()!, socket }),
    );
    socket.once('error', reject);
  });
}

for (const engine of ENGINES) {
  describe(`TLS-ALPN-01 challenges at the TLS listener (${engine} engine)`, () => {
    let proxy: TestProxy;
    let backend: TestBackend;
    const keyAuthorization = 'token-abc.thumbprint-xyz';

    before(async () => {
      backend = await startBackend('shop-1');
      proxy = await startProxy({ engine, https: true });
      proxy.source.set([{ app: 'shop', domains: [DOMAIN], backends: [{ instance: 'shop-1', app: 'shop', address: '127.0.0.1', port: backend.port, host: 'h', load: null }] }]);
    });
    after(async () => {
      await proxy?.close();
      await backend?.close();
    });

    it('with no challenge pending, acme-tls/1 alone is refused (no_application_protocol); HTTP clients are unaffected', async () => {
      await assert.rejects(handshake(proxy.port, DOMAIN, ['acme-tls/1'], 'TLSv1.3'), { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
      const answer = await call(proxy.port, DOMAIN, '/before');
      assert.equal(answer.status, 200, answer.text);
    });

    it('while a challenge is pending, a validator gets its certificate over TLS 1.3 (refused over 1.2); the others get the domain\'s own', async () => {
      const [keyPem, certPem] = await acme.crypto.createAlpnCertificate({ identifier: { type: 'dns', value: DOMAIN } } as acme.Authorization, keyAuthorization, await acme.crypto.createPrivateEcdsaKey('P-256'));
      const token = TLS_ALPN_CHALLENGE + DOMAIN;
      proxy.server.applyCertificates({ kind: 'challenge', token, keyAuthorization: keyPem.toString() + certPem.toString() });
      const expected = createHash('sha256').update(keyAuthorization).digest();
      const validation = await handshake(proxy.port, DOMAIN, ['acme-tls/1'], 'TLSv1.3');
      assert.equal(validation.protocol, 'acme-tls/1');
      assert.equal(validation.certificate.subjectAltName, `DNS:${DOMAIN}`);
      assert.ok(acme.crypto.isAlpnCertificateAuthorizationValid(validation.certificate.toString(), keyAuthorization), `the certificate must carry SHA-256(key authorization) in ${ACME_IDENTIFIER_OID}`);
      assert.ok(validation.certificate.raw.includes(expected));
      // No HTTP after a validation handshake (RFC 8737 section 3): the proxy ends the connection.
      await new Promise((resolve) => validation.socket.once('close', resolve).resume());
      await assert.rejects(handshake(proxy.port, DOMAIN, ['acme-tls/1'], 'TLSv1.2'), { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });

      for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
        const browser = await handshake(proxy.port, DOMAIN, ['h2', 'http/1.1'], version);
        assert.equal(browser.protocol, 'http/1.1', version);
        assert.ok(browser.certificate.checkIssued(new X509Certificate(sharedTestCa().caPem)), `${version}: an HTTP client gets the domain's own certificate`);
        browser.socket.end();
      }
      // Another domain has no challenge: refused, even though its certificate is held.
      await assert.rejects(handshake(proxy.port, 'www.example.net', ['acme-tls/1'], 'TLSv1.3'), { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
      // The challenge's key never leaks through HTTP-01's path.
      const probe = await call(proxy.plainPort, DOMAIN, `/.well-known/acme-challenge/${encodeURIComponent(token)}`);
      assert.ok(!probe.text.includes('PRIVATE KEY'), probe.text);

      proxy.server.applyCertificates({ kind: 'challenge-removed', token });
      await assert.rejects(handshake(proxy.port, DOMAIN, ['acme-tls/1'], 'TLSv1.3'), { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
    });
  });
}

import type { SecureContext, Server, TLSSocket, TlsOptions } from 'node:tls';
import { OcspStapler } from './ocsp.js';
import { contextOptions, TLS_PROTOCOL, type ServedCertificates } from './served-certificates.js';

/**
 * The options of a TLS listener serving `certificates`: TLS 1.2 and 1.3
 * only, Mozilla's intermediate suites, the certificate picked by SNI (exact
 * name, then wildcard), session tickets with the keys the primary shares with
 * every worker (so a session resumes on whichever worker the next connection
 * reaches), and by ALPN HTTP/1.1, with HTTP/2 first when `http2` (proxy.tls.http2, h2/). A client that sends no SNI, or a name no
 * certificate covers, gets proxy.tls.defaultDomain's certificate, else fails
 * the handshake (no other certificate would be the right one).
 *
 * ACME's TLS-ALPN-01 (RFC 8737): a validator offers `acme-tls/1`; while a challenge for its SNI
 * name is pending, it gets that protocol and the challenge's certificate, else the handshake fails
 * (no_application_protocol). Over TLS 1.3 only: there OpenSSL chooses ALPN before the certificate,
 * so the SNI callback can answer with the challenge's; TLS 1.2 chooses the certificate first (and on a
 * first issue there is none to choose). Validators speak 1.3 (Let's Encrypt's, pebble: Go's TLS).
 */
export function tlsServerOptions(certificates: ServedCertificates, http2 = false): TlsOptions {
  const protocols = http2 ? ['h2', 'http/1.1'] : ['http/1.1'];
  return {
    ...TLS_PROTOCOL,
    SNICallback(this: ChallengedSocket, servername, done) {
      const challenge = this[CHALLENGE];
      this[CHALLENGE] = null; // the certificate is chosen: under TLS 1.2, ALPN comes after this
      done(null, challenge ?? certificates.contextFor(servername));
    },
    ALPNCallback(this: ChallengedSocket, { servername, protocols: offered }) {
      if (offered.includes(ACME_TLS_1)) {
        const challenge = this[CHALLENGE] === null ? undefined : certificates.challengeContextFor(servername || '');
        if (!challenge) return undefined;
        this[CHALLENGE] = challenge;
        return ACME_TLS_1;
      }
      // The server's order (h2 first), as ALPNProtocols chose; none in common: no_application_protocol.
      return protocols.find((protocol) => offered.includes(protocol));
    },
    ticketKeys: certificates.ticketKeys,
  } as TlsOptions;
}

/** RFC 8737's ALPN protocol: the connection is a TLS-ALPN-01 validation, closed once its handshake is done. */
export const ACME_TLS_1 = 'acme-tls/1';
const CHALLENGE = Symbol('dozen.tlsAlpnChallenge');
/** The challenge's certificate once ALPN chose `acme-tls/1`; null once SNI chose a certificate (too late for one). */
type ChallengedSocket = TLSSocket & { [CHALLENGE]?: SecureContext | null };

/**
 * What both engines do with their TLS server: ticket keys follow the primary's, and tickets are renewed at
 * resumption where this Node lets them be (tls/ticket-renewal.ts); OCSP responses are stapled when asked for (tls/ocsp.ts).
 */
export function runTlsServer(server: Server, certificates: ServedCertificates, ocspStapling: boolean): void {
  certificates.onTicketKeys((keys) => server.setTicketKeys(keys));
  certificates.renewal.hookServer(server);
  // A client without SNI gets the listener's own context: proxy.tls.defaultDomain's certificate, else none (the
  // handshake fails). A new context needs the ticket keys and the renewal hook again.
  certificates.onDefaultCertificate((pems) => {
    server.setSecureContext(contextOptions(pems, certificates.ticketKeys));
    certificates.renewal.hookServer(server);
  });
  // A failed handshake (no SNI, an unknown name, TLS 1.1) is the client's problem. node:tls closes the socket
  // itself after an OpenSSL error, but after its handshake timeout it only reports: a client that never sent
  // a ClientHello stayed connected for good (a slow-loris on the TLS port).
  server.on('tlsClientError', destroySocket);
  if (!ocspStapling) return;
  const stapler = new OcspStapler();
  server.on('OCSPRequest', (certificate: Buffer, issuer: Buffer | null, done: (error: Error | null, response: Buffer | null) => void) => {
    stapler.staple(certificate, issuer).then(
      (response) => done(null, response),
      () => done(null, null),
    );
  });
}

function destroySocket(_error: Error, socket: TLSSocket): void {
  socket.destroy();
}

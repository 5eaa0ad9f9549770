import type { Server, TlsOptions } from 'node:tls';
import { OcspStapler } from './ocsp.js';
import { TLS_PROTOCOL, type ServedCertificates } from './served-certificates.js';

/**
 * The options of a TLS listener serving `certificates`: TLS 1.2 and 1.3
 * only, Mozilla's intermediate suites, the certificate picked by SNI (exact
 * name, then wildcard), session tickets with the keys the primary shares with
 * every worker (so a session resumes on whichever worker the next connection
 * reaches), and by ALPN HTTP/1.1, with HTTP/2 first when `http2` (proxy.tls.http2, h2/). A client that sends no SNI, or a name no
 * certificate covers, fails the handshake (no default certificate would be
 * the right one).
 */
export function tlsServerOptions(certificates: ServedCertificates, http2 = false): TlsOptions {
  return {
    ...TLS_PROTOCOL,
    SNICallback: (servername, done) => done(null, certificates.contextFor(servername)),
    ticketKeys: certificates.ticketKeys,
    ALPNProtocols: http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
  };
}

/**
 * What both engines do with their TLS server: ticket keys follow the primary's, and tickets are renewed at
 * resumption where this Node lets them be (tls/ticket-renewal.ts); OCSP responses are stapled when asked for (tls/ocsp.ts).
 */
export function runTlsServer(server: Server, certificates: ServedCertificates, ocspStapling: boolean): void {
  certificates.onTicketKeys((keys) => server.setTicketKeys(keys));
  certificates.renewal.hookServer(server);
  // A failed handshake (no SNI, an unknown name, TLS 1.1) is the client's problem: node:tls closes the socket.
  server.on('tlsClientError', noop);
  if (!ocspStapling) return;
  const stapler = new OcspStapler();
  server.on('OCSPRequest', (certificate: Buffer, issuer: Buffer | null, done: (error: Error | null, response: Buffer | null) => void) => {
    stapler.staple(certificate, issuer).then(
      (response) => done(null, response),
      () => done(null, null),
    );
  });
}

function noop(): void {}

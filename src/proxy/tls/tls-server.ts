import type { TlsOptions } from 'node:tls';
import { TLS_PROTOCOL, type ServedCertificates } from './served-certificates.js';

/**
 * The options of a TLS listener serving `certificates`: TLS 1.2 and 1.3
 * only, Mozilla's intermediate suites, the certificate picked by SNI (exact
 * name, then wildcard), session tickets with the keys the primary shares with
 * every worker (so a session resumes on whichever worker the next connection
 * reaches), and HTTP/1.1 by ALPN. A client that sends no SNI, or a name no
 * certificate covers, fails the handshake (no default certificate would be
 * the right one).
 */
export function tlsServerOptions(certificates: ServedCertificates): TlsOptions {
  return {
    ...TLS_PROTOCOL,
    SNICallback: (servername, done) => done(null, certificates.contextFor(servername)),
    ticketKeys: certificates.ticketKeys,
    ALPNProtocols: ['http/1.1'],
  };
}

/** What both engines' TLS servers are: a tls.Server whose ticket keys follow the primary's. */
export function followTicketKeys(server: { setTicketKeys(keys: Buffer): void }, certificates: ServedCertificates): void {
  certificates.onTicketKeys((keys) => server.setTicketKeys(keys));
}

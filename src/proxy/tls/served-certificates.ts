import { constants, randomBytes } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { BookChange } from './certificate-book.js';
import { normalDomain } from './pem.js';
import { TicketRenewal } from './ticket-renewal.js';

/**
 * Mozilla's "intermediate" TLS 1.2 suites (ssl-config.mozilla.org, v5.7),
 * forward-secret AEAD only; TLS 1.3 suites are OpenSSL's defaults, all
 * modern. The DHE suites are left out: no DH parameters are configured.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * TLS settings every context shares: versions 1.2 and 1.3 only, the cipher list above, and no
 * renegotiation. A TLS 1.2 client may ask to renegotiate, each time making the server do a whole
 * handshake on a connection it already has (a DoS lever); Node allows 3 per 10 minutes, nginx none.
 * OpenSSL then answers the client's new ClientHello with a no_renegotiation alert.
 */
export const TLS_PROTOCOL = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: TLS12_CIPHERS, honorCipherOrder: false, secureOptions: constants.SSL_OP_NO_RENEGOTIATION } as const;

/**
 * A pending challenge whose "token" starts with this is a TLS-ALPN-01 one (RFC 8737) for the domain
 * after it, and its value the PEM key and certificate to answer with; the others are HTTP-01 tokens
 * (base64url, which has no `:`) and their key authorizations.
 */
export const TLS_ALPN_CHALLENGE = 'tls-alpn-01:';

/**
 * A worker's view of the certificate book: one SecureContext per
 * certificate, reached by domain (SNI: the exact name, then the wildcard one
 * label up), the pending ACME HTTP-01 key authorizations, and the pending
 * TLS-ALPN-01 certificates (by exact domain).
 */
export class ServedCertificates {
  private readonly contexts = new Map<string, Served>();
  private readonly challenges = new Map<string, string>();
  private readonly alpnChallenges = new Map<string, SecureContext>();
  private readonly ticketListeners = new Set<(keys: Buffer) => void>();
  private readonly defaultListeners = new Set<(certificate: CertificatePems | null) => void>();
  /** The certificate that covers the default domain now (what the listeners were last told). */
  private defaultServed: Served | null = null;
  /** Session-ticket keys: the primary's once it sent them (until then, this process's own). */
  ticketKeys: Buffer = randomBytes(48);
  /** Seals and opens tickets with those keys for every context, renewing them at resumption (ticket-renewal.ts). */
  readonly renewal = new TicketRenewal(this.ticketKeys);

  /** `defaultDomain`: whose certificate a client gets when its SNI names none (an address, an unknown name); none by default. */
  constructor(private readonly defaultDomain: string | null = null) {}

  apply(change: BookChange): void {
    switch (change.kind) {
      case 'put': {
        const served = new Served({ cert: change.entry.certPem, key: change.entry.keyPem }, this.ticketKeys, this.renewal);
        for (const domain of change.entry.domains) this.contexts.set(domain, served);
        this.defaultMayHaveChanged();
        break;
      }
      case 'ticket-keys': {
        this.ticketKeys = Buffer.from(change.keys, 'base64');
        this.renewal.setKeys(this.ticketKeys);
        // SNI swaps the connection's context, and the ticket keys used are the swapped-in context's: every context gets them.
        for (const served of new Set(this.contexts.values())) served.rekey(this.ticketKeys);
        for (const listener of this.ticketListeners) listener(this.ticketKeys);
        break;
      }
      case 'remove':
        this.contexts.delete(change.domain);
        this.defaultMayHaveChanged();
        break;
      case 'challenge':
        if (!change.token.startsWith(TLS_ALPN_CHALLENGE)) this.challenges.set(change.token, change.keyAuthorization);
        else this.putAlpnChallenge(change.token.slice(TLS_ALPN_CHALLENGE.length), change.keyAuthorization);
        break;
      case 'challenge-removed':
        if (!change.token.startsWith(TLS_ALPN_CHALLENGE)) this.challenges.delete(change.token);
        else this.alpnChallenges.delete(normalDomain(change.token.slice(TLS_ALPN_CHALLENGE.length)));
        break;
    }
  }

  /** The context for an SNI name: exact, then `*.` + the name less its first label, then the default domain's; undefined when none. */
  contextFor(servername: string): SecureContext | undefined {
    return (this.lookup(normalDomain(servername)) ?? this.defaultServed ?? undefined)?.context;
  }

  private lookup(name: string): Served | undefined {
    const exact = this.contexts.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    return dot > 0 ? this.contexts.get(`*${name.slice(dot)}`) : undefined;
  }

  /**
   * Calls `listener` with the default domain's certificate now (when there is one) and whenever another
   * one covers it (null: none does). A client that sends no SNI at all (an address in its URL, as curl
   * and many health checks) never reaches the SNI callback: OpenSSL answers it from the listener's own
   * context, which must then hold this certificate (tls-server.ts).
   */
  onDefaultCertificate(listener: (certificate: CertificatePems | null) => void): void {
    this.defaultListeners.add(listener);
    if (this.defaultServed) listener(this.defaultServed.pems);
  }

  private defaultMayHaveChanged(): void {
    if (this.defaultDomain === null) return;
    const served = this.lookup(this.defaultDomain) ?? null;
    if (served === this.defaultServed) return;
    this.defaultServed = served;
    for (const listener of this.defaultListeners) listener(served?.pems ?? null);
  }

  /** The certificate answering a TLS-ALPN-01 validation of `servername` while one is pending, or undefined. */
  challengeContextFor(servername: string): SecureContext | undefined {
    return this.alpnChallenges.get(normalDomain(servername));
  }

  /** The key authorization for an HTTP-01 token, or undefined. */
  keyAuthorization(token: string): string | undefined {
    return this.challenges.get(token);
  }

  private putAlpnChallenge(domain: string, pem: string): void {
    try {
      // One PEM holding the key and the certificate: OpenSSL reads each kind and skips the other.
      this.alpnChallenges.set(normalDomain(domain), createSecureContext({ ...TLS_PROTOCOL, cert: pem, key: pem }));
    } catch {
      // Not a key and certificate (a stray catalog entry): nothing to answer with, the validation fails.
      this.alpnChallenges.delete(normalDomain(domain));
    }
  }

  /** Calls `listener` with new session-ticket keys (the TLS server's own context takes them). */
  onTicketKeys(listener: (keys: Buffer) => void): void {
    this.ticketListeners.add(listener);
  }
}

/** A certificate chain and its key, PEM. */
export interface CertificatePems {
  cert: string;
  key: string;
}

/** The options of every context serving `pems` (none: a context without a certificate), sealing tickets with `ticketKeys`. */
export function contextOptions(pems: CertificatePems | null, ticketKeys: Buffer): SecureContextOptions {
  return { ...TLS_PROTOCOL, ...pems, ticketKeys } as SecureContextOptions;
}

/** One certificate's SecureContext, remade when the ticket keys change (Node's own ticket callback reads them from the context). */
class Served {
  context: SecureContext;

  constructor(
    readonly pems: CertificatePems,
    ticketKeys: Buffer,
    private readonly renewal: TicketRenewal,
  ) {
    this.context = this.make(ticketKeys);
  }

  rekey(ticketKeys: Buffer): void {
    this.context = this.make(ticketKeys);
  }

  private make(ticketKeys: Buffer): SecureContext {
    return servingContext(this.pems, ticketKeys, this.renewal);
  }
}

/** A context serving `pems` (null: none), its tickets sealed with `ticketKeys` and renewed at resumption (ticket-renewal.ts). */
export function servingContext(pems: CertificatePems | null, ticketKeys: Buffer, renewal: TicketRenewal): SecureContext {
  const context = createSecureContext(contextOptions(pems, ticketKeys));
  renewal.hookContext(context);
  return context;
}

import { createSecureContext, type SecureContext } from 'node:tls';
import type { BookChange } from './certificate-book.js';
import { normalDomain } from './pem.js';

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

/** TLS settings every context shares: versions 1.2 and 1.3 only, the cipher list above. */
export const TLS_PROTOCOL = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: TLS12_CIPHERS, honorCipherOrder: false } as const;

/**
 * A worker's view of the certificate book: one SecureContext per
 * certificate, reached by domain (SNI: the exact name, then the wildcard one
 * label up), and the pending ACME HTTP-01 key authorizations.
 */
export class ServedCertificates {
  private readonly contexts = new Map<string, { context: SecureContext; certPem: string }>();
  private readonly challenges = new Map<string, string>();
  private readonly changed = new Set<() => void>();

  apply(change: BookChange): void {
    switch (change.kind) {
      case 'put': {
        const served = { context: createSecureContext({ ...TLS_PROTOCOL, cert: change.entry.certPem, key: change.entry.keyPem }), certPem: change.entry.certPem };
        for (const domain of change.entry.domains) this.contexts.set(domain, served);
        break;
      }
      case 'remove':
        this.contexts.delete(change.domain);
        break;
      case 'challenge':
        this.challenges.set(change.token, change.keyAuthorization);
        break;
      case 'challenge-removed':
        this.challenges.delete(change.token);
        break;
    }
    for (const listener of this.changed) listener();
  }

  /** The context for an SNI name: exact, then `*.` + the name less its first label; undefined when none. */
  contextFor(servername: string): SecureContext | undefined {
    const name = normalDomain(servername);
    const exact = this.contexts.get(name);
    if (exact) return exact.context;
    const dot = name.indexOf('.');
    return dot > 0 ? this.contexts.get(`*${name.slice(dot)}`)?.context : undefined;
  }

  /** The key authorization for an HTTP-01 token, or undefined. */
  keyAuthorization(token: string): string | undefined {
    return this.challenges.get(token);
  }

  get size(): number {
    return this.contexts.size;
  }

  /** Calls `listener` after every change (the TLS listener refreshes its default context). */
  onChange(listener: () => void): void {
    this.changed.add(listener);
  }
}

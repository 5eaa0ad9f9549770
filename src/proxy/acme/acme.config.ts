import { z } from 'zod';
import { secret } from '../../config/secret.js';

const seconds = (fallback: number) => z.number({ error: 'expected seconds (a whole number)' }).int().min(1).default(fallback);

/**
 * `proxy.tls.acme`: certificates issued over ACME (RFC 8555) for the domains of apps whose policy
 * says `tls: auto`. Absent: no ACME on this host (it still serves the certificates other hosts issued).
 */
export const acmeConfig = z
  .strictObject({
    /** The CA's directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
    directory: z.url({ protocol: /^https$/, error: 'expected the https:// URL of an ACME directory' }),
    /** The account's contact address; the CA writes here about expiring certificates and policy changes. */
    email: z.email({ error: 'expected an email address' }),
    /** External account binding, for CAs that require one (ZeroSSL, Google Trust Services, step-ca). */
    eab: z.strictObject({ kid: z.string().min(1, 'must not be empty'), hmacKey: secret() }).optional(),
    /**
     * How the CA checks that this cluster serves the domain: `http-01` (a request to port 80, answered
     * by the proxy's plain listener) or `tls-alpn-01` (RFC 8737: a TLS handshake on port 443 offering
     * `acme-tls/1`, answered by the TLS listener; for hosts whose port 80 is closed). Any host's proxy
     * answers either, from the catalog.
     */
    challenge: z.enum(['http-01', 'tls-alpn-01'], { error: 'expected http-01 or tls-alpn-01' }).default('http-01'),
    /** Renew this long before expiry, and at the latest when a third of the lifetime is left (short-lived certificates). */
    renewBeforeDays: z.number({ error: 'expected days (a number)' }).positive().max(365).default(30),
    /** After a failed order: wait `firstSeconds`, doubling up to `maxSeconds` (jittered), before the next. */
    retry: z
      .strictObject({ firstSeconds: seconds(300), maxSeconds: seconds(86_400) })
      .refine((retry) => retry.maxSeconds >= retry.firstSeconds, { message: 'maxSeconds must not be below firstSeconds', path: ['maxSeconds'] })
      .prefault({}),
  })
  .optional();

export type AcmeConfig = NonNullable<z.output<typeof acmeConfig>>;

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { listen, port } from '../../config/listen.js';
import { acmeConfig } from '../acme/acme.config.js';
import { BadCertificate, checkPair } from './pem.js';

/** A domain a certificate serves: a name, or a wildcard one label deep (`*.example.net`). */
const certificateDomain = z.string().regex(/^(\*\.)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}\.?$/, 'expected a domain name, or *.domain for a wildcard');

/** A certificate someone brings: PEM files read at config load (a bad one is a config error naming the file) and watched after. */
const certificateFiles = z
  .strictObject({
    domains: z.array(certificateDomain).min(1, 'list the domains this certificate serves'),
    /** PEM certificate chain, leaf first. */
    certFile: z.string().min(1),
    /** PEM private key of the leaf. */
    keyFile: z.string().min(1),
  })
  .superRefine((files, context) => {
    const problem = certificateFilesProblem(files.certFile, files.keyFile);
    if (problem) context.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
  });
export type CertificateFiles = z.output<typeof certificateFiles>;

export const tlsConfig = z.strictObject({
  /** The TLS listener (`:443` in production). */
  listen: listen('0.0.0.0', 8443),
  /** The port clients reach the TLS listener on, when something in between maps it (redirects name it). Default: listen.port. */
  publicPort: port().optional(),
  certificates: z.array(certificateFiles).default([]),
  /** Whose certificate a client gets when its SNI names no certificate (an IP address, an unknown name); unset: the handshake fails. */
  defaultDomain: certificateDomain.optional(),
  /** How often the primary makes a new session-ticket key for all workers (tickets made with the old one then need a full handshake). */
  ticketKeyRotation: z.number({ error: 'expected milliseconds (a whole number)' }).int().min(60_000).default(12 * 3_600_000),
  /** Offer HTTP/2 by ALPN (`h2`, then `http/1.1`); requests go on to backends over HTTP/1.1 either way. Off: it measured slower than HTTP/1.1 on the fast engine (docs/proxy.md#http2). */
  http2: z.boolean().default(false),
  /** Staple OCSP responses for certificates that name a responder (fetched and cached by each worker). */
  ocspStapling: z.boolean().default(true),
  /** Certificates over ACME for the domains of `tls: auto` apps (acme/); absent, none are ordered. */
  acme: acmeConfig,
});
export type TlsConfig = z.output<typeof tlsConfig>;

/** Why a certificate's files cannot be served (unreadable, not PEM, key not the certificate's) and which file is at fault; null when they can. */
export function certificateFilesProblem(certFile: string, keyFile: string): { field: 'certFile' | 'keyFile'; message: string } | null {
  const certPem = readText(certFile);
  if (certPem instanceof Error) return { field: 'certFile', message: certPem.message };
  const keyPem = readText(keyFile);
  if (keyPem instanceof Error) return { field: 'keyFile', message: keyPem.message };
  try {
    checkPair(certPem, keyPem);
    return null;
  } catch (error) {
    if (!(error instanceof BadCertificate)) throw error;
    return { field: error.part === 'cert' ? 'certFile' : 'keyFile', message: error.message };
  }
}

function readText(file: string): string | Error {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    return new Error(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

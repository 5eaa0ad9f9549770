import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** A certificate and key that do not make a usable pair; the message says which part is wrong. */
export class BadCertificate extends Error {
  constructor(
    message: string,
    /** Which part is wrong: the certificate or the key. */
    readonly part: 'cert' | 'key',
  ) {
    super(message);
  }
}

/** The leaf certificate (the first of a chain) parsed, with the key it was checked against. */
export interface CheckedPair {
  leaf: X509Certificate;
  key: KeyObject;
}

/**
 * Parses a PEM certificate chain and private key and checks that the key
 * belongs to the leaf, so a bad pair is refused where it enters (config load,
 * file reload, the ACME store) and never reaches a worker's TLS context.
 */
export function checkPair(certPem: string, keyPem: string): CheckedPair {
  if (!certPem.includes('-----BEGIN CERTIFICATE-----')) throw new BadCertificate('is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)', 'cert');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (error) {
    throw new BadCertificate(`is not a valid PEM certificate (${(error as Error).message})`, 'cert');
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) throw new BadCertificate('is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- line)', 'key');
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new BadCertificate(`is not a valid PEM private key (${(error as Error).message})`, 'key');
  }
  if (!leaf.checkPrivateKey(key)) throw new BadCertificate('does not match the certificate (the key is another one)', 'key');
  return { leaf, key };
}

/** `chat.Example.net.` -> `chat.example.net`: names as SNI and the route table compare them. */
export function normalDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

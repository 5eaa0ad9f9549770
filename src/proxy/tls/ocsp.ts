/**
 * OCSP stapling (RFC 6960, RFC 6066 §8): for a certificate naming an OCSP
 * responder, a worker asks the responder about it (an OCSPRequest for the
 * one certificate, DER over HTTP POST) when a client asks for a staple, keeps
 * the answer for an hour, and staples it to every handshake meanwhile. A
 * certificate without a responder, or whose issuer is not in its chain, is
 * served without a staple, quietly; so is one whose responder fails (logged
 * by the caller). Node gives the DER of the certificate and of its issuer
 * ('OCSPRequest' event); the request is built from them with a minimal DER
 * reader, as Node has no OCSP API.
 */
import { createHash, X509Certificate } from 'node:crypto';

/** How long a response is stapled before it is fetched again (responders give days of validity; this stays well inside). */
const FRESH_MS = 3_600_000;
const FETCH_TIMEOUT_MS = 5_000;

interface Cached {
  at: number;
  response: Buffer | null;
  pending: Promise<Buffer | null> | null;
}

export class OcspStapler {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly onError: (message: string) => void = () => {}) {}

  /** The staple for `certificate` (DER), or null; a stale one is served while a fresh one is fetched. */
  async staple(certificate: Buffer, issuer: Buffer | null): Promise<Buffer | null> {
    const key = createHash('sha256').update(certificate).digest('hex');
    let cached = this.cache.get(key);
    if (!cached) this.cache.set(key, (cached = { at: 0, response: null, pending: null }));
    if (Date.now() - cached.at < FRESH_MS) return cached.response;
    const entry = cached;
    entry.pending ??= this.fetch(certificate, issuer).then(
      (response) => {
        entry.at = Date.now();
        entry.response = response;
        entry.pending = null;
        return response;
      },
      (error: Error) => {
        // Try again in a minute rather than on every handshake.
        entry.at = Date.now() - FRESH_MS + 60_000;
        entry.pending = null;
        this.onError(error.message);
        return entry.response;
      },
    );
    return entry.response ?? entry.pending;
  }

  private async fetch(certificate: Buffer, issuer: Buffer | null): Promise<Buffer | null> {
    const leaf = new X509Certificate(certificate);
    const responder = responderUrl(leaf);
    if (!responder || !issuer) return null;
    const answer = await fetch(responder, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
      body: ocspRequest(leaf, issuer),
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (!answer.ok) throw new Error(`OCSP responder ${responder} answered ${answer.status}`);
    const response = Buffer.from(await answer.arrayBuffer());
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, ... }: 0 is successful.
    const status = children(response, 0)[0];
    if (!status || response[status.start] !== 0x0a || response[status.start + status.header] !== 0) throw new Error(`OCSP responder ${responder} did not answer successfully`);
    return response;
  }
}

/** The OCSP responder a certificate names (Authority Information Access), or null. */
export function responderUrl(certificate: X509Certificate): string | null {
  return /OCSP - URI:(\S+)/.exec(certificate.infoAccess ?? '')?.[1] ?? null;
}

/** An OCSPRequest for `leaf`, issued by `issuer` (DER): one CertID, SHA-1 as every responder accepts. */
export function ocspRequest(leaf: X509Certificate, issuer: Buffer): Buffer {
  const issuerTbs = children(issuer, 0)[0];
  const issuerFields = children(issuer, issuerTbs.start);
  // TBSCertificate: [0] version?, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  const offset = issuer[issuerFields[0].start] === 0xa0 ? 1 : 0;
  const subject = issuerFields[offset + 4];
  const spki = issuerFields[offset + 5];
  const publicKey = children(issuer, spki.start)[1];
  // The BIT STRING's value less its unused-bits byte.
  const keyBits = issuer.subarray(publicKey.start + publicKey.header + 1, publicKey.start + publicKey.length);
  const sha1 = (data: Buffer) => createHash('sha1').update(data).digest();
  const certId = der(0x30, [
    der(0x30, [der(0x06, [Buffer.from('2b0e03021a', 'hex')]), Buffer.from('0500', 'hex')]),
    der(0x04, [sha1(issuer.subarray(subject.start, subject.start + subject.length))]),
    der(0x04, [sha1(keyBits)]),
    der(0x02, [integer(leaf.serialNumber)]),
  ]);
  return der(0x30, [der(0x30, [der(0x30, [der(0x30, [certId])])])]);
}

interface Element {
  /** Offset of the tag byte. */
  start: number;
  /** Bytes of tag and length. */
  header: number;
  /** Whole element: header and value. */
  length: number;
}

/** The elements inside the constructed element at `start`. */
function children(data: Buffer, start: number): Element[] {
  const outer = element(data, start);
  const found: Element[] = [];
  for (let at = start + outer.header; at < start + outer.length; ) {
    const inner = element(data, at);
    found.push(inner);
    at += inner.length;
  }
  return found;
}

function element(data: Buffer, start: number): Element {
  let length = data[start + 1];
  let header = 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let index = 0; index < bytes; index++) length = length * 256 + data[start + 2 + index];
    header += bytes;
  }
  if (start + header + length > data.length) throw new Error('truncated DER');
  return { start, header, length: header + length };
}

function der(tag: number, parts: Buffer[]): Buffer {
  const value = Buffer.concat(parts);
  const size = value.length;
  const length = size < 0x80 ? Buffer.from([size]) : size < 0x100 ? Buffer.from([0x81, size]) : Buffer.from([0x82, size >> 8, size & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, value]);
}

/** A serial number (hex, as X509Certificate gives it) as the bytes of a positive DER INTEGER. */
function integer(hex: string): Buffer {
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

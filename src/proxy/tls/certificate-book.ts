import { Injectable } from '@nestjs/common';
import { checkPair, normalDomain } from './pem.js';

export type CertificateSource = 'files' | 'acme';

/** A certificate (PEM chain, leaf first) and its key, for the domains it serves. */
export interface CertificateEntry {
  domains: string[];
  certPem: string;
  keyPem: string;
  source: CertificateSource;
}

/** One domain as `GET /proxy/certificates` lists it. */
export interface CertificateInfo {
  domain: string;
  /** The issuer's common name (or organisation), null when no certificate is held. */
  issuer: string | null;
  /** ISO time after which the certificate is no longer valid, null when none is held. */
  notAfter: string | null;
  source: CertificateSource;
  /** Why the last load or renewal failed (the certificate held, if any, stays in use). */
  lastError: string | null;
}

/** What workers are told, over IPC; a worker that starts later gets `replay()`. */
export type BookChange =
  | { kind: 'put'; entry: CertificateEntry }
  | { kind: 'remove'; domain: string }
  | { kind: 'challenge'; token: string; keyAuthorization: string }
  | { kind: 'challenge-removed'; token: string }
  /** Session-ticket keys (48 bytes, base64) every worker's TLS listener uses, so a session resumes on any worker. */
  | { kind: 'ticket-keys'; keys: string };

interface Held {
  entry: CertificateEntry;
  issuer: string;
  notAfter: Date;
}

/**
 * The primary's book of certificates, pending ACME HTTP-01 challenges and
 * the session-ticket key. Certificates come from files
 * (tls/certificate-files.ts) and from ACME (acme/); ProxyService rotates the
 * ticket key. Every change is pushed to the proxy workers (and replayed to
 * workers started later), which build their SNI contexts (exact name, then
 * wildcard) and answer challenges from it.
 */
@Injectable()
export class CertificateBook {
  private readonly held = new Map<string, Held>();
  private readonly errors = new Map<string, { message: string; source: CertificateSource }>();
  private readonly challenges = new Map<string, string>();
  private ticketKeys: string | null = null;
  private readonly listeners = new Set<(change: BookChange) => void>();

  /** Serves `entry` for its domains (replacing what served them). Throws BadCertificate for a pair that does not fit. */
  put(entry: CertificateEntry): void {
    const { leaf } = checkPair(entry.certPem, entry.keyPem);
    const domains = [...new Set(entry.domains.map(normalDomain))];
    const normal = { ...entry, domains };
    const held: Held = { entry: normal, issuer: issuerName(leaf.issuer), notAfter: new Date(leaf.validTo) };
    for (const domain of domains) {
      this.held.set(domain, held);
      this.errors.delete(domain);
    }
    this.emit({ kind: 'put', entry: normal });
  }

  /** Stops serving a certificate for `domain` (its error too). */
  remove(domain: string): void {
    const name = normalDomain(domain);
    this.errors.delete(name);
    if (this.held.delete(name)) this.emit({ kind: 'remove', domain: name });
  }

  /** Records why getting a certificate for `domain` failed (null clears it); a certificate held stays served. */
  setError(domain: string, message: string | null, source: CertificateSource = 'acme'): void {
    const name = normalDomain(domain);
    if (message === null) this.errors.delete(name);
    else this.errors.set(name, { message, source: this.held.get(name)?.entry.source ?? source });
  }

  /** The certificate serving `domain` exactly (no wildcard lookup), or null. */
  get(domain: string): (CertificateEntry & { notAfter: Date }) | null {
    const held = this.held.get(normalDomain(domain));
    return held ? { ...held.entry, notAfter: held.notAfter } : null;
  }

  list(): CertificateInfo[] {
    const domains = new Set([...this.held.keys(), ...this.errors.keys()]);
    return [...domains].sort().map((domain) => {
      const held = this.held.get(domain);
      const error = this.errors.get(domain);
      return {
        domain,
        issuer: held?.issuer ?? null,
        notAfter: held?.notAfter.toISOString() ?? null,
        source: held?.entry.source ?? error!.source,
        lastError: error?.message ?? null,
      };
    });
  }

  /** Answers `GET /.well-known/acme-challenge/<token>` on every worker's plain listener. */
  putChallenge(token: string, keyAuthorization: string): void {
    this.challenges.set(token, keyAuthorization);
    this.emit({ kind: 'challenge', token, keyAuthorization });
  }

  removeChallenge(token: string): void {
    if (this.challenges.delete(token)) this.emit({ kind: 'challenge-removed', token });
  }

  /** New session-ticket keys for every worker (ProxyService rotates them); tickets made with the old ones then need a full handshake. */
  setTicketKeys(keys: Buffer): void {
    if (keys.length !== 48) throw new Error('session-ticket keys are 48 bytes');
    this.ticketKeys = keys.toString('base64');
    this.emit({ kind: 'ticket-keys', keys: this.ticketKeys });
  }

  /** Everything held now, as the changes that build it from nothing (for a worker that starts later). */
  replay(): BookChange[] {
    // Ticket keys first: the contexts the puts make take them.
    const changes: BookChange[] = this.ticketKeys ? [{ kind: 'ticket-keys', keys: this.ticketKeys }] : [];
    const seen = new Set<Held>();
    for (const held of this.held.values()) {
      if (seen.has(held)) continue;
      seen.add(held);
      // Only the domains this entry still serves (a later put or remove may have taken some).
      const domains = held.entry.domains.filter((domain) => this.held.get(domain) === held);
      changes.push({ kind: 'put', entry: { ...held.entry, domains } });
    }
    for (const [token, keyAuthorization] of this.challenges) changes.push({ kind: 'challenge', token, keyAuthorization });
    return changes;
  }

  /** Calls `listener` with every change from now on; returns the way to stop. */
  watch(listener: (change: BookChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: BookChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

/** `C=US\nO=Let's Encrypt\nCN=R11` -> `R11` (the CN, else the O, else the whole name on one line). */
function issuerName(issuer: string): string {
  const fields = new Map(issuer.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const));
  return fields.get('CN') ?? fields.get('O') ?? issuer.replaceAll('\n', ', ');
}

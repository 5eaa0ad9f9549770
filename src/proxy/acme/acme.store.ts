import { X509Certificate } from 'node:crypto';
import type { Repository } from 'typeorm';
import type { SecretsBox } from '../../common/secrets-box.js';
import { AcmeAccountEntity, AcmeCertificateEntity } from './acme.entity.js';
import type { DomainState } from './renewal-plan.js';

export interface StoredAccount {
  keyPem: string;
  url: string | null;
}

/** One domain's row as the loader hands it to the certificate book (key opened). */
export interface StoredCertificate {
  domain: string;
  certPem: string | null;
  keyPem: string | null;
  /** Why the sealed key did not open (another secrets key on this host), or null. */
  keyProblem: string | null;
  notAfter: number | null;
  issuedBy: string | null;
  failures: number;
  lastError: string | null;
  nextAttemptAt: number | null;
  updatedAt: number;
}

/** One domain as GET /proxy/acme shows it (times ISO 8601). */
export interface AcmeDomainView {
  domain: string;
  notBefore: string | null;
  notAfter: string | null;
  issuedAt: string | null;
  /** The host that ordered the certificate in use. */
  issuedBy: string | null;
  /** Orders failed in a row since the last success. */
  failures: number;
  lastError: string | null;
  lastErrorAt: string | null;
  /** No order before this (backoff). */
  nextAttemptAt: string | null;
}

const STATE_COLUMNS = { domain: true, notBefore: true, notAfter: true, nextAttemptAt: true } as const;

const toNumber = (value: string | number | null): number | null => (value === null ? null : Number(value));

/**
 * ACME accounts and certificates in dozen's database, private keys sealed with
 * the secrets key (AES-256-GCM, src/common/secrets-box.ts): the one place every
 * host reads certificates from.
 */
export class AcmeStore {
  constructor(
    private readonly accounts: Repository<AcmeAccountEntity>,
    private readonly certificates: Repository<AcmeCertificateEntity>,
    private readonly box: SecretsBox,
  ) {}

  async account(directory: string): Promise<StoredAccount | null> {
    const row = await this.accounts.findOneBy({ directory });
    return row ? { keyPem: this.box.open(row.keySealed), url: row.url } : null;
  }

  async saveAccount(directory: string, email: string, keyPem: string, url: string | null): Promise<void> {
    await this.accounts.save({ directory, email, keySealed: this.box.seal(keyPem), url, createdAt: Date.now() });
  }

  /** What the planner needs, for every domain with a row (no key is opened). */
  async states(): Promise<Map<string, DomainState>> {
    const rows = await this.certificates.find({ select: STATE_COLUMNS });
    return new Map(rows.map((row) => [row.domain, { domain: row.domain, notBefore: toNumber(row.notBefore), notAfter: toNumber(row.notAfter), nextAttemptAt: toNumber(row.nextAttemptAt) }]));
  }

  async state(domain: string): Promise<DomainState | undefined> {
    const row = await this.certificates.findOne({ where: { domain }, select: STATE_COLUMNS });
    return row ? { domain: row.domain, notBefore: toNumber(row.notBefore), notAfter: toNumber(row.notAfter), nextAttemptAt: toNumber(row.nextAttemptAt) } : undefined;
  }

  /** Each domain's last change (ms): lets a loader read only the rows that changed. */
  async versions(): Promise<Map<string, number>> {
    const rows = await this.certificates.find({ select: { domain: true, updatedAt: true } });
    return new Map(rows.map((row) => [row.domain, Number(row.updatedAt)]));
  }

  async load(domains: string[]): Promise<StoredCertificate[]> {
    if (!domains.length) return [];
    const rows = await this.certificates.createQueryBuilder('certificate').where('certificate.domain IN (:...domains)', { domains }).getMany();
    return rows.map((row) => ({
      domain: row.domain,
      certPem: row.certPem,
      ...this.openKey(row.keySealed),
      notAfter: toNumber(row.notAfter),
      issuedBy: row.issuedBy,
      failures: row.failures,
      lastError: row.lastError,
      nextAttemptAt: toNumber(row.nextAttemptAt),
      updatedAt: Number(row.updatedAt),
    }));
  }

  private openKey(sealed: string | null): { keyPem: string | null; keyProblem: string | null } {
    if (!sealed) return { keyPem: null, keyProblem: null };
    try {
      return { keyPem: this.box.open(sealed), keyProblem: null };
    } catch {
      return { keyPem: null, keyProblem: 'the stored key does not open with this host\'s secrets key: every host must have the same deploy.secretsKey' };
    }
  }

  /** Every domain's certificate facts and renewal state, without keys (GET /proxy/acme). */
  async overview(): Promise<AcmeDomainView[]> {
    const rows = await this.certificates.find({ order: { domain: 'ASC' } });
    const iso = (value: string | number | null) => (value === null ? null : new Date(Number(value)).toISOString());
    return rows.map((row) => ({
      domain: row.domain,
      notBefore: iso(row.notBefore),
      notAfter: iso(row.notAfter),
      issuedAt: iso(row.issuedAt),
      issuedBy: row.issuedBy,
      failures: row.failures,
      lastError: row.lastError,
      lastErrorAt: iso(row.lastErrorAt),
      nextAttemptAt: iso(row.nextAttemptAt),
    }));
  }

  /** A new certificate for `domain`: clears the failures and the backoff. */
  async saveIssued(domain: string, certPem: string, keyPem: string, issuedBy: string): Promise<void> {
    const leaf = new X509Certificate(certPem);
    const now = Date.now();
    await this.certificates.save({
      domain, certPem, keySealed: this.box.seal(keyPem),
      notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), issuedAt: now, issuedBy,
      failures: 0, lastError: null, lastErrorAt: null, nextAttemptAt: null, updatedAt: now,
    });
  }

  /** A failed order: the certificate held (if any) stays; the next order waits until `nextAttemptAt`. */
  async saveFailure(domain: string, message: string, failures: number, nextAttemptAt: number): Promise<void> {
    const now = Date.now();
    const existing = await this.certificates.findOneBy({ domain });
    await this.certificates.save({
      ...(existing ?? { domain, certPem: null, keySealed: null, notBefore: null, notAfter: null, issuedAt: null, issuedBy: null }),
      failures, lastError: message, lastErrorAt: now, nextAttemptAt, updatedAt: now,
    });
  }

  /** Orders failed in a row for `domain`. */
  async failures(domain: string): Promise<number> {
    return (await this.certificates.findOne({ where: { domain }, select: { domain: true, failures: true } }))?.failures ?? 0;
  }
}

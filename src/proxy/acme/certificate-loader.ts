import type { Logger } from 'pino';
import type { CertificateBook } from '../tls/certificate-book.js';
import type { AcmeStore, StoredCertificate } from './acme.store.js';

/** How often the table is read when no change was announced in the catalog (a missed watch event, a write by an older host). */
export const LOADER_POLL_MS = 30_000;

/**
 * Every host: the ACME certificates of the database, put in this host's
 * certificate book. Reads only the rows whose `updated_at` moved since the
 * last read; runs when the catalog announces a change, and every
 * LOADER_POLL_MS anyway.
 */
export class CertificateLoader {
  private readonly versions = new Map<string, number>();
  private running: Promise<void> = Promise.resolve();
  private again = false;

  constructor(
    private readonly store: AcmeStore,
    private readonly book: Pick<CertificateBook, 'put' | 'setError' | 'get'>,
    private readonly log: Logger,
  ) {}

  /** Reads what changed; calls made while a read runs are folded into one more read. */
  refresh(): Promise<void> {
    if (this.again) return this.running;
    this.again = true;
    this.running = this.running.then(async () => {
      this.again = false;
      try {
        await this.readChanged();
      } catch (error) {
        this.log.warn({ err: error }, 'could not read the ACME certificates from the database; next read soon');
      }
    });
    return this.running;
  }

  private async readChanged(): Promise<void> {
    const versions = await this.store.versions();
    const changed = [...versions].filter(([domain, version]) => this.versions.get(domain) !== version).map(([domain]) => domain);
    for (const row of await this.store.load(changed)) {
      if (this.apply(row)) this.versions.set(row.domain, row.updatedAt);
    }
  }

  /** Puts the row's certificate (or its error) in the book; false when a file serves the domain (read again later). */
  private apply(row: StoredCertificate): boolean {
    // A certificate file serves this domain now: files win, and their errors are theirs to show.
    if (this.book.get(row.domain)?.source === 'files') return false;
    if (row.keyProblem) {
      this.book.setError(row.domain, row.keyProblem, 'acme');
      return true;
    }
    if (row.certPem && row.keyPem) {
      try {
        if (this.book.get(row.domain)?.certPem !== row.certPem) {
          this.book.put({ domains: [row.domain], certPem: row.certPem, keyPem: row.keyPem, source: 'acme' });
          this.log.info({ domain: row.domain, notAfter: row.notAfter && new Date(row.notAfter).toISOString(), issuedBy: row.issuedBy }, 'ACME certificate loaded');
        }
      } catch (error) {
        this.book.setError(row.domain, `the stored certificate does not load: ${(error as Error).message}`, 'acme');
        return true;
      }
    }
    this.book.setError(row.domain, row.lastError ? describeFailure(row) : null, 'acme');
    return true;
  }
}

/** The last error as people see it in /proxy/certificates: what failed, how many times, when the next try is. */
export function describeFailure(row: Pick<StoredCertificate, 'lastError' | 'failures' | 'nextAttemptAt'>): string {
  const next = row.nextAttemptAt ? `; next attempt at ${new Date(row.nextAttemptAt).toISOString()}` : '';
  return `${row.lastError} (${row.failures} failed order${row.failures === 1 ? '' : 's'} in a row${next})`;
}

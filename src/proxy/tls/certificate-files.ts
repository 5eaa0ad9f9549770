import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import type { CertificateBook } from './certificate-book.js';
import { BadCertificate } from './pem.js';
import type { CertificateFiles } from './tls.config.js';

/** How often the files are looked at (a stat each): certificates change rarely, and this also follows a symlink swapped to a new target. */
const POLL_MS = 1_000;

/**
 * Certificates people bring (`proxy.tls.certificates`): put in the book at
 * start (the config load already refused bad files), and put again whenever
 * a file changes, without a restart. A bad new file keeps the certificate
 * served before and records the error (log, `GET /proxy/certificates`).
 * Files are polled by stat rather than inotify: renames, symlink swaps
 * (certbot's live/ links) and rewrites in place are all seen the same way.
 */
export class CertificateFilesLoader {
  private readonly watched: string[] = [];

  constructor(
    private readonly entries: readonly CertificateFiles[],
    private readonly book: CertificateBook,
    private readonly log: Logger,
    private readonly pollMs = POLL_MS,
  ) {}

  start(): void {
    for (const entry of this.entries) {
      this.load(entry);
      for (const file of new Set([entry.certFile, entry.keyFile])) {
        watchFile(file, { interval: this.pollMs, persistent: false }, (now: Stats, before: Stats) => {
          if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) this.load(entry);
        });
        this.watched.push(file);
      }
    }
  }

  stop(): void {
    for (const file of this.watched) unwatchFile(file);
    this.watched.length = 0;
  }

  private load(entry: CertificateFiles): void {
    let certPem: string;
    let keyPem: string;
    try {
      certPem = readFileSync(entry.certFile, 'utf8');
    } catch (error) {
      return this.failed(entry, `${entry.certFile}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      keyPem = readFileSync(entry.keyFile, 'utf8');
    } catch (error) {
      return this.failed(entry, `${entry.keyFile}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      this.book.put({ domains: entry.domains, certPem, keyPem, source: 'files' });
      this.log.info({ domains: entry.domains, certFile: entry.certFile }, 'certificate loaded');
    } catch (error) {
      if (!(error instanceof BadCertificate)) throw error;
      this.failed(entry, `${error.part === 'cert' ? entry.certFile : entry.keyFile} ${error.message}`);
    }
  }

  /** Half-written files are common (a copy in progress): the next change loads them again. */
  private failed(entry: CertificateFiles, message: string): void {
    for (const domain of entry.domains) this.book.setError(domain, message, 'files');
    this.log.error({ domains: entry.domains, error: message }, 'certificate files not loaded; the certificate served before stays');
  }
}

import type { KvEntry } from '../../registry/catalog.js';
import type { CertificateBook } from '../tls/certificate-book.js';
import { ACME_KV } from './acme-kv.js';

/** The part of the registry this needs (RegistryService). */
export interface KvWatcher {
  watchKv(prefix: string, listener: (entries: KvEntry[]) => void): () => void;
}

/**
 * Every host: the pending HTTP-01 challenges of the catalog, fed to the
 * certificate book (and from it to the proxy workers), so whichever host the
 * CA reaches answers, not only the one that ordered.
 */
export class ChallengeFeed {
  private readonly served = new Map<string, string>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private unwatch: (() => void) | null = null;

  constructor(
    private readonly kv: KvWatcher,
    private readonly book: Pick<CertificateBook, 'putChallenge' | 'removeChallenge'>,
  ) {}

  start(): void {
    this.unwatch = this.kv.watchKv(ACME_KV.challenges, (entries) => this.apply(entries));
  }

  stop(): void {
    this.unwatch?.();
    for (const token of this.served.keys()) this.book.removeChallenge(token);
    this.served.clear();
  }

  /** Resolves once `token` is in this host's book (or after `timeoutMs`, rejecting). */
  whenServed(token: string, timeoutMs: number): Promise<void> {
    if (this.served.has(token)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiters = this.waiters.get(token) ?? new Set();
      this.waiters.set(token, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        reject(new Error(`the challenge ${token} did not come back from the catalog within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(done);
    });
  }

  private apply(entries: KvEntry[]): void {
    const now = new Map(entries.map((entry) => [entry.key.slice(ACME_KV.challenges.length), entry.value]));
    for (const token of [...this.served.keys()]) {
      if (now.has(token)) continue;
      this.served.delete(token);
      this.book.removeChallenge(token);
    }
    for (const [token, keyAuthorization] of now) {
      if (!token || this.served.get(token) === keyAuthorization) continue;
      this.served.set(token, keyAuthorization);
      this.book.putChallenge(token, keyAuthorization);
      for (const waiter of [...(this.waiters.get(token) ?? [])]) waiter();
      this.waiters.delete(token);
    }
  }
}

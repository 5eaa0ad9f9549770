import { randomUUID } from 'node:crypto';

/** The check-and-set part of the catalog's key/value store (RegistryService offers it). */
export interface CasStore {
  kvGet(key: string): Promise<{ value: string; modifyIndex: number } | null>;
  kvPutIfIndex(key: string, value: string, index: number): Promise<boolean>;
  kvDeleteIfIndex(key: string, index: number): Promise<boolean>;
}

interface LockValue {
  holder: string;
  /** ms since epoch, by the holder's clock */
  expiresAt: number;
}

export interface HeldLock {
  /** Gives the lock back, unless someone took it over after it expired. */
  release(): Promise<void>;
}

/**
 * A lock across hosts in the catalog's key/value store: one key holding who has
 * it and until when, taken and given back with check-and-set writes, so of two
 * hosts reading the same state only one can write. It expires by itself, so a
 * holder that died blocks the others for `ttlMs` at most; a holder must finish
 * within that (hosts' clocks are assumed to agree within seconds, as NTP keeps them).
 */
export class CatalogLock {
  constructor(
    private readonly store: CasStore,
    private readonly key: string,
    /** Who this is, for people reading the key (host name). */
    private readonly owner: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The lock, or null when another holder has it and it has not expired. */
  async tryAcquire(): Promise<HeldLock | null> {
    const current = await this.store.kvGet(this.key);
    if (current) {
      const held = parse(current.value);
      if (held && held.expiresAt > this.now()) return null;
    }
    const mine: LockValue = { holder: `${this.owner}/${randomUUID()}`, expiresAt: this.now() + this.ttlMs };
    if (!(await this.store.kvPutIfIndex(this.key, JSON.stringify(mine), current?.modifyIndex ?? 0))) return null;
    const written = await this.store.kvGet(this.key);
    if (!written || parse(written.value)?.holder !== mine.holder) return null;
    return {
      release: async () => {
        await this.store.kvDeleteIfIndex(this.key, written.modifyIndex);
      },
    };
  }

  /** Who holds the lock now (null when free or expired), for logs and status. */
  async holder(): Promise<string | null> {
    const current = await this.store.kvGet(this.key);
    const held = current ? parse(current.value) : null;
    return held && held.expiresAt > this.now() ? held.holder : null;
  }
}

function parse(value: string): LockValue | null {
  try {
    const parsed = JSON.parse(value) as LockValue;
    return typeof parsed.holder === 'string' && typeof parsed.expiresAt === 'number' ? parsed : null;
  } catch {
    // Not written by this class: treat as free; the check-and-set still decides who takes it.
    return null;
  }
}

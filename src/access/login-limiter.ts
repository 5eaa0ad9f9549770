/** A key's failures in a row: when the last one was, and until when the key is locked out (0: not locked). */
export interface Failures {
  count: number;
  lastAt: number;
  lockedUntil: number;
}

export interface LoginLimits {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  lockoutSeconds: number;
}

/** Where a limiter keeps its counts: the per-user ones in the database, so every host sees them. */
export interface FailureStore {
  get(key: string): Promise<Failures | undefined>;
  /** Counts one more failure at `now` (an atomic increment where the store is shared) and returns the new state. */
  add(key: string, now: number, forgetBefore: number): Promise<Failures>;
  lock(key: string, until: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Keys kept at most in memory; the oldest go first. Bounds memory whatever addresses callers send. */
const MAX_KEYS = 100_000;

/** Counts kept in this process: a host's own view, for client addresses (which also spread over hosts by DNS). */
export class MemoryFailureStore implements FailureStore {
  private readonly failures = new Map<string, Failures>();

  async get(key: string): Promise<Failures | undefined> {
    return this.failures.get(key);
  }

  async add(key: string, now: number, forgetBefore: number): Promise<Failures> {
    const old = this.failures.get(key);
    const entry = old && old.lastAt >= forgetBefore ? old : { count: 0, lastAt: now, lockedUntil: 0 };
    this.failures.delete(key);
    entry.count++;
    entry.lastAt = now;
    this.failures.set(key, entry);
    if (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
    return entry;
  }

  async lock(key: string, until: number): Promise<void> {
    const entry = this.failures.get(key);
    if (entry) entry.lockedUntil = until;
  }

  async delete(key: string): Promise<void> {
    this.failures.delete(key);
  }
}

/**
 * Login rate limiting, per user name and per client address: after N failures in a row the key is locked
 * out for `lockoutSeconds` (even a right password is refused then), after which it starts again from zero;
 * a successful login clears the user's and the address's failures. Failures older than `lockoutSeconds`
 * are forgotten. Per-user counts live in `users` (the database, shared by every host, so more hosts do
 * not mean more guesses); per-address counts in `addresses`.
 */
export class LoginLimiter {
  constructor(
    private readonly limits: LoginLimits,
    private readonly users: FailureStore = new MemoryFailureStore(),
    private readonly addresses: FailureStore = new MemoryFailureStore(),
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until this attempt may be made (0: go ahead). */
  async retryAfter(user: string, address: string): Promise<number> {
    const now = this.now();
    const waits = await Promise.all([this.waitOf(this.users, userKey(user), now), this.waitOf(this.addresses, address, now)]);
    return Math.max(...waits);
  }

  async failed(user: string, address: string): Promise<void> {
    await Promise.all([this.count(this.users, userKey(user), this.limits.maxFailuresPerUser), this.count(this.addresses, address, this.limits.maxFailuresPerAddress)]);
  }

  async succeeded(user: string, address: string): Promise<void> {
    await Promise.all([this.users.delete(userKey(user)), this.addresses.delete(address)]);
  }

  /** Ends a user's lockout at once (an admin reset the password or re-enabled the user). */
  async release(user: string): Promise<void> {
    await this.users.delete(userKey(user));
  }

  private async waitOf(store: FailureStore, key: string, now: number): Promise<number> {
    const entry = await store.get(key);
    if (!entry || entry.lockedUntil === 0) return 0;
    if (entry.lockedUntil <= now) {
      await store.delete(key);
      return 0;
    }
    return Math.ceil((entry.lockedUntil - now) / 1000);
  }

  private async count(store: FailureStore, key: string, max: number): Promise<void> {
    const now = this.now();
    const lockoutMs = this.limits.lockoutSeconds * 1000;
    const entry = await store.add(key, now, now - lockoutMs);
    if (entry.count >= max && entry.lockedUntil <= now) await store.lock(key, now + lockoutMs);
  }
}

function userKey(user: string): string {
  return user.toLowerCase();
}

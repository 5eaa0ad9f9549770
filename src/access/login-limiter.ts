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
  /** Counts one more attempt at `now` (an atomic increment where the store is shared) and returns the new state. */
  add(key: string, now: number, forgetBefore: number): Promise<Failures>;
  /** Takes back one attempt `add` counted: it succeeded, so it was no failure. Never below zero. */
  uncount(key: string): Promise<void>;
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

  async uncount(key: string): Promise<void> {
    const entry = this.failures.get(key);
    if (entry && entry.count > 0) entry.count--;
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
 * Login rate limiting, per user name and per client address: at most N attempts in a row per key may be
 * checked; then the key is locked out for `lockoutSeconds` (even a right password is refused then), after
 * which it starts again from zero. A successful login clears the user's count, but only takes its own
 * slot back from the address's: clearing the address would let one who owns any account log in between
 * guesses at other names and never reach the address limit, which is there against password spraying
 * (OWASP's Authentication Cheat Sheet: throttle per account and per source). Attempts older than
 * `lockoutSeconds` are forgotten. Each attempt is counted before its password is
 * hashed (`admit`), so attempts sent in parallel cannot all pass the check while none has been counted
 * yet: at most N are ever hashed per key and window, done or in flight. Per-user counts live in `users`
 * (the database, shared by every host, so more hosts do not mean more guesses); per-address counts in
 * `addresses`.
 */
export class LoginLimiter {
  constructor(
    private readonly limits: LoginLimits,
    private readonly users: FailureStore = new MemoryFailureStore(),
    private readonly addresses: FailureStore = new MemoryFailureStore(),
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes one attempt's slot for the name and the address: 0 when the password may be checked, else the
   * seconds until the next attempt may be made. The slot counts as a failure until `succeeded` gives it back.
   */
  async admit(user: string, address: string): Promise<number> {
    const now = this.now();
    const waits = await Promise.all([this.waitOf(this.users, userKey(user), now), this.waitOf(this.addresses, address, now)]);
    if (Math.max(...waits) > 0) return Math.max(...waits);
    // The address first (in memory, no await between its count and its check); a name refused after it
    // spent the address's slot all the same, as a wrong password would have.
    const byAddress = await this.reserve(this.addresses, address, this.limits.maxFailuresPerAddress);
    if (byAddress > 0) return byAddress;
    return this.reserve(this.users, userKey(user), this.limits.maxFailuresPerUser);
  }

  /** The password was wrong: a key whose last slot this was is locked out now. */
  async failed(user: string, address: string): Promise<void> {
    await Promise.all([this.lockIfFull(this.users, userKey(user), this.limits.maxFailuresPerUser), this.lockIfFull(this.addresses, address, this.limits.maxFailuresPerAddress)]);
  }

  /** The password was right: the name's failures are cleared; the address keeps its others' until they age out. */
  async succeeded(user: string, address: string): Promise<void> {
    await Promise.all([this.users.delete(userKey(user)), this.addresses.uncount(address)]);
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
    return secondsUntil(entry.lockedUntil, now);
  }

  /**
   * Counts the attempt (an atomic increment where the store is shared) and returns 0 when it is within the
   * limit. Increments are serialized, so each attempt gets its own count and at most `max` see one up to `max`.
   */
  private async reserve(store: FailureStore, key: string, max: number): Promise<number> {
    const now = this.now();
    const lockoutMs = this.limits.lockoutSeconds * 1000;
    const entry = await store.add(key, now, now - lockoutMs);
    if (entry.count <= max) return 0;
    // Over the limit while the last admitted ones are still being checked: lock now, not after them.
    const until = entry.lockedUntil > now ? entry.lockedUntil : now + lockoutMs;
    if (entry.lockedUntil <= now) await store.lock(key, until);
    return secondsUntil(until, now);
  }

  private async lockIfFull(store: FailureStore, key: string, max: number): Promise<void> {
    const now = this.now();
    const entry = await store.get(key);
    if (entry && entry.count >= max && entry.lockedUntil <= now) await store.lock(key, now + this.limits.lockoutSeconds * 1000);
  }
}

function secondsUntil(until: number, now: number): number {
  return Math.ceil((until - now) / 1000);
}

function userKey(user: string): string {
  return user.toLowerCase();
}

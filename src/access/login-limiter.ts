/** A key's failures in a row, and until when it is locked out. */
interface Failures {
  count: number;
  lockedUntil: number;
}

export interface LoginLimits {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  lockoutSeconds: number;
}

/** Keys kept at most; the oldest go first. Bounds memory whatever names and addresses callers send. */
const MAX_KEYS = 100_000;

/**
 * Login rate limiting, per user name and per client address: after N failures in a row the key is locked
 * out for `lockoutSeconds` (even a right password is refused then), after which it starts again from zero;
 * a successful login clears the user's and the address's failures. Kept in memory: each host limits the
 * logins it serves.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, Failures>();

  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until this attempt may be made (0: go ahead). */
  retryAfter(user: string, address: string): number {
    const now = this.now();
    const waits = [this.keyOf('user', user), this.keyOf('address', address)].map((key) => {
      const entry = this.failures.get(key);
      if (!entry || entry.lockedUntil === 0) return 0;
      if (entry.lockedUntil <= now) {
        this.failures.delete(key);
        return 0;
      }
      return Math.ceil((entry.lockedUntil - now) / 1000);
    });
    return Math.max(...waits);
  }

  failed(user: string, address: string): void {
    this.count(this.keyOf('user', user), this.limits.maxFailuresPerUser);
    this.count(this.keyOf('address', address), this.limits.maxFailuresPerAddress);
  }

  succeeded(user: string, address: string): void {
    this.failures.delete(this.keyOf('user', user));
    this.failures.delete(this.keyOf('address', address));
  }

  /** Ends a user's lockout at once (an admin reset the password or re-enabled the user). */
  release(user: string): void {
    this.failures.delete(this.keyOf('user', user));
  }

  private count(key: string, max: number): void {
    const entry = this.failures.get(key) ?? { count: 0, lockedUntil: 0 };
    this.failures.delete(key);
    entry.count++;
    if (entry.count >= max) entry.lockedUntil = this.now() + this.limits.lockoutSeconds * 1000;
    this.failures.set(key, entry);
    if (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }

  private keyOf(kind: 'user' | 'address', value: string): string {
    return `${kind}:${kind === 'user' ? value.toLowerCase() : value}`;
  }
}

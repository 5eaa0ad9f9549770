import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * dozen's data dir, made on first use for its owner alone (0700): it holds the SQLite database (users'
 * password hashes, sessions, sealed secrets), the admin token, the secrets key and the local object store.
 * Under a default umask its files are world-readable (0644); the folder is what keeps other users out.
 */
export function makeDataDir(dataDir: string): string {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * Makes the data dir private if an earlier version left it open to its group or others; returns the
 * mode it had then (for the log), or null when it was private already.
 */
export function privateDataDir(dataDir: string): number | null {
  const dir = makeDataDir(dataDir);
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  chmodSync(dir, mode & 0o700);
  return mode;
}

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DozenConfig } from '../config/config.schema.js';
import { makeDataDir } from './data-dir.js';

/**
 * The admin token: from config when set; otherwise the one in
 * `<dataDir>/admin-token`, created (mode 0600) on first start so a fresh
 * install is never open.
 */
export function adminToken(config: DozenConfig): { token: string; file: string | null } {
  if (config.admin.token) return { token: config.admin.token, file: null };
  const dir = resolve(config.dataDir);
  const file = join(dir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), file };
  makeDataDir(dir);
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return { token, file };
}

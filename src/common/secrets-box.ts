import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DozenConfig } from '../config/config.schema.js';
import { makeDataDir } from './data-dir.js';

const VERSION = 'v1';

/**
 * App secrets at rest: AES-256-GCM, a fresh 12-byte nonce per value, stored as
 * `v1.<nonce>.<tag>.<ciphertext>` (base64url). The key is `deploy.secretsKey`
 * (32 bytes, base64) or, unset, `<dataDir>/deploy-secrets-key`, made (0600) on
 * first start like the admin token. Several hosts must share the key.
 */
export class SecretsBox {
  private constructor(private readonly key: Buffer) {}

  static fromConfig(config: DozenConfig): SecretsBox {
    if (config.deploy.secretsKey) return new SecretsBox(parseKey(config.deploy.secretsKey, 'deploy.secretsKey'));
    const dir = resolve(config.dataDir);
    const file = join(dir, 'deploy-secrets-key');
    if (existsSync(file)) return new SecretsBox(parseKey(readFileSync(file, 'utf8').trim(), file));
    makeDataDir(dir);
    const key = randomBytes(32);
    writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return new SecretsBox(key);
  }

  seal(plain: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, nonce.toString('base64url'), cipher.getAuthTag().toString('base64url'), sealed.toString('base64url')].join('.');
  }

  /** Throws when the value was sealed under another key or changed. */
  open(sealed: string): string {
    const [version, nonce, tag, data] = sealed.split('.');
    if (version !== VERSION || data === undefined) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(nonce, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }
}

function parseKey(text: string, where: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) throw new Error(`${where}: expected 32 bytes in base64 (openssl rand -base64 32), got ${key.length}`);
  return key;
}

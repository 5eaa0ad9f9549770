import { createHash, randomBytes } from 'node:crypto';

/**
 * A new bearer secret (`<prefix>` + 32 random bytes, base64url) and the digest
 * that is stored in its place: the secret is shown once and never kept.
 */
export function newSecret(prefix: string): { secret: string; digest: string } {
  const secret = prefix + randomBytes(32).toString('base64url');
  return { secret, digest: secretDigest(secret) };
}

/** Secrets are long random strings, so one fast SHA-256 is the right hash (no password stretching needed). */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerOf(authorization: string | undefined): string | null {
  const match = authorization ? /^Bearer\s+(.+)$/i.exec(authorization.trim()) : null;
  return match ? match[1] : null;
}

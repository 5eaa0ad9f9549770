/**
 * How an object key may be spelled: OSS's own limits, plus no path tricks for folder-backed stores.
 * Here, apart from the storage module, because hosts without it check keys too: an API token's
 * prefix (tokens) and the tailer's key templates (config).
 */
export const MAX_KEY_BYTES = 1023;

/**
 * Why `name` breaks the key rules, or null when it keeps them. A listing's prefix (`asPrefix`) may be
 * empty or end with `/`, and its last segment is only the start of a name (storage/object-store.ts,
 * assertSafePrefix, says why).
 */
export function objectKeyProblem(name: string, asPrefix = false): string | null {
  if (name.length === 0) return asPrefix ? null : 'is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes (UTF-8)`;
  if (name.startsWith('/')) return 'must not start with /';
  if (name.includes('\\')) return 'must not contain a backslash';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  const segments = name.split('/');
  // A prefix's last segment is a partial name; a key's is whole.
  const whole = asPrefix ? segments.slice(0, -1) : segments;
  if (whole.some((segment) => segment === '..' || segment === '.')) return 'must not contain . or .. segments';
  if (name.includes('//')) return 'must not contain empty segments (//)';
  if (name.endsWith('/') && !asPrefix) return 'must not end with /';
  return null;
}

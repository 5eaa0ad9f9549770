import type { KnownHeaders } from '../http1/request-head.js';

/** Who a request acts as, forwarded to the backend as X-Dozen-Subject / X-Dozen-Scopes. */
export interface Granted {
  /** null when the app has no auth (nothing is forwarded then). */
  subject: string | null;
  scopes: readonly string[];
}

/** A request that may not pass, answered by the proxy without touching a backend. */
export class Refused {
  constructor(
    readonly status: 401 | 403,
    readonly error: 'unauthorized' | 'forbidden',
    readonly message: string,
    /** The WWW-Authenticate header value (RFC 6750 §3). */
    readonly challenge: string,
  ) {}
}

/**
 * One app's auth policy on the request path: checks the request's credentials
 * before any byte goes to a backend. Synchronous where it can be (API keys,
 * tokens already verified) so the common case costs no promise.
 */
export interface Authenticator {
  check(headers: KnownHeaders, path: string): Granted | Refused | Promise<Granted | Refused>;
}

export const NO_AUTH: Authenticator = {
  check: () => ANONYMOUS,
};

const ANONYMOUS: Granted = { subject: null, scopes: [] };

/** The bearer token of an Authorization header, or null. */
export function bearerToken(headers: KnownHeaders): string | null {
  const value = headers.authorization;
  if (!value || value.length < 8 || value.slice(0, 7).toLowerCase() !== 'bearer ') return null;
  const token = value.slice(7).trim();
  return token || null;
}

/** `Bearer realm="app", error="invalid_token", error_description="..."` */
export function challenge(realm: string, error?: string, description?: string, scope?: string): string {
  const parts = [`Bearer realm="${quote(realm)}"`];
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${quote(description)}"`);
  if (scope) parts.push(`scope="${quote(scope)}"`);
  return parts.join(', ');
}

function quote(value: string): string {
  return value.replace(/["\\]/g, '');
}

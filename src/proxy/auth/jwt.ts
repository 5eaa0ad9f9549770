import type { KnownHeaders } from '../http1/request-head.js';
import { createRemoteJWKSet, importSPKI, jwtVerify, errors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtPolicy } from '../policy.js';
import { bearerToken, challenge, Refused, type Authenticator, type Granted } from './authenticator.js';

/** Verified tokens kept so a client's repeated token costs a map lookup, not a signature check. */
const CACHE_LIMIT = 10_000;

interface Verified {
  granted: Granted;
  /** exp and nbf in seconds since epoch (checked again on every hit). */
  expires: number;
  notBefore: number;
}

/**
 * `auth: jwt` with `jose`: the signature (HS256 secret, RS256/ES256 PEM key,
 * or a JWKS URL), `exp` and `nbf` always, `iss` and `aud` when the policy names
 * them, then the scopes the longest matching path prefix requires.
 */
export class JwtAuthenticator implements Authenticator {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly cache = new Map<string, Verified>();
  private readonly prefixes: [string, string[]][];
  private readonly exactCase: boolean;

  constructor(
    private readonly app: string,
    private readonly policy: JwtPolicy,
  ) {
    this.key = policy.secret ? new TextEncoder().encode(policy.secret) : policy.publicKey ? pemKey(policy.publicKey) : createRemoteJWKSet(new URL(policy.jwksUrl!));
    const exactCase = policy.exactCase ?? false;
    this.prefixes = Object.entries(policy.scopes)
      .map(([prefix, scopes]): [string, string[]] => [exactCase ? prefix : prefix.toLowerCase(), scopes])
      .sort((a, b) => b[0].length - a[0].length);
    this.exactCase = exactCase;
  }

  check(headers: KnownHeaders, path: string): Granted | Refused | Promise<Granted | Refused> {
    const token = bearerToken(headers);
    if (!token) return new Refused(401, 'unauthorized', 'a bearer token is required: Authorization: Bearer <jwt>', challenge(this.app));
    const cached = this.cache.get(token);
    if (cached) {
      const now = Date.now() / 1000;
      if (now < cached.expires && now >= cached.notBefore) return this.scoped(cached.granted, path);
      this.cache.delete(token);
    }
    return this.verify(token, path);
  }

  private async verify(token: string, path: string): Promise<Granted | Refused> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: this.policy.algorithms,
        issuer: this.policy.issuer,
        audience: this.policy.audience,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      const reason = describe(error);
      return new Refused(401, 'unauthorized', `the token is not valid: ${reason}`, challenge(this.app, 'invalid_token', reason));
    }
    const granted: Granted = { subject: typeof payload.sub === 'string' ? payload.sub : '', scopes: scopesOf(payload) };
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, { granted, expires: payload.exp ?? Infinity, notBefore: payload.nbf ?? 0 });
    return this.scoped(granted, path);
  }

  /** `path` is normalised already (see request-target.ts): the path the backend will serve. */
  private scoped(granted: Granted, path: string): Granted | Refused {
    if (!this.exactCase) path = path.toLowerCase();
    for (const [prefix, required] of this.prefixes) {
      if (!path.startsWith(prefix)) continue;
      const missing = required.filter((scope) => !granted.scopes.includes(scope));
      if (missing.length) {
        return new Refused(403, 'forbidden', `the token lacks the scope ${missing.join(' ')} needed under ${prefix}`, challenge(this.app, 'insufficient_scope', `needs ${required.join(' ')}`, required.join(' ')));
      }
      break;
    }
    return granted;
  }
}

/** A PEM public key, imported once per algorithm a token names (RS256 and ES256 need different key objects). */
function pemKey(pem: string): JWTVerifyGetKey {
  const byAlgorithm = new Map<string, ReturnType<typeof importSPKI>>();
  return (header) => {
    let key = byAlgorithm.get(header.alg);
    if (!key) byAlgorithm.set(header.alg, (key = importSPKI(pem, header.alg)));
    return key;
  };
}

/** `scope: "a b"` (RFC 8693), or `scp` / `scopes` as a list or a string. */
function scopesOf(payload: JWTPayload): string[] {
  const value = payload.scope ?? payload.scp ?? payload.scopes;
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((scope): scope is string => typeof scope === 'string');
  return [];
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'nbf') return 'not yet valid (nbf)';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim ${error.claim} ${error.reason === 'check_failed' ? 'does not match' : error.reason}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no matching key in the JWKS';
  if (error instanceof errors.JOSEError) return error.code.replace(/^ERR_/, '').toLowerCase();
  return 'unreadable token';
}

import { newSecret, secretDigest } from '../../common/secrets.js';
import type { KnownHeaders } from '../http1/request-head.js';
import type { KeyDigest } from '../policy.js';
import { bearerToken, challenge, Refused, type Authenticator, type Granted } from './authenticator.js';

const PREFIX = 'dzk_';

/** A new API key: what the caller sees once, and the digest that is stored. */
export function newApiKey(): { key: string; digest: string } {
  const { secret, digest } = newSecret(PREFIX);
  return { key: secret, digest };
}

/**
 * `auth: api-key`: the request carries one of the app's keys as
 * `Authorization: Bearer <key>` or `X-Api-Key: <key>`. Only digests are held;
 * a revoked key is simply no longer in the set.
 */
export class ApiKeyAuthenticator implements Authenticator {
  private readonly byDigest: Map<string, Granted>;

  constructor(
    private readonly app: string,
    keys: readonly KeyDigest[],
  ) {
    this.byDigest = new Map(keys.map((key) => [key.digest, { subject: `api-key:${key.id}`, scopes: [] }]));
  }

  check(headers: KnownHeaders): Granted | Refused {
    const given = headers['x-api-key'];
    const key = (typeof given === 'string' && given.trim()) || bearerToken(headers);
    if (!key) return new Refused(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key> or X-Api-Key', challenge(this.app));
    const granted = this.byDigest.get(secretDigest(key));
    if (!granted) return new Refused(401, 'unauthorized', 'the API key is not valid (unknown or revoked)', challenge(this.app, 'invalid_token', 'unknown or revoked API key'));
    return granted;
  }
}

import type { AppPolicy } from '../policy.js';
import { ApiKeyAuthenticator } from './api-key.js';
import { NO_AUTH, type Authenticator } from './authenticator.js';
import { JwtAuthenticator } from './jwt.js';

export { Refused, type Authenticator, type Granted } from './authenticator.js';

/** The authenticator an app's policy asks for. */
export function authenticatorFor(app: string, policy: AppPolicy): Authenticator {
  switch (policy.auth) {
    case 'api-key':
      return new ApiKeyAuthenticator(app, policy.keys);
    case 'jwt':
      return new JwtAuthenticator(app, policy.jwt!);
    default:
      return NO_AUTH;
  }
}

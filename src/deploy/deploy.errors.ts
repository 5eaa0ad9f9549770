import { DomainError } from '../common/errors.js';

/** A state conflict the caller can resolve (a taken name, no release to run yet). */
export class DeployConflict extends DomainError {
  constructor(error: string, message: string, field?: string) {
    super(409, error, message, field);
  }
}

/**
 * A change the route's own permission does not cover: it reaches the app's secrets, which need
 * deploy.secrets. The same body as the access guard's refusals, plus the field that asked for it.
 */
export class NeedsSecretsPermission extends DomainError {
  constructor(who: string, what: string, field: string) {
    super(403, 'forbidden', `${who} may not ${what}: it needs permission deploy.secrets`, field, { permission: 'deploy.secrets' });
  }
}

import { DomainError } from './errors.js';
import type { Principal } from './principal.js';

/**
 * Refuses a personal token as the maker of credentials (`what`: personal tokens, API tokens, users,
 * passwords, proxy API keys, webhook secrets): one it made would live on after it is revoked or expires, so a stolen token could keep its
 * access for good (a user it made, or a password it set, logs in and makes tokens). They are made with a
 * session (the console) or the admin token.
 */
export function refusePersonalTokenMaker(principal: Principal | null, what: string): void {
  if (principal?.kind === 'personal-token') {
    throw new DomainError(403, 'forbidden', `a personal token (${principal.tokenId}) may not make ${what}: one it made would outlive it; make them in the console`);
  }
}

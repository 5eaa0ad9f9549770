import { roleHas } from '../access/permissions.js';
import { DomainError } from '../common/errors.js';
import type { Principal } from '../common/principal.js';

/**
 * Whether `principal` may replace an existing object. Replacing destroys the old bytes as deleting
 * does (an empty PUT truncates to nothing), so it takes what deleting takes: permission storage.delete
 * for a user (admins; deployers may add objects, not replace them), and an API token's storage:write,
 * which includes deleting (tokens.md).
 */
export function mayReplaceObjects(principal: Principal | null): boolean {
  if (!principal) return false;
  if (principal.kind === 'api-token') return true;
  return roleHas(principal.role, 'storage.delete');
}

export class ReplaceForbidden extends DomainError {
  constructor(principal: Principal | null, key: string) {
    const who = principal ? `${principal.name} (role ${principal.role})` : 'this caller';
    super(403, 'forbidden', `${who} may not replace ${JSON.stringify(key)}: replacing an object needs permission storage.delete, as deleting it does`, undefined, { permission: 'storage.delete' });
  }
}

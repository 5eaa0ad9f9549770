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

/** How an upload's record names the caller who started it: the user, the admin token, or the API token. */
export function uploadOwner(principal: Principal | null): string | undefined {
  if (!principal) return undefined;
  if (principal.kind === 'admin-token') return 'admin-token';
  return principal.userId !== null ? `user:${principal.userId}` : `token:${principal.tokenId}`;
}

/**
 * Whether `principal` may send parts to, complete, abandon or see an upload. Someone else's upload is
 * another's object in the making: a part sent into it would be in the object its owner completes, which is
 * replacing by another name, so it takes what replacing takes.
 */
export function mayTouchUpload(principal: Principal | null, upload: { owner?: string }): boolean {
  return (upload.owner !== undefined && upload.owner === uploadOwner(principal)) || mayReplaceObjects(principal);
}

export class UploadForbidden extends DomainError {
  constructor(principal: Principal | null, uploadId: string) {
    const who = principal ? `${principal.name}${principal.role ? ` (role ${principal.role})` : ''}` : 'this caller';
    super(403, 'forbidden', `${who} did not start upload ${JSON.stringify(uploadId)}: another caller's upload needs permission storage.delete, as replacing an object does`, undefined, { permission: 'storage.delete' });
  }
}

export class ReplaceForbidden extends DomainError {
  constructor(principal: Principal | null, key: string) {
    const who = principal ? `${principal.name} (role ${principal.role})` : 'this caller';
    super(403, 'forbidden', `${who} may not replace ${JSON.stringify(key)}: replacing an object needs permission storage.delete, as deleting it does`, undefined, { permission: 'storage.delete' });
  }
}

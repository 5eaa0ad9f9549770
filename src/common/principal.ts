import type { IncomingMessage } from 'node:http';

/** The roles a user may have, from most to least allowed. */
export const ROLES = ['admin', 'deployer', 'viewer'] as const;
export type RoleName = (typeof ROLES)[number];

/**
 * Who is calling, found once per request by AdminAuth's onRequest hook: the config's admin token (role
 * admin, named `admin-token`), a user by session cookie or personal token (the user's role), or a storage
 * API token (no role: the ApiTokenGate decides what it reaches by its scopes).
 */
export type Principal =
  | { kind: 'admin-token'; name: 'admin-token'; role: 'admin'; userId: null; tokenId: null }
  | { kind: 'session'; name: string; role: RoleName; userId: string; tokenId: null }
  | { kind: 'personal-token'; name: string; role: RoleName; userId: string; tokenId: string }
  | { kind: 'api-token'; name: string; role: null; userId: null; tokenId: string };

export const ADMIN_TOKEN_PRINCIPAL: Principal = { kind: 'admin-token', name: 'admin-token', role: 'admin', userId: null, tokenId: null };

const principals = new WeakMap<IncomingMessage, Principal>();

export function setPrincipal(request: IncomingMessage, principal: Principal): void {
  principals.set(request, principal);
}

/** The caller of this request (by its raw node request), or null on a public path. */
export function principalOf(request: IncomingMessage): Principal | null {
  return principals.get(request) ?? null;
}

/** How the audit trail names a login attempt whose name is no user's (it may be anything typed, a password too). */
export const UNKNOWN_LOGIN_NAME = '(unknown user)';

const loginActors = new WeakMap<IncomingMessage, string>();

/** Who a login attempt is, for the audit trail: the user's name, or UNKNOWN_LOGIN_NAME. */
export function setLoginActor(request: IncomingMessage, name: string): void {
  loginActors.set(request, name);
}

export function loginActorOf(request: IncomingMessage): string {
  return loginActors.get(request) ?? UNKNOWN_LOGIN_NAME;
}

/** How the audit log names a caller: the user name, `admin-token`, or `token:<id>` for an API token. */
export function actorName(principal: Principal | null): string {
  if (!principal) return 'anonymous';
  if (principal.kind === 'personal-token') return `${principal.name} (token ${principal.tokenId})`;
  return principal.name;
}

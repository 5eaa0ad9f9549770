import { jwtVerify } from 'jose';

/** What one connected client may do; checked per frame. */
export interface RoomAccess {
  /** Who it is, for logs: `admin`, `anonymous`, or the JWT's `sub`. */
  subject: string;
  /** When its token stops being valid (a JWT's `exp`, in ms): the socket is closed then. */
  expiresAt?: number;
  canJoin(room: string): boolean;
  canPublish(room: string): boolean;
}

/** `db.shop.*` -> matches `db.shop.orders`; `*` stands for any run of characters, everything else is literal. */
export function roomPattern(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

export function patternAccess(subject: string, join: string[], publish: string[]): RoomAccess {
  const joinPatterns = join.map(roomPattern);
  const publishPatterns = publish.map(roomPattern);
  return {
    subject,
    canJoin: (room) => joinPatterns.some((pattern) => pattern.test(room)),
    canPublish: (room) => publishPatterns.some((pattern) => pattern.test(room)),
  };
}

export const ADMIN_ACCESS: RoomAccess = { subject: 'admin', canJoin: () => true, canPublish: () => true };

export interface AccessRules {
  isAdminToken(token: string): boolean;
  jwtSecret?: string;
  anonymous: { join: string[]; publish: string[] };
}

/**
 * Turns the token a client connected with into its rights: the admin token
 * may do anything; a JWT (HS256 with `broadcast.jwtSecret`) may join and
 * publish to the room patterns in its `join` and `publish` claims; no token
 * gets the anonymous patterns, which are empty unless configured.
 * Resolves null when the token is refused.
 */
export async function resolveAccess(token: string | undefined, rules: AccessRules): Promise<RoomAccess | null> {
  if (!token) {
    const { join, publish } = rules.anonymous;
    return join.length || publish.length ? patternAccess('anonymous', join, publish) : null;
  }
  if (rules.isAdminToken(token)) return ADMIN_ACCESS;
  if (!rules.jwtSecret) return null;
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(rules.jwtSecret), { algorithms: ['HS256'] });
    const list = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);
    const access = patternAccess(String(payload.sub ?? 'jwt'), list(payload.join), list(payload.publish));
    return typeof payload.exp === 'number' ? { ...access, expiresAt: payload.exp * 1000 } : access;
  } catch {
    return null;
  }
}

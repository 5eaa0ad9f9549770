import { Injectable } from '@nestjs/common';
import type { LookupOptions, PeopleLookup, SessionCaller } from '../common/admin-auth.js';
import type { Principal } from '../common/principal.js';
import { roleHas, type Permission } from './permissions.js';
import { sessionCookiesOf } from './cookies.js';
import { PersonalTokensService } from './personal-tokens.service.js';
import { SessionsService } from './sessions.service.js';
import { UsersService } from './users.service.js';

/** Finds the user behind a personal token or a session cookie, for AdminAuth's hook. A disabled user is nobody. */
@Injectable()
export class AccessPeopleLookup implements PeopleLookup {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly tokens: PersonalTokensService,
  ) {}

  recognizesToken(token: string): boolean {
    return this.tokens.recognizes(token);
  }

  async fromToken(token: string, options: LookupOptions = {}): Promise<Principal | { refused: string }> {
    const checked = await this.tokens.check(token, options);
    if ('refused' in checked) return checked;
    const user = await this.users.findById(checked.row.userId);
    if (!user || user.disabledAt !== null) return { refused: `the personal token ${checked.row.id} belongs to a disabled user` };
    return { kind: 'personal-token', name: user.name, role: user.role, userId: user.id, tokenId: checked.row.id };
  }

  allows(principal: Principal, permission: string): boolean {
    return principal.role !== null && roleHas(principal.role, permission as Permission);
  }

  async fromCookies(cookieHeader: string | undefined, options: LookupOptions = {}): Promise<(SessionCaller & { cookieCsrf: string | undefined }) | null> {
    const cookies = sessionCookiesOf(cookieHeader, options.secure);
    const secret = cookies.session;
    if (!secret) return null;
    const session = options.peek ? await this.sessions.peek(secret) : await this.sessions.resume(secret);
    if (!session) return null;
    const user = await this.users.findById(session.userId);
    if (!user || user.disabledAt !== null) return null;
    return {
      principal: { kind: 'session', name: user.name, role: user.role, userId: user.id, tokenId: null },
      csrf: session.csrf,
      cookieCsrf: cookies.csrf,
    };
  }
}

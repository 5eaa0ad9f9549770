import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminAuth } from '../common/admin-auth.js';
import { DomainError } from '../common/errors.js';
import { principalOf, type Principal } from '../common/principal.js';
import { refusePersonalTokenMaker } from '../common/token-maker.js';
import { setLoginActor, UNKNOWN_LOGIN_NAME } from '../common/principal.js';
import { ZodPipe } from '../common/zod-pipe.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { CSRF_HEADER, sessionCookies, sessionCookiesOf } from './cookies.js';
import { createPersonalTokenSchema, loginSchema, tokenIdParam, type CreatePersonalTokenInput } from './dto/access.dto.js';
import { LoginLimiter } from './login-limiter.js';
import { ROLE_PERMISSIONS } from './permissions.js';
import { PersonalTokensService } from './personal-tokens.service.js';
import { SessionsService } from './sessions.service.js';
import { UsersService } from './users.service.js';

export class RateLimited extends DomainError {
  constructor(readonly retryAfter: number) {
    super(429, 'too_many_requests', `try again in ${retryAfter} s`, undefined, { retryAfter });
  }
}

/** What `GET /auth/me` and GraphQL `me` answer: who is calling and every permission its role holds. */
export function meOf(principal: Principal): { name: string; role: string | null; permissions: string[] } {
  return { name: principal.name, role: principal.role, permissions: principal.role ? [...ROLE_PERMISSIONS[principal.role]] : [] };
}

export function signedIn(request: FastifyRequest): Principal {
  const principal = principalOf(request.raw);
  if (!principal) throw new DomainError(401, 'unauthorized', 'log in first');
  return principal;
}

/** The user's own id; the admin token and API tokens are no user, so they have no personal tokens. */
export function ownUserId(principal: Principal): string {
  if (principal.userId === null) throw new DomainError(403, 'forbidden', `${principal.name} is not a user: personal tokens belong to users`);
  return principal.userId;
}

/**
 * The user making a personal token, who must be signed in with a session: a token made by another token
 * would live on after that one is revoked or expires, so a stolen token could keep its access for good.
 */
export function tokenMaker(principal: Principal): string {
  refusePersonalTokenMaker(principal, 'personal tokens');
  return ownUserId(principal);
}

/** Login, logout and who-am-I for the console; a user's own personal tokens. */
@Controller('auth')
export class AuthController {
  private readonly absoluteSeconds: number;

  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly tokens: PersonalTokensService,
    private readonly limiter: LoginLimiter,
    private readonly adminAuth: AdminAuth,
    @InjectConfig() config: DozenConfig,
  ) {
    this.absoluteSeconds = Math.ceil(config.access.session.absoluteHours * 3600);
  }

  /** 200 with the user and the two cookies; 401 on a wrong name or password; 429 while the name or the address is locked out. */
  @Post('login')
  @HttpCode(200)
  async login(@Body(new ZodPipe(loginSchema)) input: { username: string; password: string }, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    this.assertOwnPage(request, 'log in');
    // JSON only: an HTML form of another site can send a urlencoded body without a preflight, never application/json.
    if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
      throw new DomainError(415, 'unsupported_media_type', 'POST /auth/login takes a JSON body (content-type: application/json)', 'content-type');
    }
    const name = input.username.toLowerCase();
    // Counted before the ~0.1 s hash, so a burst of parallel guesses gets no more checks than the limit.
    const wait = await this.limiter.admit(name, request.ip);
    if (wait > 0) {
      void reply.header('retry-after', String(wait));
      throw new RateLimited(wait);
    }
    const { user, known } = await this.users.verify(name, input.password);
    // The audit trail names who tried: a user's name, never what else was typed (a password in the name field).
    setLoginActor(request.raw, known ? name : UNKNOWN_LOGIN_NAME);
    if (!user) {
      await this.limiter.failed(name, request.ip);
      throw new DomainError(401, 'unauthorized', 'wrong user name or password');
    }
    await this.limiter.succeeded(name, request.ip);
    const session = await this.sessions.start(user.id, request.ip);
    void reply.header('set-cookie', sessionCookies(session, this.absoluteSeconds, request.protocol === 'https'));
    return { user: { name: user.name, role: user.role } };
  }

  /**
   * 204; ends the session server-side and clears both cookies, also when the session has already
   * ended (public, so a stale console can always log out). A live session needs its CSRF header.
   */
  @Post('logout')
  @HttpCode(204)
  async logout(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    this.assertOwnPage(request, 'log out');
    const secret = sessionCookiesOf(request.headers.cookie, request.protocol === 'https').session;
    const session = secret ? await this.sessions.resume(secret) : null;
    if (session && request.headers[CSRF_HEADER] !== session.csrf) {
      throw new DomainError(403, 'csrf', `a POST with the session cookie needs header ${CSRF_HEADER} equal to the dozen_csrf cookie`);
    }
    if (secret) await this.sessions.end(secret);
    void reply.header('set-cookie', sessionCookies(null, 0, request.protocol === 'https'));
  }

  /** Login and logout from a page of another origin (not the admin API's own, nor in admin.allowedOrigins) are refused: login CSRF. */
  private assertOwnPage(request: FastifyRequest, what: string): void {
    const foreign = this.adminAuth.sessionOriginRefused(request);
    if (foreign !== undefined) throw new DomainError(403, 'origin', `pages of ${foreign} may not ${what}; list it in admin.allowedOrigins if the console is served there`, 'origin');
  }

  @Get('me')
  me(@Req() request: FastifyRequest) {
    return meOf(signedIn(request));
  }

  @Get('tokens')
  async listTokens(@Req() request: FastifyRequest) {
    return { tokens: await this.tokens.list(ownUserId(signedIn(request))) };
  }

  /** 201 with `token`: the only answer that ever contains it. */
  @Post('tokens')
  createToken(@Req() request: FastifyRequest, @Body(new ZodPipe(createPersonalTokenSchema)) input: CreatePersonalTokenInput) {
    return this.tokens.create(tokenMaker(signedIn(request)), input);
  }

  @Delete('tokens/:id')
  revokeToken(@Req() request: FastifyRequest, @Param('id', new ZodPipe(tokenIdParam, 'id')) id: string) {
    return this.tokens.revoke(ownUserId(signedIn(request)), id);
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import proxyAddr from '@fastify/proxy-addr';
import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiTokenGate } from './api-token-gate.js';
import { ADMIN_TOKEN_PRINCIPAL, setPrincipal, type Principal } from './principal.js';
import { bearerOf } from './secrets.js';

/** A user found from a session cookie, with the CSRF value its session expects on every unsafe request. */
export interface SessionCaller {
  principal: Principal;
  csrf: string;
}

export interface LookupOptions {
  /** Look without counting it as a use (a session's idle time and a token's last use stay as they are). */
  peek?: boolean;
  /** Whether the request came over TLS (the session cookie's name depends on it); undefined: not known. */
  secure?: boolean;
}

/** Where users are kept (the access module): the callers behind personal tokens and session cookies. */
export interface PeopleLookup {
  recognizesToken(token: string): boolean;
  fromToken(token: string, options?: LookupOptions): Promise<Principal | { refused: string }>;
  /** The session's caller for this request's cookies, or null when it carries no live session. */
  fromCookies(cookieHeader: string | undefined, options?: LookupOptions): Promise<(SessionCaller & { cookieCsrf: string | undefined }) | null>;
  /** Whether the caller's role holds this permission of the permission table. */
  allows(principal: Principal, permission: string): boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CSRF_HEADER = 'x-dozen-csrf';

/**
 * Who is calling, decided once per request in a Fastify onRequest hook, so REST, GraphQL and anything
 * added later are covered alike: the admin token, an API token (handed to the ApiTokenGate), a personal
 * token or a session cookie (the access module's PeopleLookup). A cookie-authenticated request that is
 * not GET/HEAD must echo the CSRF cookie in x-dozen-csrf (double submit); bearer requests need not (a
 * browser never adds a bearer header by itself). Paths with their own auth (the WebSocket hub) or none
 * (/health, /metrics, login) are public. What each caller may do is the access guard's business.
 */
@Injectable()
export class AdminAuth {
  private readonly publicPrefixes = new Set<string>(['/health', '/metrics']);
  private readonly publicPaths = new Set<string>();
  private tokenDigest: Buffer | null = null;
  private people: PeopleLookup | null = null;
  private allowedOrigins = new Set<string>();
  private trustedProxy: (address: string, hop: number) => boolean = () => false;

  constructor(private readonly apiTokens: ApiTokenGate) {}

  setToken(token: string): void {
    this.tokenDigest = digest(token);
  }

  /** Origins besides the admin API's own whose pages may use the session cookie (admin.allowedOrigins). */
  allowOrigins(origins: readonly string[]): void {
    this.allowedOrigins = new Set(origins.map((origin) => new URL(origin).origin));
  }

  /** admin.trustedProxies: the peers whose X-Forwarded-Proto counts, compiled as Fastify compiles its trustProxy. */
  trustProxies(proxies: readonly string[]): void {
    this.trustedProxy = proxies.length ? proxyAddr.compile([...proxies]) : () => false;
  }

  /** The client's address as Fastify's `request.ip` gives it: the peer, or what a proxy of admin.trustedProxies forwarded. */
  clientAddress(request: IncomingMessage): string {
    return proxyAddr(request, this.trustedProxy);
  }

  usePeople(people: PeopleLookup): void {
    this.people = people;
  }

  /** Lets requests under `prefix` through without the admin token; their handler must authenticate them itself. */
  allowWithoutAdminToken(prefix: string): void {
    this.publicPrefixes.add(prefix);
  }

  /** Lets this exact path through without credentials (the login endpoint). */
  allowPath(path: string): void {
    this.publicPaths.add(path);
  }

  isPublic(path: string): boolean {
    if (this.publicPaths.has(path)) return true;
    for (const prefix of this.publicPrefixes) {
      if (path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : prefix + '/') || path.startsWith(prefix + '?')) return true;
    }
    return false;
  }

  /** True when the Authorization header carries the admin token; compared in constant time. */
  isAdmin(authorization: string | undefined): boolean {
    const token = bearerOf(authorization);
    return token !== null && this.isAdminToken(token);
  }

  /** True for the form of a personal token (a user's), which `callerOf` resolves. */
  isPersonalToken(token: string): boolean {
    return this.people?.recognizesToken(token) ?? false;
  }

  /**
   * The user behind a WebSocket upgrade: its personal token when it sent one, else its session cookie
   * when the page that opened it is of an allowed origin (see `foreignOrigin`). Null when neither is live.
   */
  async callerOf(request: IncomingMessage, token: string | undefined): Promise<Principal | null> {
    if (!this.people) return null;
    if (token !== undefined) {
      const found = await this.people.fromToken(token);
      return 'refused' in found ? null : found;
    }
    if (this.foreignOrigin(request.headers.origin, request.headers.host)) return null;
    return (await this.people.fromCookies(request.headers.cookie, { secure: this.overTls(request) }))?.principal ?? null;
  }

  /**
   * Whether a request Fastify did not see (a WebSocket upgrade) came over TLS, decided as Fastify's
   * `request.protocol` decides it for the HTTP routes: the last X-Forwarded-Proto when the peer is in
   * admin.trustedProxies, else the socket's own TLS. Over TLS only the `__Host-` session cookie counts.
   */
  private overTls(request: IncomingMessage): boolean {
    const forwarded = request.headers['x-forwarded-proto'];
    const address = request.socket.remoteAddress;
    if (typeof forwarded === 'string' && forwarded && address !== undefined && this.trustedProxy(address, 0)) {
      return forwarded.slice(forwarded.lastIndexOf(',') + 1).trim() === 'https';
    }
    return (request.socket as TLSSocket).encrypted === true;
  }

  /**
   * The Origin of a cookie-carrying browser request when it is neither the admin API's own (its host is the
   * request's Host) nor in admin.allowedOrigins; undefined when it may use the session. SameSite=Strict
   * keeps other sites' pages from sending the cookie, but not pages of the same site: an app served on
   * chat.example.net could open a WebSocket to a console on dozen.example.net with the user's cookie
   * (cross-site WebSocket hijacking; WebSockets have no CORS). A request without Origin is not a
   * cross-origin browser request (browsers send it on every WebSocket and cross-origin request).
   */
  private foreignOrigin(origin: string | undefined, host: string | undefined): string | undefined {
    if (origin === undefined || this.allowedOrigins.has(origin)) return undefined;
    try {
      if (host !== undefined && new URL(origin).host === host.toLowerCase()) return undefined;
    } catch {
      // "null" (a sandboxed page, a file) and other non-URLs are foreign.
    }
    return origin;
  }

  /**
   * The foreign Origin of a request that starts or ends a session (`/auth/login`, `/auth/logout`), which
   * carries no session cookie yet the hook could check: a page of another site that posts a login form
   * would sign the victim's browser into the attacker's account (login CSRF), where whatever the victim
   * types, secrets too, lands. Undefined for a request without Origin (not a browser's cross-origin one).
   */
  sessionOriginRefused(request: FastifyRequest): string | undefined {
    return this.foreignOrigin(request.headers.origin, request.host);
  }

  /**
   * Who the caller of a long-lived connection (a WebSocket) is now, from the credentials it opened with
   * (`token`: the bearer or `?token=` it sent): null once its session or personal token ended or its user
   * was disabled. A look, not a use: an open socket does not keep a session from idling out.
   */
  async currentCaller(opened: Principal, request: IncomingMessage, token: string | null): Promise<Principal | null> {
    if (opened.kind === 'admin-token' || opened.kind === 'api-token') return opened;
    if (!this.people) return null;
    if (opened.kind === 'personal-token') {
      const found = token === null ? null : await this.people.fromToken(token, { peek: true });
      return found === null || 'refused' in found ? null : found;
    }
    return (await this.people.fromCookies(request.headers.cookie, { peek: true, secure: this.overTls(request) }))?.principal ?? null;
  }

  /** Whether a caller's role holds a permission of the permission table (the admin token holds them all). */
  allows(principal: Principal, permission: string): boolean {
    if (principal.kind === 'admin-token') return true;
    return this.people?.allows(principal, permission) ?? false;
  }

  readonly hook = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.isPublic(request.url.split('?')[0])) return;
    const token = bearerOf(request.headers.authorization);
    if (token !== null) {
      if (this.isAdminToken(token)) return setPrincipal(request.raw, ADMIN_TOKEN_PRINCIPAL);
      if (this.apiTokens.recognizes(token)) return this.apiTokens.admit(request, reply, token);
      if (this.people?.recognizesToken(token)) {
        const found = await this.people.fromToken(token);
        if ('refused' in found) return unauthorized(reply, found.refused, 'error="invalid_token"');
        return setPrincipal(request.raw, found);
      }
      return unauthorized(reply, 'the token is wrong', 'error="invalid_token"');
    }
    const session = await this.people?.fromCookies(request.headers.cookie, { secure: request.protocol === 'https' });
    if (session) {
      // Behind a proxy of admin.trustedProxies, Fastify's host is its X-Forwarded-Host.
      const foreign = this.foreignOrigin(request.headers.origin, request.host);
      if (foreign !== undefined) {
        await reply.status(403).type('application/json').send({ error: 'origin', message: `the session cookie is not accepted from pages of ${foreign}; list it in admin.allowedOrigins if the console is served there` });
        return;
      }
      if (!SAFE_METHODS.has(request.method)) {
        const sent = request.headers[CSRF_HEADER];
        if (typeof sent !== 'string' || sent !== session.cookieCsrf || !sameSecret(sent, session.csrf)) {
          await reply.status(403).type('application/json').send({ error: 'csrf', message: `a ${request.method} with the session cookie needs header ${CSRF_HEADER} equal to the dozen_csrf cookie` });
          return;
        }
      }
      return setPrincipal(request.raw, session.principal);
    }
    const message = request.headers.cookie?.includes('dozen_session=')
      ? 'the session has ended; log in again'
      : 'log in, or send a token: Authorization: Bearer <token>';
    return unauthorized(reply, message);
  };

  /** The second half of API token checks (a token's key prefix), once the body is parsed; nothing to do for the admin token. */
  readonly preHandler = (request: FastifyRequest, reply: FastifyReply): Promise<void> => this.apiTokens.preHandler(request, reply);

  private isAdminToken(token: string): boolean {
    return this.tokenDigest !== null && timingSafeEqual(digest(token), this.tokenDigest);
  }
}

async function unauthorized(reply: FastifyReply, message: string, challenge?: string): Promise<void> {
  await reply
    .status(401)
    .header('www-authenticate', `Bearer realm="dozen"${challenge ? `, ${challenge}` : ''}`)
    .type('application/json')
    .send({ error: 'unauthorized', message });
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

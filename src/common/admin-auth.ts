import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiTokenGate } from './api-token-gate.js';
import { bearerOf } from './secrets.js';

/**
 * The admin bearer token check, run as a Fastify onRequest hook so it guards
 * REST, GraphQL and anything added later alike. Paths that carry their own
 * auth (the WebSocket hub checks its token on connect) or none (/health,
 * /metrics) are listed as public. A bearer that is an API token goes to the
 * ApiTokenGate, which lets it through only where a module opened a route to it.
 */
@Injectable()
export class AdminAuth {
  private readonly publicPrefixes = new Set<string>(['/health', '/metrics']);
  private readonly publicPaths = new Set<string>();
  private tokenDigest: Buffer | null = null;

  constructor(private readonly apiTokens: ApiTokenGate) {}

  setToken(token: string): void {
    this.tokenDigest = digest(token);
  }

  /** Lets requests under `prefix` through without the admin token; their handler must authenticate them itself. */
  allowWithoutAdminToken(prefix: string): void {
    this.publicPrefixes.add(prefix);
  }

  /** Lets exactly `path` through (not what lies below it): `/` serves the console page, everything under it stays guarded. */
  allowExactPathWithoutAdminToken(path: string): void {
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

  readonly hook = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.isPublic(request.url.split('?')[0])) return;
    const token = bearerOf(request.headers.authorization);
    if (token !== null && this.isAdminToken(token)) return;
    if (token !== null && this.apiTokens.recognizes(token)) return this.apiTokens.admit(request, reply, token);
    await reply
      .status(401)
      .header('www-authenticate', 'Bearer realm="dozen"')
      .type('application/json')
      .send({ error: 'unauthorized', message: request.headers.authorization ? 'the admin token is wrong' : 'an admin token is required: Authorization: Bearer <token>' });
  };

  /** The second half of API token checks (a token's key prefix), once the body is parsed; nothing to do for the admin token. */
  readonly preHandler = (request: FastifyRequest, reply: FastifyReply): Promise<void> => this.apiTokens.preHandler(request, reply);

  private isAdminToken(token: string): boolean {
    return this.tokenDigest !== null && timingSafeEqual(digest(token), this.tokenDigest);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The admin bearer token check, run as a Fastify onRequest hook so it guards
 * REST, GraphQL and anything added later alike. Paths that carry their own
 * auth (the WebSocket hub checks its token on connect) or none (/health,
 * /metrics) are listed as public.
 */
@Injectable()
export class AdminAuth {
  private readonly publicPrefixes = new Set<string>(['/health', '/metrics']);
  private tokenDigest: Buffer | null = null;

  setToken(token: string): void {
    this.tokenDigest = digest(token);
  }

  /** Lets requests under `prefix` through without the admin token; their handler must authenticate them itself. */
  allowWithoutAdminToken(prefix: string): void {
    this.publicPrefixes.add(prefix);
  }

  isPublic(path: string): boolean {
    for (const prefix of this.publicPrefixes) {
      if (path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : prefix + '/') || path.startsWith(prefix + '?')) return true;
    }
    return false;
  }

  /** True when the Authorization header carries the admin token; compared in constant time. */
  isAdmin(authorization: string | undefined): boolean {
    if (!this.tokenDigest || !authorization) return false;
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (!match) return false;
    return timingSafeEqual(digest(match[1]), this.tokenDigest);
  }

  readonly hook = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.isPublic(request.url.split('?')[0])) return;
    if (this.isAdmin(request.headers.authorization)) return;
    await reply
      .status(401)
      .header('www-authenticate', 'Bearer realm="dozen"')
      .type('application/json')
      .send({ error: 'unauthorized', message: request.headers.authorization ? 'the admin token is wrong' : 'an admin token is required: Authorization: Bearer <token>' });
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

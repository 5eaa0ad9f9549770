import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { setPrincipal } from './principal.js';

/** What a valid API token grants: scopes (aliases already expanded) and, when set, the prefix every resource it reaches must start with. */
export interface ApiTokenGrant {
  id: string;
  scopes: readonly string[];
  prefix: string | null;
}

/** Where API tokens are kept (the tokens module): tells its tokens by their form, and finds what one grants or why it grants nothing. */
export interface ApiTokenLookup {
  recognizes(token: string): boolean;
  check(token: string): Promise<{ grant: ApiTokenGrant } | { refused: string }>;
}

/** One route a module opens to API tokens. */
export interface TokenRoute {
  scope: string;
  /**
   * The name a confined token's prefix must cover (an object key, a listing's prefix). Called only for
   * tokens with a prefix, after the body is parsed (some routes name their key in it); may throw a DomainError.
   */
  resource(request: FastifyRequest): Promise<string> | string;
}

/** Routes under `prefix` a module opens to API tokens; `match` answers null for those that stay admin-only. */
export interface ApiTokenRoutes {
  prefix: string;
  match(method: string, path: string): TokenRoute | null;
}

/**
 * API tokens at the admin port. A module declares which of its routes accept
 * them and the scope each needs (`accept`); everything else (GraphQL, other
 * modules, /tokens itself) stays admin-only. AdminAuth hands it every bearer
 * the lookup recognizes: `admit` checks the token and the scope on request,
 * `preHandler` the prefix once the body is parsed.
 */
@Injectable()
export class ApiTokenGate {
  private lookup: ApiTokenLookup | null = null;
  private readonly routes: ApiTokenRoutes[] = [];
  private readonly confined = new WeakMap<FastifyRequest, { prefix: string; route: TokenRoute }>();

  useLookup(lookup: ApiTokenLookup): void {
    this.lookup = lookup;
  }

  accept(routes: ApiTokenRoutes): void {
    this.routes.push(routes);
  }

  recognizes(token: string): boolean {
    return this.lookup?.recognizes(token) ?? false;
  }

  /** onRequest: 401 for an unknown, revoked or expired token; 403 unless this route accepts tokens and the token holds its scope. */
  async admit(request: FastifyRequest, reply: FastifyReply, token: string): Promise<void> {
    const checked = await this.lookup!.check(token);
    if ('refused' in checked) return refuse(reply, 401, { error: 'unauthorized', message: checked.refused }, 'error="invalid_token"');
    const path = request.url.split('?')[0];
    const routes = this.routes.find((candidate) => path === candidate.prefix || path.startsWith(candidate.prefix + '/'));
    const route = routes?.match(request.method, path) ?? null;
    if (!route) {
      return refuse(reply, 403, { error: 'forbidden', message: `API tokens do not reach ${request.method} ${path}; it needs the admin token` }, 'error="insufficient_scope"');
    }
    if (!checked.grant.scopes.includes(route.scope)) {
      const message = `${request.method} ${path} needs scope ${route.scope}; this token has ${checked.grant.scopes.join(', ')}`;
      return refuse(reply, 403, { error: 'insufficient_scope', message, scope: route.scope }, `error="insufficient_scope", scope="${route.scope}"`);
    }
    setPrincipal(request.raw, { kind: 'api-token', name: `token:${checked.grant.id}`, role: null, userId: null, tokenId: checked.grant.id });
    if (checked.grant.prefix !== null) this.confined.set(request, { prefix: checked.grant.prefix, route });
  }

  /** preHandler: a token with a prefix reaches only resources whose names start with it. */
  readonly preHandler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const confinement = this.confined.get(request);
    if (!confinement) return;
    const resource = await confinement.route.resource(request);
    if (resource.startsWith(confinement.prefix)) return;
    const message = `this token reaches only keys under ${JSON.stringify(confinement.prefix)}; ${JSON.stringify(resource)} is outside`;
    return refuse(reply, 403, { error: 'forbidden', message });
  };
}

async function refuse(reply: FastifyReply, status: number, body: { error: string; message: string; scope?: string }, challenge?: string): Promise<void> {
  if (challenge) void reply.header('www-authenticate', `Bearer realm="dozen", ${challenge}`);
  await reply.status(status).type('application/json').send(body);
}

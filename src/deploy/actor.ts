import type { FastifyReply, FastifyRequest } from 'fastify';
import { roleHas } from '../access/permissions.js';
import { actorName, principalOf } from '../common/principal.js';
import type { Actor } from './audit.service.js';

/** Mercurius's context holds Fastify's reply; AdminAuth's hook found the caller of its request. */
export interface GraphQLContext {
  reply: FastifyReply;
}

/** The caller of a REST request, for deploy's audit events and the checks a route's own permission cannot make. */
export function actorOfRequest(request: FastifyRequest): Actor {
  const principal = principalOf(request.raw);
  return { name: actorName(principal), address: request.ip ?? null, managesSecrets: principal?.role ? roleHas(principal.role, 'deploy.secrets') : false };
}

/** The caller of a GraphQL operation (the request it came in). */
export function actorOfGraphQL(context: GraphQLContext): Actor {
  return actorOfRequest(context.reply.request);
}

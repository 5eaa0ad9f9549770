import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLResolveInfo } from 'graphql';
import type { WebSocket } from 'ws';
import { AuditRecorder } from '../audit/audit-recorder.js';
import type { AdminAuth } from '../common/admin-auth.js';
import type { LiveCallers } from '../common/live-callers.js';
import { principalOf, type Principal } from '../common/principal.js';
import { bearerOf } from '../common/secrets.js';
import { GRAPHQL_FIELDS, roleHas, routeRequirement, type Requirement } from './permissions.js';

/** Why a caller may not do something, or null when it may. */
export function refusal(principal: Principal | null, requirement: Requirement | undefined, what: string): { status: 401 | 403; message: string } | null {
  if (requirement === undefined) return { status: 403, message: `${what} has no entry in the permission table, so nobody may call it` };
  if (requirement === 'public') return null;
  if (!principal) return { status: 401, message: 'log in, or send a token: Authorization: Bearer <token>' };
  if (requirement === 'graphql' || requirement === 'signed-in') return null;
  // A storage API token reaches only the routes a module opened to it, checked by scope in the ApiTokenGate.
  if (principal.kind === 'api-token') return null;
  if (roleHas(principal.role, requirement)) return null;
  return { status: 403, message: `${principal.name} (role ${principal.role}) may not ${what}: it needs permission ${requirement}` };
}

/**
 * The one place that decides what a caller may do, from the permission table: every REST route (a Fastify
 * onRequest hook, run right after AdminAuth found the caller, before the body is read) and every GraphQL
 * root field (this Nest guard, global). A route or field without an entry is refused.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly served: { method: string; path: string }[] = [];

  constructor(private readonly audit: AuditRecorder) {}

  /** Fastify's onRoute hook: remembers every route served, for GET /access/table. */
  readonly onRoute = (route: { method: string | string[]; url: string }): void => {
    for (const method of [route.method].flat()) this.served.push({ method, path: route.url });
  };

  routes(): { method: string; path: string }[] {
    return [...this.served];
  }

  readonly hook = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const pattern = request.routeOptions.url;
    // No route matched: Fastify's 404 answers, whoever asks.
    if (pattern === undefined) return;
    const requirement = routeRequirement(request.method, pattern);
    const refused = refusal(principalOf(request.raw), requirement, `${request.method} ${pattern}`);
    if (!refused) return;
    const body = { error: refused.status === 401 ? 'unauthorized' : 'forbidden', message: refused.message, ...(requirement && refused.status === 403 ? { permission: requirement } : {}) };
    await reply.status(refused.status).type('application/json').send(body);
  };

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // REST was decided by the hook above; only GraphQL fields reach this guard undecided.
    if (context.getType<GqlContextType>() !== 'graphql') return true;
    const graphql = GqlExecutionContext.create(context);
    const info = graphql.getInfo<GraphQLResolveInfo>();
    const field = `${info.parentType.name}.${info.fieldName}`;
    // Only root fields carry a decision; the fields of an object the caller may read are readable too.
    if (!['Query', 'Mutation', 'Subscription'].includes(info.parentType.name)) return true;
    const requirement = GRAPHQL_FIELDS[field];
    const principal = await graphqlPrincipal(graphql.getContext());
    const refused = refusal(principal, requirement, field);
    if (!refused) return true;
    this.audit.refused(context);
    throw new GraphQLError(refused.message, { extensions: { code: refused.status === 401 ? 'unauthorized' : 'forbidden', status: refused.status, ...(requirement ? { permission: requirement } : {}) } });
  }
}

/** What a GraphQL subscription's resolvers get from the WebSocket it runs on. */
interface SubscriptionContext {
  /** The socket's caller as of now: checked again for each new subscription (null, and the socket closed, once it changed). */
  caller(): Promise<Principal | null>;
}

/**
 * For `GraphQLModule.forRoot({ subscription: { context } })`, at each socket's connection_init. Its caller
 * was found by AdminAuth's hook on the WebSocket upgrade request (session cookie or bearer); LiveCallers
 * follows it from there, so a logout, a revoked token, a disabled user or a new role closes the socket, and
 * the guard asks for the caller again before each new subscription on it.
 */
export function subscriptionContext(live: LiveCallers, auth: AdminAuth) {
  return (socket: WebSocket, request: FastifyRequest): SubscriptionContext => {
    const opened = principalOf(request.raw);
    if (!opened) return { caller: async () => null };
    const token = bearerOf(request.headers.authorization);
    const tracked = live.track(socket, opened, () => auth.currentCaller(opened, request.raw, token));
    socket.once('close', tracked.untrack);
    return { caller: tracked.current };
  };
}

/** The caller of a GraphQL operation: over HTTP, the one AdminAuth found for its request; over a subscription's socket, its caller now. */
async function graphqlPrincipal(context: { reply?: FastifyReply } & Partial<SubscriptionContext>): Promise<Principal | null> {
  // A subscription's context has both: this, and Mercurius's stand-in reply holding the upgrade request.
  if (context.caller) return context.caller();
  return context.reply ? principalOf(context.reply.request.raw) : null;
}

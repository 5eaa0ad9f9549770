import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GraphQLResolveInfo } from 'graphql';
import type { Logger } from 'pino';
import { tap, type Observable } from 'rxjs';
import { GRAPHQL_FIELDS, moduleOfRoute } from '../access/permissions.js';
import { GRAPHQL_PATH } from '../common/graphql-limits.js';
import { InjectLogger } from '../common/core.module.js';
import { actorName, loginActorOf, principalOf } from '../common/principal.js';
import type { Outcome } from './audit.entity.js';
import { AuditTrail, type AuditRecord } from './audit-trail.service.js';

/**
 * Modules that record their own, named event for each mutation that succeeds (deploy: `app.create`,
 * `instance.restart`, ... with the real actor); for them the edge records only what was refused or failed.
 */
const SELF_AUDITED = new Set(['deploy']);
/** Renewals and pieces of a larger change, not changes of their own: a heartbeat per instance per second, each part of an upload. */
const NOT_AUDITED = new Set(['PUT /registry/instances/:id/heartbeat', 'PUT /storage/uploads/:id/parts/:partNumber']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function outcomeOf(status: number): Outcome {
  if (status < 400) return 'ok';
  return status === 401 || status === 403 || status === 429 ? 'refused' : 'failed';
}

/**
 * Writes every mutation to the audit trail at the edge: each REST request that is not GET/HEAD (a Fastify
 * onResponse hook, so its outcome is known) and each GraphQL mutation (this interceptor; refusals by the
 * access guard are recorded by it through `refused`). The trail hides the secrets among the arguments.
 */
@Injectable()
export class AuditRecorder implements NestInterceptor {
  private readonly log: Logger;

  constructor(
    private readonly trail: AuditTrail,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'audit' });
  }

  readonly onResponse = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const pattern = request.routeOptions.url;
    if (pattern === undefined || SAFE_METHODS.has(request.method) || pattern === GRAPHQL_PATH) return;
    const action = `${request.method} ${pattern}`;
    if (NOT_AUDITED.has(action)) return;
    const module = moduleOfRoute(pattern);
    const outcome = outcomeOf(reply.statusCode);
    if (outcome === 'ok' && SELF_AUDITED.has(module)) return;
    const params = (request.params ?? {}) as Record<string, string>;
    // A login has no caller yet: the user it tried is the actor (an unknown name is not written: it may be a password typed in the wrong field).
    const actor = pattern === '/auth/login' ? loginActorOf(request.raw) : actorName(principalOf(request.raw));
    this.write({ module, actor, action, target: Object.values(params).join('/'), detail: { status: reply.statusCode }, address: request.ip, outcome });
  };

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const mutation = this.mutationOf(context);
    if (!mutation) return next.handle();
    return next.handle().pipe(
      tap({
        next: () => mutation.outcome('ok'),
        error: (error: { extensions?: { status?: number }; status?: number }) => mutation.outcome(outcomeOf(error.extensions?.status ?? error.status ?? 500)),
      }),
    );
  }

  /** Records a GraphQL mutation the access guard refused (guards run before interceptors). */
  refused(context: ExecutionContext): void {
    this.mutationOf(context)?.outcome('refused');
  }

  private mutationOf(context: ExecutionContext): { outcome(outcome: Outcome): void } | null {
    if (context.getType<GqlContextType>() !== 'graphql') return null;
    const graphql = GqlExecutionContext.create(context);
    const info = graphql.getInfo<GraphQLResolveInfo>();
    if (info.parentType.name !== 'Mutation') return null;
    const field = `Mutation.${info.fieldName}`;
    const module = moduleOfField(field);
    const args = graphql.getArgs<Record<string, unknown>>();
    const { reply } = graphql.getContext<{ reply: FastifyReply }>();
    const target = ['name', 'app', 'id', 'key', 'room', 'domain'].map((name) => args[name]).find((value) => typeof value === 'string') as string | undefined;
    return {
      outcome: (outcome) => {
        if (outcome === 'ok' && SELF_AUDITED.has(module)) return;
        this.write({ module, actor: actorName(principalOf(reply.request.raw)), action: field, target: target ?? '', detail: { args }, address: reply.request.ip, outcome });
      },
    };
  }

  private write(event: AuditRecord): void {
    this.trail.record(event).catch((error: unknown) => this.log.error({ err: error, action: event.action, actor: event.actor }, 'audit event not written'));
  }
}

/** A GraphQL field's module: its permission's (deploy.write -> deploy); fields every user may call are `auth`, or `notify` for one's own channels. */
function moduleOfField(field: string): string {
  const requirement = GRAPHQL_FIELDS[field];
  if (requirement === undefined || requirement === 'signed-in') return /NotifyChannel$/.test(field) ? 'notify' : 'auth';
  return requirement.split('.')[0];
}

import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { ZodError } from 'zod';

/**
 * The base of every module's domain errors (AppNotFound, DomainTaken, ...).
 * Thrown anywhere below a controller; mapped to HTTP once, by HttpErrorFilter.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly field?: string,
    /** More fields of the JSON body, e.g. `retryAfter` of a 429. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export class NotFound extends DomainError {
  constructor(what: string, id: string) {
    super(404, 'not_found', `${what} ${JSON.stringify(id)} does not exist`);
  }
}

export class BadInput extends DomainError {
  constructor(field: string, message: string) {
    super(400, 'bad_request', `${field}: ${message}`, field);
  }
}

export interface ErrorBody {
  error: string;
  message: string;
  field?: string;
  [detail: string]: unknown;
}

/** Turns a zod failure on request input into the one-field 400 body clients read. */
export function badInputFromZod(error: ZodError, prefix = ''): BadInput {
  const issue = error.issues[0];
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || prefix || 'body';
  const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
  return new BadInput(field, missing ? `is required (${issue.expected})` : issue.message);
}

/**
 * Maps every error leaving a REST handler to `{error, message, field?}` with the right status, and every
 * error leaving a GraphQL resolver to a GraphQLError whose extensions carry the same body's `code`,
 * `status`, `field` and details, so API clients tell a 404 from a 409 without reading the message. An
 * unexpected error says only `internal error` to the caller (its text may hold SQL or paths) and is logged.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Pick<Logger, 'error'>) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const type = host.getType<string>();
    if (type === 'graphql') throw this.toGraphQL(exception);
    if (type !== 'http') throw exception;
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const [status, body] = toHttp(exception);
    if (status >= 500) reply.request?.log?.error({ err: exception }, 'request failed');
    void reply.status(status).type('application/json').send(body);
  }

  private toGraphQL(exception: unknown): GraphQLError {
    // The access guard's refusals, and graphql-js's own, already say what they are.
    if (exception instanceof GraphQLError) return exception;
    const [status, { error, message, ...details }] = toHttp(exception);
    if (status >= 500) this.logger.error({ err: exception }, 'graphql resolver failed');
    return new GraphQLError(message, { extensions: { ...details, code: error, status } });
  }
}

export function toHttp(exception: unknown): [number, ErrorBody] {
  if (exception instanceof DomainError) {
    return [exception.status, { ...exception.details, error: exception.error, message: exception.message, ...(exception.field ? { field: exception.field } : {}) }];
  }
  if (exception instanceof ZodError) {
    const bad = badInputFromZod(exception);
    return toHttp(bad);
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const message = typeof response === 'string' ? response : ((response as { message?: unknown }).message ?? exception.message);
    return [status, { error: errorName(status), message: Array.isArray(message) ? message.join('; ') : String(message) }];
  }
  const status = (exception as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors (body too large, bad JSON, wrong content type).
    return [status, { error: errorName(status), message: (exception as Error).message }];
  }
  return [500, { error: 'internal', message: 'internal error' }];
}

function errorName(status: number): string {
  const names: Record<number, string> = {
    400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
    409: 'conflict', 412: 'precondition_failed', 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'too_many_requests',
  };
  return names[status] ?? (status >= 500 ? 'internal' : 'bad_request');
}

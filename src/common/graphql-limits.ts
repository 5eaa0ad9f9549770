import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { FastifyReply, FastifyRequest } from 'fastify';
import mercurius from 'mercurius';
import { GraphQLError, specifiedRules, validate, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema, type ValidationContext } from 'graphql';

/** Where the admin API serves GraphQL (queries, mutations, and subscriptions over WebSocket). */
export const GRAPHQL_PATH = '/graphql';

/** How far one GraphQL operation may reach (docs/architecture.md, "Inside one process"). */
export const GRAPHQL_MAX_DEPTH = 8;
export const GRAPHQL_MAX_ALIASES = 15;

/** Every refusal of a limit below, with the extensions of dozen's other errors. */
function tooLarge(detail: string, status: 400 | 413): GraphQLError {
  return new GraphQLError(`the query is too large: ${detail}`, { extensions: { code: 'query_too_large', status } });
}

/**
 * Reported as a validation error (HTTP 400, like an unknown field) instead of graphql-armor's thrown
 * "Syntax Error" (which Mercurius answered with 200).
 */
const refuse = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(tooLarge(error.message.replace(/^Syntax Error: /, ''), 400))],
};

/**
 * Validation rules every operation passes before any resolver runs. Without them one request (1 MiB of
 * `a1: apps { ... } a2: apps { ... }`) makes thousands of resolver calls and database reads: any caller
 * who may read one field could hold a host's CPU and database. Without aliases a field can be selected
 * only once per selection set, so these two bound an operation's size by the schema's. No cost limit:
 * graphql-armor's grows by a factor per level and refused the registry's own 5-deep `services` query.
 * Introspection is not counted.
 */
export const GRAPHQL_LIMITS = [
  maxDepthRule({ n: GRAPHQL_MAX_DEPTH, ...refuse }),
  maxAliasesRule({ n: GRAPHQL_MAX_ALIASES, ...refuse }),
];

/**
 * The longest GraphQL document (`query` of a POST body) accepted: the console's longest is under 1 KiB.
 * The two rules above run after graphql-js parsed and validated the whole text, about 0.6 s of CPU for
 * 0.5 MiB of aliases, so a longer one is refused before parsing. (A GET's query string is already held
 * to Node's 16 KiB of request head.)
 */
export const GRAPHQL_MAX_QUERY_LENGTH = 32 * 1024;

function tooLong(length: number): GraphQLError {
  return tooLarge(`${length} characters, at most ${GRAPHQL_MAX_QUERY_LENGTH}`, 413);
}

/** Fastify preValidation hook: 413 for a /graphql request whose document is over GRAPHQL_MAX_QUERY_LENGTH. */
export async function refuseLongGraphqlQuery(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.routeOptions.url !== GRAPHQL_PATH) return;
  const source = (request.body as { query?: unknown } | null | undefined)?.query;
  if (typeof source !== 'string' || source.length <= GRAPHQL_MAX_QUERY_LENGTH) return;
  await reply.status(413).type('application/json').send({ data: null, errors: [tooLong(source.length).toJSON()] });
}

/**
 * Mercurius validates no subscription document (over the WebSocket it parses it and runs it as it is):
 * these hooks give subscriptions the length limit and the same validation as queries, graphql-js's
 * rules and the two above, before anything is subscribed. Mercurius parses before its first hook, so
 * the length check saves the validation, not the parse (its WebSocket takes at most 1 MiB a message).
 */
export const GRAPHQL_SUBSCRIPTION_HOOKS = {
  preSubscriptionParsing: async (_schema: GraphQLSchema, source: string): Promise<void> => {
    if (source.length > GRAPHQL_MAX_QUERY_LENGTH) throw tooLong(source.length);
  },
  preSubscriptionExecution: async (schema: GraphQLSchema, document: DocumentNode): Promise<void> => {
    const [first] = validate(schema, document, [...specifiedRules, ...GRAPHQL_LIMITS]);
    if (first) throw first.extensions.code ? first : new GraphQLError(first.message, { nodes: first.nodes, extensions: { code: 'bad_request', status: 400 } });
  },
};

/**
 * Mercurius's answer, with `extensions: {code, status}` on every error: a document that does not parse,
 * or names a field the schema lacks, is refused by Mercurius before any resolver (400 without
 * extensions); such errors get `bad_request` as dozen's other refusals do.
 */
export function errorFormatter(execution: Parameters<typeof mercurius.defaultErrorFormatter>[0], context: Parameters<typeof mercurius.defaultErrorFormatter>[1]) {
  const formatted = mercurius.defaultErrorFormatter(execution, context);
  const status = formatted.statusCode >= 400 ? formatted.statusCode : 500;
  const errors = (formatted.response.errors ?? []).map((error: GraphQLFormattedError) =>
    error.extensions?.code ? error : { ...error, extensions: { ...error.extensions, code: status === 400 ? 'bad_request' : 'internal', status } },
  );
  return { ...formatted, response: { ...formatted.response, errors } };
}

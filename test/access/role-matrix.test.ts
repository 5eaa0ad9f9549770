import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  buildClientSchema, getIntrospectionQuery, getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType,
  type GraphQLField, type GraphQLInputType, type GraphQLSchema, type IntrospectionQuery,
} from 'graphql';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { addUser, signIn, type Browser } from './people.js';

/** What GET /access/table answers: the permission table as the running process applies it. */
interface Table {
  permissions: Record<string, string>;
  roles: Record<string, string[]>;
  routes: { method: string; path: string; requires: string | null }[];
  graphql: { field: string; requires: string | null }[];
}

const ROLE_NAMES = ['admin', 'deployer', 'viewer'] as const;
const PSEUDO = new Set(['public', 'signed-in', 'graphql']);

/** A concrete path for a route pattern: params and the wildcard get names no resource has. */
function concretePath(pattern: string): string {
  return pattern.replace(/:(\w+)/g, (_match, name: string) => (name === 'partNumber' ? '1' : `matrix-${name.toLowerCase()}`)).replace('*', 'matrix/probe.txt');
}

/** A valid literal of an input type, so GraphQL validation passes and the field's guard is what answers. */
function literal(type: GraphQLInputType): string {
  if (isNonNullType(type)) return literal(type.ofType);
  if (isListType(type)) return `[${literal(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0].name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((field) => isNonNullType(field.type));
    return `{${fields.map((field) => `${field.name}: ${literal(field.type)}`).join(', ')}}`;
  }
  if (isScalarType(type)) return { Int: '1', Float: '1.5', Boolean: 'false' }[type.name] ?? '"matrix-x"';
  throw new Error(`no literal for ${String(type)}`);
}

/** `mutation { field(requiredArgs) { __typename } }` for a root field. */
function operationFor(kind: 'Query' | 'Mutation', field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((arg) => isNonNullType(arg.type)).map((arg) => `${arg.name}: ${literal(arg.type)}`);
  const selection = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
  return `${kind === 'Query' ? 'query' : 'mutation'} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`;
}

describe('the permission table decides every route and GraphQL field, for every role', { timeout: 300_000 }, () => {
  let dozen: DozenProcess;
  let table: Table;
  let schema: GraphQLSchema;
  const browsers = new Map<string, Browser>();

  before(async () => {
    // Every module, so every route and field the code has is in the table the process serves.
    dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry,deploy,storage,broadcast' }, waitHealthy: false });
    table = await (await dozen.api('/access/table')).json();
    const introspection = await (await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: getIntrospectionQuery() }) })).json();
    schema = buildClientSchema(introspection.data as IntrospectionQuery);
    for (const role of ROLE_NAMES) {
      await addUser(dozen, `matrix-${role}`, role);
      browsers.set(role, await signIn(dozen, `matrix-${role}`));
    }
  });
  after(async () => {
    await dozen?.stop();
  });

  it('has an entry for every route Fastify serves and every GraphQL root field, and no entry for anything not served', async () => {
    const missingRoutes = table.routes.filter((route) => route.requires === null).map((route) => `${route.method} ${route.path}`);
    assert.deepEqual(missingRoutes, [], 'routes without an entry in src/access/permissions.ts ROUTES');
    const missingFields = table.graphql.filter((field) => field.requires === null).map((field) => field.field);
    assert.deepEqual(missingFields, [], 'GraphQL fields without an entry in src/access/permissions.ts GRAPHQL_FIELDS');
    for (const entry of [...table.routes, ...table.graphql]) {
      assert.ok(PSEUDO.has(entry.requires!) || entry.requires! in table.permissions, `unknown permission ${entry.requires}`);
    }
    assert.ok(table.routes.length > 80 && table.graphql.length > 40, `${table.routes.length} routes, ${table.graphql.length} fields`);
  });

  it('every role × every REST route: allowed when the role holds the permission, else 403 naming it', async () => {
    // HEAD is decided as its GET (a long stream answers HEAD only when it ends), so GET stands for both.
    const gets = new Set(table.routes.filter((route) => route.method === 'GET').map((route) => route.path));
    const decided = table.routes.filter((route) => !PSEUDO.has(route.requires!) && !(route.method === 'HEAD' && gets.has(route.path)));
    const wrong: string[] = [];
    for (const role of ROLE_NAMES) {
      const browser = browsers.get(role)!;
      for (const route of decided) {
        const allowed = table.roles[role].includes(route.requires!);
        const unsafe = !['GET', 'HEAD'].includes(route.method);
        // Streams (SSE, logs) are aborted once their status is known.
        const abort = new AbortController();
        const deadline = setTimeout(() => abort.abort(), 15_000);
        const response = await browser.fetch(concretePath(route.path), {
          method: route.method,
          signal: abort.signal,
          ...(unsafe ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
        });
        const body = response.status === 403 ? await response.json() : null;
        clearTimeout(deadline);
        abort.abort();
        const refused = response.status === 403 && body?.error === 'forbidden' && body?.permission === route.requires;
        if (response.status === 401 || allowed === refused) wrong.push(`${role} ${route.method} ${route.path}: ${response.status} ${JSON.stringify(body)} (expected ${allowed ? 'allowed' : '403'})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('every role × every GraphQL query and mutation: allowed when the role holds the permission, else a forbidden error naming it', async () => {
    const wrong: string[] = [];
    for (const entry of table.graphql) {
      const [kind, name] = entry.field.split('.') as ['Query' | 'Mutation' | 'Subscription', string];
      if (kind === 'Subscription') continue;
      const field = (kind === 'Query' ? schema.getQueryType() : schema.getMutationType())!.getFields()[name];
      const query = operationFor(kind, field);
      for (const role of ROLE_NAMES) {
        const { status, body } = await browsers.get(role)!.graphql(query);
        const forbidden = body.errors?.find((error) => error.extensions?.code === 'forbidden');
        const allowed = entry.requires === 'signed-in' || table.roles[role].includes(entry.requires!);
        const validated = status === 200 && !body.errors?.some((error) => /Cannot query|Unknown|Expected|must have a selection/.test(error.message));
        if (!validated) wrong.push(`${role} ${entry.field}: the probe itself was refused (${status} ${JSON.stringify(body.errors)}): ${query}`);
        else if (allowed && forbidden) wrong.push(`${role} ${entry.field}: refused but the role holds ${entry.requires}`);
        else if (!allowed && forbidden?.extensions?.permission !== entry.requires) wrong.push(`${role} ${entry.field}: not refused (${JSON.stringify(body)})`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});

import type { RouteOptions } from 'fastify';
import { GRAPHQL_PATH } from './graphql-limits.js';

interface ErrorsSchema {
  items?: { properties?: { path?: { items?: unknown } } };
}

/**
 * Fastify onRoute hook for Mercurius's /graphql routes. Their 2xx response schema types an error's `path`
 * as strings, so fast-json-stringify turned list indices into strings (`["objects", "0", "crc64"]`), where
 * the GraphQL spec (Response, "Errors") wants 0-indexed integers, and clients that place an error in
 * `data` by its path look for a key "0". Each route gets a copy of the schema whose path items are
 * integers or strings.
 */
export function keepGraphqlPathIndices(route: RouteOptions): void {
  if (route.url !== GRAPHQL_PATH) return;
  const response = route.schema?.response as Record<string, { properties?: Record<string, unknown> }> | undefined;
  const ok = response?.['2xx'];
  const errors = ok?.properties?.errors as ErrorsSchema | undefined;
  if (!ok?.properties || !errors?.items?.properties?.path) return;
  const pathSchema = { ...errors.items.properties.path, items: { type: ['integer', 'string'] } };
  const items = { ...errors.items, properties: { ...errors.items.properties, path: pathSchema } };
  response!['2xx'] = { ...ok, properties: { ...ok.properties, errors: { ...errors, items } } };
}

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { AdminAuth } from '../common/admin-auth.js';

/** Where `npm run build` puts the console (vite, console/vite.config.ts): dist/console beside dist/src. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));
/** The console's client-side routes all live under this prefix, so none of them can shadow an API path. */
export const CONSOLE_ROUTE_PREFIX = '/console';
const ASSETS_PREFIX = '/assets/';

/** Whether a path is the console's (its page and bundles) rather than the API's. */
export function isConsolePath(path: string): boolean {
  return path === '/' || path === CONSOLE_ROUTE_PREFIX || path.startsWith(`${CONSOLE_ROUTE_PREFIX}/`) || path.startsWith(ASSETS_PREFIX);
}

/**
 * Serves the web console on the admin port: `/` and `/console/*` answer
 * index.html (the app routes itself), `/assets/*` the hashed bundles, cached
 * for a year and sent as the .br/.gz files the build wrote next to them.
 * These paths need no admin token: the page logs in, the API it calls is
 * guarded as before.
 */
export async function serveConsole(fastify: FastifyInstance, auth: AdminAuth, dir = CONSOLE_DIR): Promise<void> {
  auth.allowPath('/');
  auth.allowWithoutAdminToken(CONSOLE_ROUTE_PREFIX);
  auth.allowWithoutAdminToken('/assets');
  const built = existsSync(`${dir}/index.html`);
  if (!built) {
    const notBuilt = async (_request: unknown, reply: import('fastify').FastifyReply) =>
      reply.status(404).type('application/json').send({ error: 'not_found', message: `the console is not built (no ${dir}index.html): run npm run build` });
    fastify.get('/', notBuilt);
    fastify.get(`${CONSOLE_ROUTE_PREFIX}/*`, notBuilt);
    return;
  }
  await fastify.register(fastifyStatic, {
    root: `${dir}/assets`,
    prefix: ASSETS_PREFIX,
    preCompressed: true,
    immutable: true,
    maxAge: '365d',
    index: false,
  });
  // index.html is small and names the hashed bundles; read once, revalidated by the browser on each load.
  const index = await readFile(`${dir}/index.html`);
  const page = async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(index);
  fastify.get('/', page);
  fastify.get(CONSOLE_ROUTE_PREFIX, page);
  fastify.get(`${CONSOLE_ROUTE_PREFIX}/*`, page);
}

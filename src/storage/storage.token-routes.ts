import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiTokenGate, type TokenRoute } from '../common/api-token-gate.js';
import { BadInput } from '../common/errors.js';
import type { Scope } from '../tokens/scopes.js';
import { keyOfPath } from './object-path.js';
import { StorageService } from './storage.service.js';

export interface StorageRoute {
  methods: readonly string[];
  path: RegExp;
  scope: Scope;
  /** The object key the request touches (a listing: its prefix), which a confined token's prefix must cover. */
  key(request: FastifyRequest, match: RegExpExecArray): Promise<string> | string;
}

/**
 * Which storage routes an API token may call, and the scope each needs. Objects and listings
 * read with `storage:read`; writes, deletes and every step of a resumable upload need `storage:write`.
 * Not listed, so admin-only: `/storage/tail`, `/storage/health`.
 */
export function storageRoutes(storage: StorageService): StorageRoute[] {
  const uploadKey = (_request: FastifyRequest, match: RegExpExecArray) => storage.uploadKey(match[1]);
  return [
    { methods: ['GET', 'HEAD'], path: /^\/storage\/objects\/.+$/, scope: 'storage:read', key: (_request, match) => keyOfPath(match[0]) },
    { methods: ['PUT', 'POST', 'DELETE'], path: /^\/storage\/objects\/.+$/, scope: 'storage:write', key: (_request, match) => keyOfPath(match[0]) },
    { methods: ['GET'], path: /^\/storage\/objects$/, scope: 'storage:read', key: (request) => queryValue(request, 'prefix') },
    { methods: ['POST'], path: /^\/storage\/uploads$/, scope: 'storage:write', key: (request) => bodyKey(request) },
    { methods: ['GET'], path: /^\/storage\/uploads$/, scope: 'storage:write', key: (request) => queryValue(request, 'key') },
    { methods: ['GET', 'DELETE'], path: /^\/storage\/uploads\/([^/]+)$/, scope: 'storage:write', key: uploadKey },
    { methods: ['PUT'], path: /^\/storage\/uploads\/([^/]+)\/parts\/[^/]+$/, scope: 'storage:write', key: uploadKey },
    { methods: ['POST'], path: /^\/storage\/uploads\/([^/]+)\/complete$/, scope: 'storage:write', key: uploadKey },
  ];
}

/** Opens the storage routes to API tokens with a storage scope (see storageRoutes). */
@Injectable()
export class StorageTokenRoutes implements OnModuleInit {
  constructor(
    private readonly gate: ApiTokenGate,
    private readonly storage: StorageService,
  ) {}

  onModuleInit(): void {
    const routes = storageRoutes(this.storage);
    this.gate.accept({ prefix: '/storage', match: (method, path) => matchRoute(routes, method, path) });
  }
}

/** The token route a request is, or null (admin-only). Exported for its unit test. */
export function matchRoute(routes: readonly StorageRoute[], method: string, path: string): TokenRoute | null {
  for (const route of routes) {
    const match = route.path.exec(path);
    if (match && route.methods.includes(method)) return { scope: route.scope, resource: (request) => route.key(request, match) };
  }
  return null;
}

/** A listing's `prefix` (or `key`) query parameter; absent means everything, which only an unconfined token reaches. */
function queryValue(request: FastifyRequest, name: string): string {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new BadInput(name, 'must be given once');
  return value;
}

function bodyKey(request: FastifyRequest): string {
  const key = (request.body as { key?: unknown } | undefined)?.key;
  if (typeof key !== 'string') throw new BadInput('key', 'is required (string)');
  return key;
}

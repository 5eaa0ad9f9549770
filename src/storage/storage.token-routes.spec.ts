import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StorageService } from './storage.service.js';
import { matchRoute, storageRoutes } from './storage.token-routes.js';

const routes = storageRoutes({} as StorageService);
const scopeOf = (method: string, path: string) => matchRoute(routes, method, path)?.scope ?? null;

describe('the storage routes API tokens reach', () => {
  it('reads objects and listings with storage:read', () => {
    for (const [method, path] of [['GET', '/storage/objects/a/b.txt'], ['HEAD', '/storage/objects/a'], ['GET', '/storage/objects']]) assert.equal(scopeOf(method, path), 'storage:read', `${method} ${path}`);
  });

  it('writes, deletes and every step of a resumable upload with storage:write', () => {
    for (const [method, path] of [
      ['PUT', '/storage/objects/a'],
      ['POST', '/storage/objects/a'],
      ['DELETE', '/storage/objects/a'],
      ['POST', '/storage/uploads'],
      ['GET', '/storage/uploads'],
      ['GET', '/storage/uploads/0123'],
      ['DELETE', '/storage/uploads/0123'],
      ['PUT', '/storage/uploads/0123/parts/7'],
      ['POST', '/storage/uploads/0123/complete'],
    ]) assert.equal(scopeOf(method, path), 'storage:write', `${method} ${path}`);
  });

  it('leaves the rest admin-only: the tailer, health, unknown methods and paths', () => {
    for (const [method, path] of [
      ['GET', '/storage/tail'],
      ['GET', '/storage/health'],
      ['PATCH', '/storage/objects/a'],
      ['DELETE', '/storage/objects'],
      ['GET', '/storage/objects/'],
      ['PUT', '/storage/uploads/0123/parts'],
      ['GET', '/storage/uploads/0123/parts/1/extra'],
    ]) assert.equal(scopeOf(method, path), null, `${method} ${path}`);
  });

  it('names the key a prefixed token must cover: percent-decoded from the path, or the listing prefix', async () => {
    const object = matchRoute(routes, 'GET', '/storage/objects/logs%2Fapp1/a%2Etxt')!;
    assert.equal(await object.resource({} as never), 'logs/app1/a.txt');
    const listing = matchRoute(routes, 'GET', '/storage/objects')!;
    assert.equal(await listing.resource({ query: { prefix: 'logs/' } } as never), 'logs/');
    assert.equal(await listing.resource({ query: {} } as never), '', 'no prefix lists everything');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CatalogInstance } from './catalog.js';
import { buildSnapshot } from './route-snapshot.js';

const instance = (id: string, app: string, status: CatalogInstance['status'], domains: string[]): CatalogInstance => ({
  id, app, status, domains, address: '10.0.0.1', port: 3000, host: 'h', meta: {}, ttlMs: 10_000, deregisterAfterMs: 60_000,
});

describe('building the route snapshot', () => {
  it('keeps every domain of an app but only its passing instances as backends, with fresh load only', () => {
    const now = 1_000_000;
    const loads = new Map([
      ['chat-1', { cpu: 1, memory: 2, processes: 3, inflight: 4, at: now - 1000 }],
      ['chat-2', { cpu: 9, memory: 9, processes: 9, inflight: 9, at: now - 3001 }],
    ]);
    const snapshot = buildSnapshot(7, [
      instance('chat-2', 'chat', 'passing', ['chat.example.net']),
      instance('chat-1', 'chat', 'passing', ['chat.example.net', '*.chat.example.net']),
      instance('chat-3', 'chat', 'critical', ['old.chat.example.net']),
      instance('blog-1', 'blog', 'warning', ['blog.example.net']),
    ], loads, now);
    assert.equal(snapshot.version, 7);
    assert.deepEqual(snapshot.apps.map((route) => [route.app, route.domains, route.backends.map((backend) => [backend.instance, backend.load?.cpu ?? null])]), [
      ['blog', ['blog.example.net'], []],
      ['chat', ['*.chat.example.net', 'chat.example.net', 'old.chat.example.net'], [['chat-1', 1], ['chat-2', null]]],
    ]);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_POLICY } from './policy.js';
import { normalizeHost, RouteTable } from './route-table.js';
import type { Backend, RouteSnapshot } from '../registry/routes.js';

const backend = (instance: string, port: number): Backend => ({ instance, app: 'x', address: '127.0.0.1', port, host: 'h', load: null });

const snapshot: RouteSnapshot = {
  version: 7,
  apps: [
    { app: 'shop', domains: ['Shop.Example.net', '*.shop.example.net'], backends: [backend('s1', 1001)] },
    { app: 'api', domains: ['api.shop.example.net'], backends: [backend('a1', 1002), backend('a2', 1003)] },
    { app: 'zeta', domains: ['shop.example.net'], backends: [] },
  ],
};

describe('route table', () => {
  const table = RouteTable.build(snapshot, { api: { ...DEFAULT_POLICY, balancer: 'least-load' } }, (b) => ({ inflight: 0, port: b.port }));

  it('prefers an exact domain over a wildcard', () => {
    assert.equal(table.lookup('api.shop.example.net')?.app, 'api');
    assert.equal(table.lookup('cart.shop.example.net')?.app, 'shop');
  });

  it('matches a wildcard one label deep only', () => {
    assert.equal(table.lookup('a.b.shop.example.net'), undefined);
    assert.equal(table.lookup('shop.example.net')?.app, 'shop');
  });

  it('gives a contested domain to the app sorting first', () => {
    assert.equal(table.lookup('SHOP.example.net:443')?.app, 'shop');
  });

  it('carries the policy, balancer and version', () => {
    const api = table.lookup('api.shop.example.net')!;
    assert.equal(api.policy.balancer, 'least-load');
    assert.equal(api.targets.length, 2);
    assert.equal(table.lookup('shop.example.net')!.policy, DEFAULT_POLICY);
    assert.equal(table.version, 7);
    assert.equal(table.lookup(undefined), undefined);
  });

  it('normalises Host values', () => {
    assert.equal(normalizeHost('A.Example.COM.:8080'), 'a.example.com');
    assert.equal(normalizeHost('[::1]:80'), '[::1]');
    assert.equal(normalizeHost('localhost'), 'localhost');
  });
});

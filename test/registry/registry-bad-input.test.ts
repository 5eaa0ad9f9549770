import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';

const valid = { app: 'chat', address: '127.0.0.1', port: 3000, domains: ['chat.example.net'] };

/** [what is wrong, method, path, body, the field the 400 names]. */
const cases: [string, string, string, unknown, string][] = [
  ['no app', 'POST', '/registry/instances', { ...valid, app: undefined }, 'app'],
  ['an app name with capitals', 'POST', '/registry/instances', { ...valid, app: 'Chat' }, 'app'],
  ['an app name too long', 'POST', '/registry/instances', { ...valid, app: 'a'.repeat(64) }, 'app'],
  ['the app name kept for the hosts', 'POST', '/registry/instances', { ...valid, app: 'dozen' }, 'app'],
  ['no address', 'POST', '/registry/instances', { ...valid, address: '' }, 'address'],
  ['an address that is no IP or host name', 'POST', '/registry/instances', { ...valid, address: 'not a host' }, 'address'],
  ['port 0', 'POST', '/registry/instances', { ...valid, port: 0 }, 'port'],
  ['port above 65535', 'POST', '/registry/instances', { ...valid, port: 65536 }, 'port'],
  ['a port given as a string', 'POST', '/registry/instances', { ...valid, port: '3000' }, 'port'],
  ['domains not a list', 'POST', '/registry/instances', { ...valid, domains: 'chat.example.net' }, 'domains'],
  ['a domain label starting with -', 'POST', '/registry/instances', { ...valid, domains: ['-chat.example.net'] }, 'domains.0'],
  ['a wildcard not in front', 'POST', '/registry/instances', { ...valid, domains: ['chat.*.example.net'] }, 'domains.0'],
  ['two wildcards', 'POST', '/registry/instances', { ...valid, domains: ['*.*.example.net'] }, 'domains.0'],
  ['a bare wildcard', 'POST', '/registry/instances', { ...valid, domains: ['*'] }, 'domains.0'],
  ['an empty label', 'POST', '/registry/instances', { ...valid, domains: ['ok.example.net', 'chat..example.net'] }, 'domains.1'],
  ['a label of 64 characters', 'POST', '/registry/instances', { ...valid, domains: [`${'a'.repeat(64)}.example.net`] }, 'domains.0'],
  ['an underscore in a domain', 'POST', '/registry/instances', { ...valid, domains: ['chat_app.example.net'] }, 'domains.0'],
  ['a meta key dozen sets itself', 'POST', '/registry/instances', { ...valid, meta: { domains: 'x' } }, 'meta'],
  ['a meta key dozen sets itself (ttl_ms)', 'POST', '/registry/instances', { ...valid, meta: { ttl_ms: '1' } }, 'meta'],
  ['a meta key of the form dozen uses for long domain lists', 'POST', '/registry/instances', { ...valid, meta: { 'domains-2': 'x' } }, 'meta'],
  ['a meta key with the prefix Consul keeps', 'POST', '/registry/instances', { ...valid, meta: { 'consul-x': 'y' } }, 'meta'],
  ['more meta pairs than Consul holds beside dozen\'s own', 'POST', '/registry/instances', { ...valid, meta: Object.fromEntries(Array.from({ length: 59 }, (_, n) => [`k${n}`, 'v'])) }, 'meta'],
  ['a meta value that is not a string', 'POST', '/registry/instances', { ...valid, meta: { team: 7 } }, 'meta.team'],
  ['a TTL under 1 s', 'POST', '/registry/instances', { ...valid, ttl: 0.5 }, 'ttl'],
  ['a negative deregister delay', 'POST', '/registry/instances', { ...valid, deregisterAfter: -1 }, 'deregisterAfter'],
  ['an id with a slash', 'POST', '/registry/instances', { ...valid, id: 'chat/1' }, 'id'],
  ['an unknown field', 'POST', '/registry/instances', { ...valid, weight: 3 }, 'body'],
  ['no body at all', 'POST', '/registry/instances', undefined, 'body'],
  ['a negative CPU figure', 'PUT', '/registry/instances/chat-1/heartbeat', { load: { cpu: -1, memory: 0, processes: 1 } }, 'load.cpu'],
  ['a fractional memory figure', 'PUT', '/registry/instances/chat-1/heartbeat', { load: { cpu: 1, memory: 1.5, processes: 1 } }, 'load.memory'],
  ['load without a process count', 'PUT', '/registry/instances/chat-1/heartbeat', { load: { cpu: 1, memory: 1 } }, 'load.processes'],
  ['an instance id with a space (heartbeat)', 'PUT', '/registry/instances/chat%201/heartbeat', {}, 'id'],
  ['an instance id with a space (deregister)', 'DELETE', '/registry/instances/chat%201', undefined, 'id'],
  ['an app name with an underscore', 'GET', '/registry/services/chat_app', undefined, 'app'],
];

describe('registry REST refuses bad input with 400 naming the field', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  for (const [what, method, path, body, field] of cases) {
    it(`${method} ${path.replace(/\/chat.*$/, '/…')}: ${what} -> 400 on ${field}`, async () => {
      const response = await dozen.api(path, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      const answer = await response.json();
      assert.equal(response.status, 400, JSON.stringify(answer));
      assert.equal(answer.error, 'bad_request');
      assert.equal(answer.field, field, JSON.stringify(answer));
      assert.ok(answer.message.startsWith(`${field}: `), answer.message);
    });
  }

  it("refuses dozen's own listeners on this host as an instance (the proxy would put the admin API on the public door)", async () => {
    const adminPort = Number(new URL(dozen.url).port);
    // Every spelling of an address of this host the proxy's connect (getaddrinfo) takes, and names that resolve to one (found from outside).
    const spellings = ['127.1', '2130706433', '0x7f000001', '0177.0.0.1', '0:0:0:0:0:ffff:7f00:1', ...(await lookup(hostname()).then(() => [hostname()], () => []))];
    for (const address of ['127.0.0.1', '127.0.0.2', 'localhost', '0.0.0.0', '::1', '::ffff:127.0.0.1', ...spellings]) {
      const response = await dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...valid, address, port: adminPort }) });
      const answer = await response.json();
      assert.equal(response.status, 400, `${address}: ${JSON.stringify(answer)}`);
      assert.equal(answer.field, 'port');
      assert.match(answer.message, /dozen's own listener on this host \(admin\.listen\.port\)/);
    }
    const elsewhere = await dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...valid, address: '192.0.2.10', port: adminPort }) });
    assert.equal(elsewhere.status, 201, 'the same port on another host is an app');
  });

  it('answers 400 for a body that is not JSON', async () => {
    const response = await dozen.api('/registry/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"app":' });
    const answer = await response.json();
    assert.equal(response.status, 400);
    // Fastify rejects it before Nest's filter runs, so the body is Fastify's own ({statusCode, code, error, message}).
    assert.match(answer.message, /not valid JSON/);
  });
});

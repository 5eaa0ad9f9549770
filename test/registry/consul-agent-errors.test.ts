import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { ConsulCatalog } from '../../src/registry/consul.catalog.js';
import { ConsulStandin } from '../support/consul-standin.js';
import { waitFor } from '../support/ports.js';

const TOKEN = 'the-real-secret-token-4b1d';

describe('a Consul agent that fails every call (a leader election, a wrong token)', () => {
  let agent: Server;
  let url: string;
  const tokensSeen: string[] = [];

  before(async () => {
    // What a real agent answers while its servers elect a leader.
    agent = createServer((req, res) => {
      tokensSeen.push(String(req.headers['x-consul-token']));
      res.writeHead(500, { 'content-type': 'text/plain' }).end('No cluster leader');
    });
    agent.listen(0, '127.0.0.1');
    await once(agent, 'listening');
    url = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
  });
  after(() => agent.close());

  it('logs each failed watch with the status and the message, never the ACL token it sent', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
    // The process's logger as dozen makes it, and the watch's log line as registry.module.ts writes it.
    const log = createLogger({ level: 'info', format: 'json' }, false, destination).child({ module: 'registry' });
    const catalog = new ConsulCatalog({ url, token: TOKEN, stale: false, waitSeconds: 1, minIntervalMs: 1, onError: (error, what) => log.warn({ err: error, consul: url }, `consul: ${what} failed; retrying`) });
    try {
      await waitFor('two failed watches logged', async () => lines.length >= 2, 5_000);
    } finally {
      await catalog.close();
    }
    assert.ok(tokensSeen.includes(TOKEN), 'the catalog sent its token to the agent');
    const logged = lines.join('');
    assert.ok(!logged.includes(TOKEN), `the token is in the log: ${logged.slice(0, 400)}`);
    const first = JSON.parse(lines[0]!) as { err: { message: string; statusCode?: number } };
    assert.match(first.err.message, /No cluster leader/);
    assert.equal(first.err.statusCode, 500);
  });
});

describe('a Consul ACL token that may not read every service (results filtered, 200)', { timeout: 30_000 }, () => {
  let standin: ConsulStandin;
  before(async () => {
    standin = await ConsulStandin.start({ token: 'full-token', filteredToken: 'narrow-token' });
    const writer = new ConsulCatalog({ url: standin.url, token: 'full-token', stale: false, waitSeconds: 1, minIntervalMs: 1, onError: () => undefined });
    await writer.register({ id: 'chat-1', app: 'chat', address: '127.0.0.1', port: 3000, host: 'h1', domains: ['chat.example.net'], meta: {}, ttlMs: 60_000, deregisterAfterMs: 120_000 });
    await writer.close();
  });
  after(() => standin?.stop());

  it('is not read as "no instances": the catalog says why it has none, and health is down naming the ACL', async () => {
    const catalog = new ConsulCatalog({ url: standin.url, token: 'narrow-token', stale: false, waitSeconds: 1, minIntervalMs: 1, onError: () => undefined });
    try {
      await assert.rejects(catalog.instances(), (error: Error) => /X-Consul-Results-Filtered-By-ACLs/.test(error.message));
      await assert.rejects(catalog.check(), (error: Error) => /service:read and node:read/.test(error.message));
    } finally {
      await catalog.close();
    }
  });
});

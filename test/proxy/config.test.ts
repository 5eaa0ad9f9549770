import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI } from '../support/dozen-process.js';

const dir = mkdtempSync(join(tmpdir(), 'dozen-proxy-config-'));

function check(env: Record<string, string>) {
  const result = spawnSync(process.execPath, [CLI, 'config', 'check'], { env: { PATH: process.env.PATH, DOZEN_DATA_DIR: dir, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stderr: result.stderr };
}

describe('proxy config', { timeout: 60_000 }, () => {
  it('refuses the proxy without the registry on the same host, naming modules', () => {
    const result = check({ DOZEN_MODULES: 'proxy,storage' });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr.trim(), /^dozen: bad config: modules = \["proxy","storage"\]: the proxy module needs the registry module on the same host: add registry to modules$/);
  });

  it('refuses a trusted proxy that is not an address or CIDR block, and a negative worker count', () => {
    const trusted = check({ DOZEN_PROXY_TRUSTED_PROXIES: 'lb.example.net' });
    assert.equal(trusted.code, 2, trusted.stderr);
    assert.match(trusted.stderr, /proxy\.trustedProxies = \["lb\.example\.net"\]: expected an IP address or a CIDR block/);
    const workers = check({ DOZEN_PROXY_WORKERS: '-1' });
    assert.equal(workers.code, 2, workers.stderr);
    assert.match(workers.stderr, /proxy\.workers = -1/);
  });

  it('refuses a proxy.engine that is not auto, fast or portable, in one line naming the key', () => {
    const result = check({ DOZEN_PROXY_ENGINE: 'turbo' });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr.trim(), /^dozen: bad config: proxy\.engine = "turbo": expected auto, fast or portable$/);
  });

  it('accepts proxy with registry', () => {
    const result = check({ DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '0', DOZEN_PROXY_TRUSTED_PROXIES: '10.0.0.0/8,::1' });
    assert.equal(result.code, 0, result.stderr);
  });
});

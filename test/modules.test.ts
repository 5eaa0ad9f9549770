/**
 * `modules` decides what a host loads, not only what it runs: a host without
 * deploy, storage or broadcast loads none of their code or client libraries
 * (only their config schemas, migrations and CLI commands, which every host has).
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDozen } from './support/dozen-process.js';

const WATCH = join(dirname(fileURLToPath(import.meta.url)), 'support/module-watch.js');
/** What every host loads of each module: its config schema (and the key-template check storage's uses), its migrations, its CLI commands. */
const EVERY_HOST = /^(deploy|storage|broadcast)\/([^/]+\.(config|cli)\.js|migrations\/.*)$|^storage\/tailer\/key-template\.js$/;

/** The module code a `dozen serve` with `modules` loaded, beyond what every host loads. */
async function moduleCode(modules: string): Promise<string[]> {
  const dozen = await startDozen({ env: { NODE_OPTIONS: `--import ${WATCH}`, DOZEN_MODULES: modules, DOZEN_PROXY_WORKERS: '0' } });
  await dozen.stop();
  const loaded = dozen.logs().split('\n').filter((line) => line.startsWith('module code ')).map((line) => line.slice('module code '.length));
  return [...new Set(loaded.filter((path) => !EVERY_HOST.test(path)))].sort();
}

describe('the code a host loads follows its modules', { timeout: 120_000 }, () => {
  it('a proxy and registry host loads nothing of deploy, storage or broadcast', async () => {
    assert.deepEqual(await moduleCode('proxy,registry'), []);
  });

  it('a storage host loads storage and nothing of deploy or broadcast; a broadcast host its own code and its Redis and MySQL clients', async () => {
    const storage = await moduleCode('storage');
    assert.ok(storage.includes('storage/storage.module.js'), storage.join(' '));
    assert.deepEqual(storage.filter((path) => !path.startsWith('storage/')), []);
    const broadcast = await moduleCode('broadcast');
    assert.ok(broadcast.includes('broadcast/broadcast.module.js'), broadcast.join(' '));
    assert.deepEqual(broadcast.filter((path) => !path.startsWith('broadcast/') && !['ioredis', 'mysql2', '@vlasky/zongji'].includes(path)), []);
  });
});

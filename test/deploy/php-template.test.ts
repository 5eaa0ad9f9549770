import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { phpLaravelDockerfile } from '../../src/deploy/build/runtime-template.js';
import { requireBinary } from '../support/debian.js';

describe('the php-laravel template on a base image without composer', () => {
  it('its composer check, run by Debian php, exits 1 with the message when no composer is on PATH, 0 when one is', () => {
    const php = requireBinary('php', 'php-cli');
    const template = phpLaravelDockerfile(JSON.stringify({ require: { 'acme/lib': '^1' } }), false, 'php:1');
    const check = (JSON.parse(template.split('\n')[3].slice('RUN '.length)) as string[])[2];
    const dir = mkdtempSync(join(tmpdir(), 'dozen-composer-check-'));
    try {
      const without = spawnSync(php, ['-r', check], { env: { PATH: dir }, encoding: 'utf8' });
      assert.equal(without.status, 1, without.stderr);
      assert.match(without.stderr, /composer\.json requires packages but the base image php:1 has no composer on its PATH/);
      writeFileSync(join(dir, 'composer'), '');
      const found = spawnSync(php, ['-r', check], { env: { PATH: dir }, encoding: 'utf8' });
      assert.equal(found.status, 0, found.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

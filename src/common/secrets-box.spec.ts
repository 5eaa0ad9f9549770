import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '../config/config.schema.js';
import { SecretsBox } from './secrets-box.js';

describe('app secrets at rest', () => {
  it('seal/open round-trips; the ciphertext differs each time and hides the value', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dozen-secrets-'));
    const box = SecretsBox.fromConfig(configSchema.parse({ dataDir }));
    const first = box.seal('hunter2');
    const second = box.seal('hunter2');
    assert.notEqual(first, second);
    assert.ok(!first.includes('hunter2'));
    assert.equal(box.open(first), 'hunter2');
    assert.equal(statSync(join(dataDir, 'deploy-secrets-key')).mode & 0o777, 0o600);
    // The key file made on first start is the one read on the next.
    assert.equal(SecretsBox.fromConfig(configSchema.parse({ dataDir })).open(second), 'hunter2');
    assert.equal(Buffer.from(readFileSync(join(dataDir, 'deploy-secrets-key'), 'utf8').trim(), 'base64').length, 32);
  });

  it('a changed ciphertext or another key is refused', () => {
    const box = SecretsBox.fromConfig(configSchema.parse({ dataDir: mkdtempSync(join(tmpdir(), 'dozen-secrets-')) }));
    const sealed = box.seal('value');
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    assert.throws(() => box.open(tampered));
    const other = SecretsBox.fromConfig(configSchema.parse({ dataDir: mkdtempSync(join(tmpdir(), 'dozen-secrets-')) }));
    assert.throws(() => other.open(sealed));
  });
});

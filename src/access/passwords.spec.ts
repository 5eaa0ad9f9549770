import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, SCRYPT, verifyPassword } from './passwords.js';

describe('passwords', () => {
  it('hashes with scrypt, names the parameters, and verifies only the same password', async () => {
    const stored = await hashPassword('correct horse battery');
    const [kdf, N, r, p, salt, key] = stored.split('$');
    assert.deepEqual([kdf, Number(N), Number(r), Number(p)], ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p]);
    assert.equal(Buffer.from(salt, 'base64url').length, SCRYPT.saltLength);
    assert.equal(Buffer.from(key, 'base64url').length, SCRYPT.keyLength);
    assert.equal(await verifyPassword('correct horse battery', stored), true);
    assert.equal(await verifyPassword('correct horse batterY', stored), false);
    assert.notEqual(await hashPassword('correct horse battery'), stored, 'each hash has its own salt');
  });

  it('verifies a hash made with other (older, weaker) parameters, and never a malformed one', async () => {
    assert.equal(await verifyPassword('x', 'scrypt$16384$8$1$AAAA$'), false);
    assert.equal(await verifyPassword('x', 'bcrypt$whatever'), false);
    assert.equal(await verifyPassword('x', ''), false);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginLimiter } from './login-limiter.js';

describe('login limiter', () => {
  const limits = { maxFailuresPerUser: 3, maxFailuresPerAddress: 5, lockoutSeconds: 60 };

  it('locks a user out after N failures in a row, from any address, and releases after the lockout', () => {
    let now = 1_000_000;
    const limiter = new LoginLimiter(limits, () => now);
    for (let attempt = 0; attempt < 3; attempt++) {
      assert.equal(limiter.retryAfter('ana', `10.0.0.${attempt}`), 0);
      limiter.failed('ana', `10.0.0.${attempt}`);
    }
    assert.equal(limiter.retryAfter('ana', '10.0.0.9'), 60);
    assert.equal(limiter.retryAfter('ANA', '10.0.0.9'), 60, 'names are matched without case');
    assert.equal(limiter.retryAfter('bo', '10.0.0.9'), 0);
    now += 59_500;
    assert.equal(limiter.retryAfter('ana', '10.0.0.9'), 1);
    now += 500;
    assert.equal(limiter.retryAfter('ana', '10.0.0.9'), 0);
    limiter.failed('ana', '10.0.0.9');
    assert.equal(limiter.retryAfter('ana', '10.0.0.9'), 0, 'the count starts again after a lockout');
  });

  it('locks an address out after its own limit, whatever the names; success clears the counts', () => {
    const limiter = new LoginLimiter(limits, () => 0);
    for (let attempt = 0; attempt < 4; attempt++) limiter.failed(`user${attempt}`, '10.0.0.1');
    limiter.succeeded('user0', '10.0.0.1');
    limiter.failed('user5', '10.0.0.1');
    assert.equal(limiter.retryAfter('someone', '10.0.0.1'), 0, 'the success cleared the address');
    for (let attempt = 0; attempt < 4; attempt++) limiter.failed(`other${attempt}`, '10.0.0.1');
    assert.equal(limiter.retryAfter('someone', '10.0.0.1'), 60);
  });

  it('an admin release ends a user lockout at once', () => {
    const limiter = new LoginLimiter(limits, () => 0);
    for (let attempt = 0; attempt < 3; attempt++) limiter.failed('ana', '10.0.0.1');
    assert.equal(limiter.retryAfter('ana', '10.0.0.2'), 60);
    limiter.release('ana');
    assert.equal(limiter.retryAfter('ana', '10.0.0.2'), 0);
  });
});

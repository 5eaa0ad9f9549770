import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginLimiter, MemoryFailureStore } from './login-limiter.js';

describe('login limiter', () => {
  const limits = { maxFailuresPerUser: 3, maxFailuresPerAddress: 5, lockoutSeconds: 60 };
  const limiterAt = (now: () => number) => new LoginLimiter(limits, new MemoryFailureStore(), new MemoryFailureStore(), now);

  it('locks a user out after N failures in a row, from any address, and releases after the lockout', async () => {
    let now = 1_000_000;
    const limiter = limiterAt(() => now);
    for (let attempt = 0; attempt < 3; attempt++) {
      assert.equal(await limiter.retryAfter('ana', `10.0.0.${attempt}`), 0);
      await limiter.failed('ana', `10.0.0.${attempt}`);
    }
    assert.equal(await limiter.retryAfter('ana', '10.0.0.9'), 60);
    assert.equal(await limiter.retryAfter('ANA', '10.0.0.9'), 60, 'names are matched without case');
    assert.equal(await limiter.retryAfter('bo', '10.0.0.9'), 0);
    now += 59_500;
    assert.equal(await limiter.retryAfter('ana', '10.0.0.9'), 1);
    now += 500;
    assert.equal(await limiter.retryAfter('ana', '10.0.0.9'), 0);
    await limiter.failed('ana', '10.0.0.9');
    assert.equal(await limiter.retryAfter('ana', '10.0.0.9'), 0, 'the count starts again after a lockout');
  });

  it('forgets failures older than the lockout window', async () => {
    let now = 0;
    const limiter = limiterAt(() => now);
    await limiter.failed('ana', '10.0.0.1');
    await limiter.failed('ana', '10.0.0.1');
    now += 60_001;
    await limiter.failed('ana', '10.0.0.1');
    assert.equal(await limiter.retryAfter('ana', '10.0.0.2'), 0, 'two old failures and a new one are one in a row');
    await limiter.failed('ana', '10.0.0.1');
    await limiter.failed('ana', '10.0.0.1');
    assert.equal(await limiter.retryAfter('ana', '10.0.0.2'), 60);
  });

  it('locks an address out after its own limit, whatever the names; success clears the counts', async () => {
    const limiter = limiterAt(() => 0);
    for (let attempt = 0; attempt < 4; attempt++) await limiter.failed(`user${attempt}`, '10.0.0.1');
    await limiter.succeeded('user0', '10.0.0.1');
    await limiter.failed('user5', '10.0.0.1');
    assert.equal(await limiter.retryAfter('someone', '10.0.0.1'), 0, 'the success cleared the address');
    for (let attempt = 0; attempt < 4; attempt++) await limiter.failed(`other${attempt}`, '10.0.0.1');
    assert.equal(await limiter.retryAfter('someone', '10.0.0.1'), 60);
  });

  it('an admin release ends a user lockout at once', async () => {
    const limiter = limiterAt(() => 0);
    for (let attempt = 0; attempt < 3; attempt++) await limiter.failed('ana', '10.0.0.1');
    assert.equal(await limiter.retryAfter('ana', '10.0.0.2'), 60);
    await limiter.release('ana');
    assert.equal(await limiter.retryAfter('ana', '10.0.0.2'), 0);
  });
});

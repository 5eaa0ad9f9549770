import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginLimiter, MemoryFailureStore, type Failures, type FailureStore } from './login-limiter.js';

/** One login that fails: its slot taken, then its password found wrong. Resolves with its wait (0: it was checked). */
async function wrongLogin(limiter: LoginLimiter, user: string, address: string): Promise<number> {
  const wait = await limiter.admit(user, address);
  if (wait === 0) await limiter.failed(user, address);
  return wait;
}

/** A store shared by hosts: each call answers after a delay, as the database does, so calls interleave. */
class SlowStore implements FailureStore {
  private readonly inner = new MemoryFailureStore();
  private readonly tick = () => new Promise((resolve) => setImmediate(resolve));
  async get(key: string): Promise<Failures | undefined> {
    await this.tick();
    const entry = await this.inner.get(key);
    return entry && { ...entry };
  }
  async add(key: string, now: number, forgetBefore: number): Promise<Failures> {
    await this.tick();
    const entry = { ...(await this.inner.add(key, now, forgetBefore)) };
    await this.tick();
    return entry;
  }
  async uncount(key: string): Promise<void> {
    await this.tick();
    await this.inner.uncount(key);
  }
  async lock(key: string, until: number): Promise<void> {
    await this.tick();
    await this.inner.lock(key, until);
  }
  async delete(key: string): Promise<void> {
    await this.tick();
    await this.inner.delete(key);
  }
}

describe('login limiter', () => {
  const limits = { maxFailuresPerUser: 3, maxFailuresPerAddress: 5, lockoutSeconds: 60 };
  const limiterAt = (now: () => number) => new LoginLimiter(limits, new MemoryFailureStore(), new MemoryFailureStore(), now);

  it('locks a user out after N failures in a row, from any address, and releases after the lockout', async () => {
    let now = 1_000_000;
    const limiter = limiterAt(() => now);
    for (let attempt = 0; attempt < 3; attempt++) assert.equal(await wrongLogin(limiter, 'ana', `10.0.0.${attempt}`), 0);
    assert.equal(await limiter.admit('ana', '10.0.0.9'), 60);
    assert.equal(await limiter.admit('ANA', '10.0.0.9'), 60, 'names are matched without case');
    assert.equal(await limiter.admit('bo', '10.0.0.9'), 0);
    now += 59_500;
    assert.equal(await limiter.admit('ana', '10.0.0.8'), 1);
    now += 500;
    assert.equal(await wrongLogin(limiter, 'ana', '10.0.0.7'), 0);
    assert.equal(await limiter.admit('ana', '10.0.0.7'), 0, 'the count starts again after a lockout');
  });

  it('forgets failures older than the lockout window', async () => {
    let now = 0;
    const limiter = limiterAt(() => now);
    await wrongLogin(limiter, 'ana', '10.0.0.1');
    await wrongLogin(limiter, 'ana', '10.0.0.1');
    now += 60_001;
    await wrongLogin(limiter, 'ana', '10.0.0.1');
    assert.equal(await wrongLogin(limiter, 'ana', '10.0.0.2'), 0, 'two old failures and two new ones: the second new one is still checked');
    assert.equal(await wrongLogin(limiter, 'ana', '10.0.0.2'), 0);
    assert.equal(await limiter.admit('ana', '10.0.0.2'), 60);
  });

  it('locks an address out after its own limit, whatever the names', async () => {
    const limiter = limiterAt(() => 0);
    for (let attempt = 0; attempt < 5; attempt++) assert.equal(await wrongLogin(limiter, `user${attempt}`, '10.0.0.1'), 0);
    assert.equal(await limiter.admit('someone', '10.0.0.1'), 60);
    assert.equal(await limiter.admit('someone', '10.0.0.2'), 0, 'another address is not locked');
  });

  it("a success clears its name's count, not its address's: a valid account does not buy more guesses at others", async () => {
    const limiter = limiterAt(() => 0);
    const results: number[] = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      results.push(await wrongLogin(limiter, `victim${attempt}`, '10.0.0.1'));
      // The attacker's own account, logged in between guesses from the same address.
      if ((await limiter.admit('mallory', '10.0.0.1')) === 0) await limiter.succeeded('mallory', '10.0.0.1');
    }
    assert.deepEqual(results, [0, 0, 0, 0, 0, 60, 60, 60, 60, 60], 'five guesses from the address, then locked');
  });

  it("a success clears its name's failures and takes no slot of its address", async () => {
    const limiter = limiterAt(() => 0);
    for (let attempt = 0; attempt < 2; attempt++) await wrongLogin(limiter, 'ana', '10.0.0.1');
    assert.equal(await limiter.admit('ana', '10.0.0.1'), 0);
    await limiter.succeeded('ana', '10.0.0.1');
    for (let attempt = 0; attempt < 3; attempt++) assert.equal(await wrongLogin(limiter, 'ana', '10.0.0.2'), 0, 'the name starts from zero');
    // Many people behind one address (an office's NAT) logging in do not lock it out.
    for (let login = 0; login < 20; login++) {
      assert.equal(await limiter.admit(`colleague${login}`, '10.0.0.3'), 0);
      await limiter.succeeded(`colleague${login}`, '10.0.0.3');
    }
    for (let attempt = 0; attempt < 5; attempt++) assert.equal(await wrongLogin(limiter, `typo${attempt}`, '10.0.0.3'), 0);
    assert.equal(await limiter.admit('typo', '10.0.0.3'), 60);
  });

  it('an admin release ends a user lockout at once', async () => {
    const limiter = limiterAt(() => 0);
    for (let attempt = 0; attempt < 3; attempt++) await wrongLogin(limiter, 'ana', '10.0.0.1');
    assert.equal(await limiter.admit('ana', '10.0.0.2'), 60);
    await limiter.release('ana');
    assert.equal(await limiter.admit('ana', '10.0.0.2'), 0);
  });

  it('admits at most N of many attempts sent at once, before any of them is found wrong', async () => {
    const limiter = new LoginLimiter(limits, new SlowStore(), new MemoryFailureStore(), () => 0);
    const waits = await Promise.all(Array.from({ length: 50 }, (_, attempt) => limiter.admit('ana', `10.0.1.${attempt}`)));
    assert.equal(waits.filter((wait) => wait === 0).length, 3, 'the user limit');
    assert.ok(waits.every((wait) => wait === 0 || wait === 60), JSON.stringify(waits));
    const fromOne = await Promise.all(Array.from({ length: 50 }, (_, attempt) => limiter.admit(`name${attempt}`, '10.0.2.1')));
    assert.equal(fromOne.filter((wait) => wait === 0).length, 5, 'the address limit');
    assert.equal(await limiter.admit('ana', '10.0.3.1'), 60, 'locked while the admitted ones are still being checked');
  });
});

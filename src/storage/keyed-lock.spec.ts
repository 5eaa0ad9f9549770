import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedSharedLock } from './keyed-lock.js';

describe('KeyedSharedLock', () => {
  it('runs shared actions side by side, and an exclusive one alone between those before and after it', async () => {
    const lock = new KeyedSharedLock();
    const events: string[] = [];
    const gates: Record<string, () => void> = {};
    const action = (name: string) => async () => {
      events.push(`${name} starts`);
      await new Promise<void>((resolve) => (gates[name] = resolve));
      events.push(`${name} ends`);
      return name;
    };
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const done = [lock.shared('u', action('part 1')), lock.shared('u', action('part 2')), lock.exclusive('u', action('complete')), lock.shared('u', action('part 3')), lock.shared('other', action('elsewhere'))];
    await turn();
    assert.deepEqual(events, ['part 1 starts', 'part 2 starts', 'elsewhere starts']);
    gates['part 1']();
    await turn();
    assert.ok(!events.includes('complete starts'), 'waits for part 2');
    gates['part 2']();
    await turn();
    assert.equal(events.at(-1), 'complete starts');
    assert.ok(!events.includes('part 3 starts'), 'part 3 waits for the completion');
    gates.complete();
    await turn();
    assert.equal(events.at(-1), 'part 3 starts');
    gates['part 3']();
    gates.elsewhere();
    assert.deepEqual(await Promise.all(done), ['part 1', 'part 2', 'complete', 'part 3', 'elsewhere']);
  });

  it('goes on after an action that failed', async () => {
    const lock = new KeyedSharedLock();
    await assert.rejects(lock.exclusive('u', async () => Promise.reject(new Error('store away'))));
    assert.equal(await lock.shared('u', async () => 'next'), 'next');
  });
});

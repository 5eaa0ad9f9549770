import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latestIterator } from './latest-iterator.js';

describe('latestIterator', () => {
  it('starts with the initial value, then yields only the newest of the values pushed while nobody read', async () => {
    let push: (value: number) => void = () => {};
    let stopped = false;
    const iterator = latestIterator<number>((listener) => {
      push = listener;
      return () => (stopped = true);
    }, 0);
    assert.deepEqual(await iterator.next(), { value: 0, done: false });
    push(1);
    push(2);
    assert.deepEqual(await iterator.next(), { value: 2, done: false });
    const waiting = iterator.next();
    push(3);
    assert.deepEqual(await waiting, { value: 3, done: false });
    await iterator.return!();
    assert.equal(stopped, true);
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latestIterator, queueIterator } from './push-iterators.js';

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

describe('queueIterator', () => {
  it('yields every value in order, then ends after end()', async () => {
    let push: (value: string) => void = () => {};
    let end: () => void = () => {};
    let stopped = false;
    const iterator = queueIterator<string>((onValue, onEnd) => {
      push = onValue;
      end = onEnd;
      return () => (stopped = true);
    });
    push('a');
    push('b');
    const waiting = iterator.next();
    assert.deepEqual(await waiting, { value: 'a', done: false });
    assert.deepEqual(await iterator.next(), { value: 'b', done: false });
    const third = iterator.next();
    push('c');
    end();
    push('ignored');
    assert.deepEqual(await third, { value: 'c', done: false });
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    assert.equal(stopped, true);
  });
});

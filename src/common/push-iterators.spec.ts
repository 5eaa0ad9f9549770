import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchIterator, latestIterator, queueIterator, throttled } from './push-iterators.js';

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

describe('batchIterator', () => {
  it('gives the first values at once, then what came since in one batch per interval, dropping the oldest past max', async () => {
    let push: (value: number) => void = () => {};
    let end: () => void = () => {};
    let stopped = false;
    const iterator = batchIterator<number>((onValue, onEnd) => {
      push = onValue;
      end = onEnd;
      return () => (stopped = true);
    }, { max: 3, everyMs: 50 });
    push(1);
    const started = Date.now();
    assert.deepEqual(await iterator.next(), { value: { values: [1], dropped: 0 }, done: false });
    for (const value of [2, 3, 4, 5, 6]) push(value);
    assert.deepEqual(await iterator.next(), { value: { values: [4, 5, 6], dropped: 2 }, done: false });
    assert.ok(Date.now() - started >= 45, 'the second batch waited for the interval');
    push(7);
    end();
    push(8);
    assert.deepEqual(await iterator.next(), { value: { values: [7], dropped: 0 }, done: false });
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    assert.equal(stopped, true);
  });

  it('stops the source when the reader leaves while waiting', async () => {
    let stopped = false;
    const iterator = batchIterator<number>(() => () => (stopped = true), { max: 10, everyMs: 50 });
    const waiting = iterator.next();
    await iterator.return!();
    assert.equal(stopped, true);
    assert.deepEqual(await waiting, { value: undefined, done: true });
  });
});

describe('throttled', () => {
  it('runs at once, then once at the end of the interval for any number of triggers in between', async () => {
    const runs: number[] = [];
    const started = Date.now();
    let second: () => void = () => {};
    const secondRun = new Promise<void>((resolve) => (second = resolve));
    const throttle = throttled(() => {
      runs.push(Date.now() - started);
      if (runs.length === 2) second();
    }, 40);
    throttle.trigger();
    throttle.trigger();
    throttle.trigger();
    assert.equal(runs.length, 1);
    await secondRun;
    assert.equal(runs.length, 2);
    assert.ok(runs[1] >= 35, `the trailing run waited for the interval (${runs[1]} ms)`);
    throttle.cancel();
  });
});

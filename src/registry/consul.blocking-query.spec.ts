import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockingLoop, nextIndex } from './consul.blocking-query.js';

describe('the next Consul index to block on', () => {
  it('is the returned index when it grew or stayed', () => {
    assert.equal(nextIndex(0, 17), 17);
    assert.equal(nextIndex(17, 17), 17);
    assert.equal(nextIndex(17, 30), 30);
  });
  it('goes back to 0 (a fresh read) when the index went backwards', () => {
    assert.equal(nextIndex(30, 4), 0);
  });
  it('is never 0 or less after a read: 1 instead', () => {
    assert.equal(nextIndex(0, 0), 1);
    assert.equal(nextIndex(0, -3), 1);
  });
});

describe('the blocking-query loop', () => {
  it('reads afresh (index 0) after a failed read: a restarted agent would hold the old index for its whole wait', async () => {
    const sent: number[] = [];
    // The loop's own timers do not keep a process alive.
    const keepAlive = setInterval(() => undefined, 1_000);
    let loop!: BlockingLoop<string>;
    const third = new Promise<void>((resolve) => {
      loop = new BlockingLoop<string>({
        read: async (index) => {
          sent.push(index);
          if (sent.length === 2) throw new Error('connect ECONNREFUSED');
          if (sent.length === 3) resolve();
          return { index: 50, data: 'services' };
        },
        onData: () => undefined,
        onError: () => undefined,
        minIntervalMs: 1,
      });
    });
    await third;
    loop.stop();
    clearInterval(keepAlive);
    assert.deepEqual(sent, [0, 50, 0]);
  });
});

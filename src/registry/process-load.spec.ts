import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStat, ProcessLoadSampler } from './process-load.js';

describe('reading /proc/<pid>/stat', () => {
  it('finds parent, CPU ticks and resident pages even when the command name has spaces and parentheses', () => {
    const line = '4242 (my (odd) app) S 17 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 3 0 1000 123456789 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    assert.deepEqual(parseStat(4242, line), { pid: 4242, parent: 17, ticks: 300, rss: 321 });
  });

  it('samples this very process: one process or more, some memory', () => {
    const figures = new ProcessLoadSampler(process.pid).sample();
    assert.ok(figures && figures.processes >= 1 && figures.memory > 1024 * 1024, JSON.stringify(figures));
    assert.equal(new ProcessLoadSampler(2 ** 22 + 12345).sample(), null);
  });
});

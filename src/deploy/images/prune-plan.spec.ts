import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { releasesToPrune } from './prune-plan.js';

const release = (id: string, createdAt: number, imageRemovedAt: number | null = null) => ({ id, createdAt, imageRemovedAt });

describe('releasesToPrune', () => {
  const ready = [release('r1', 1), release('r3', 3), release('r2', 2), release('r5', 5), release('r4', 4)];

  it('keeps the newest `keep` releases and prunes the older ones, whatever the input order', () => {
    assert.deepEqual(releasesToPrune(ready, 2, new Set()), ['r3', 'r2', 'r1']);
    assert.deepEqual(releasesToPrune(ready, 5, new Set()), []);
    assert.deepEqual(releasesToPrune(ready, 9, new Set()), []);
  });

  it('never prunes a release in use, however old', () => {
    assert.deepEqual(releasesToPrune(ready, 2, new Set(['r1', 'r3'])), ['r2']);
  });

  it('does not list again a release whose image is already gone', () => {
    assert.deepEqual(releasesToPrune([...ready.slice(1), release('r1', 1, 100)], 2, new Set()), ['r3', 'r2']);
  });
});

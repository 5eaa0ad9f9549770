import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from the first wait up to the longest, and jitters within the share asked', () => {
    const options = { firstMs: 500, maxMs: 30_000, jitter: 0.5 };
    assert.deepEqual([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, options, () => 1)), [500, 1_000, 2_000, 4_000]);
    assert.equal(backoffDelay(20, options, () => 1), 30_000);
    assert.equal(backoffDelay(3, options, () => 0), 1_000);
    assert.equal(backoffDelay(3, { firstMs: 500, maxMs: 30_000, jitter: 0 }, () => 0), 2_000);
  });
});

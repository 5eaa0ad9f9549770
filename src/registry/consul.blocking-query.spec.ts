import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextIndex } from './consul.blocking-query.js';

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

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FETCH_BLOCKED_PORTS, hostsMayCollide } from './listen.js';

/** Why fetch() failed to reach 127.0.0.1:`port` (nothing listens there): "bad port", or the refused connection's code. */
async function fetchFailure(port: number): Promise<string> {
  try {
    await fetch(`http://127.0.0.1:${port}/`);
    return 'answered';
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? String(error);
  }
}

describe('FETCH_BLOCKED_PORTS', () => {
  it("is the list this Node's fetch() refuses", async () => {
    for (const port of FETCH_BLOCKED_PORTS) assert.equal(await fetchFailure(port), 'bad port', `port ${port}`);
    for (const port of [10079, 10081, 7700, 8080]) assert.notEqual(await fetchFailure(port), 'bad port', `port ${port}`);
  });
});

describe('hostsMayCollide', () => {
  it('is true for one host, or when either listens on every address', () => {
    assert.equal(hostsMayCollide('127.0.0.1', '127.0.0.1'), true);
    assert.equal(hostsMayCollide('0.0.0.0', '127.0.0.1'), true);
    assert.equal(hostsMayCollide('10.0.0.5', '::'), true);
    assert.equal(hostsMayCollide('Web-1.internal', 'web-1.internal'), true);
    assert.equal(hostsMayCollide('127.0.0.1', '127.0.0.2'), false);
    assert.equal(hostsMayCollide('127.0.0.1', '::1'), false);
  });
});

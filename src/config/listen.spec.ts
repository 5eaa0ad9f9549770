import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FETCH_BLOCKED_PORTS } from './listen.js';

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

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startDozen } from './support/dozen-process.js';

// A first start a person can read: Nest's wiring chatter is debug, so at the default level only dozen's own
// lines show; on a pipe (as here) they are JSON unless log.format asks for readable lines.
describe('dozen serve logs', { timeout: 60_000 }, () => {
  it("writes JSON lines on a pipe and keeps Nest's wiring lines at debug", async () => {
    for (const level of ['info', 'debug']) {
      const dozen = await startDozen({ env: { DOZEN_MODULES: 'storage', DOZEN_LOG_LEVEL: level } });
      await dozen.stop();
      const entries = dozen.logs().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
      assert.ok(entries.some((entry) => entry.msg === 'dozen started' && entry.level === 30), dozen.logs());
      const wiring = entries.filter((entry) => entry.context === 'InstanceLoader');
      if (level === 'info') assert.deepEqual(wiring, [], 'Nest wiring lines at info');
      else assert.ok(wiring.length && wiring.every((entry) => entry.level === 20), JSON.stringify(wiring));
    }
  });

  it('writes readable lines when log.format is pretty', async () => {
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'storage', DOZEN_LOG_FORMAT: 'pretty' } });
    await dozen.stop();
    assert.match(dozen.logs(), /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: dozen started \{"version":/m);
    assert.doesNotMatch(dozen.logs(), /^\{"level"/m);
  });
});

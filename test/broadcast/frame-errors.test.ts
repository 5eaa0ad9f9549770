import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { TestClient } from './ws-client.js';

/** pino's JSON lines of the process, parsed. */
function logLines(dozen: DozenProcess): { level: number; msg: string; [field: string]: unknown }[] {
  return dozen
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

describe('broadcast: a client sending frames over maxFrameBytes', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_MAX_FRAME_BYTES: '1024' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('is closed with 1009, counted in a metric and logged once per connection below error level', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const client = await TestClient.connect(dozen.url, dozen.token);
      client.send({ type: 'publish', room: 'chat.big', data: 'y'.repeat(5000) });
      assert.equal((await client.closedWith()).code, 1009);
      client.close();
    }
    const metrics = async () => (await (await fetch(dozen.url + '/metrics')).text()).match(/^dozen_broadcast_oversize_frames_total (\d+)$/m)?.[1];
    await waitFor('the metric to count 3 oversize frames', async () => (await metrics()) === '3', 10_000);
    const lines = logLines(dozen).filter((line) => JSON.stringify(line).includes('Max payload size exceeded'));
    assert.equal(lines.length, 3, `one line per connection:\n${dozen.logs().slice(-3000)}`);
    for (const line of lines) assert.ok(line.level < 50, `below error level: ${JSON.stringify(line)}`);
    assert.equal(logLines(dozen).filter((line) => line.level >= 50).length, 0, `no error lines:\n${dozen.logs().slice(-3000)}`);
  });
});

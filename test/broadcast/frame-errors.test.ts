import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';
import { sendBeforeAuth, TestClient } from './ws-client.js';

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

/** `[[[ … 1 … ]]]`: `depth` arrays, one inside the other, as JSON text (10 KB at depth 5000). */
function nested(depth: number): string {
  return '['.repeat(depth) + '1' + ']'.repeat(depth);
}

describe('broadcast: a publish whose data nests deeper than the limit', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('is refused over WebSocket with bad_frame naming data, and the server goes on serving everyone', async () => {
    const [publisher, listener] = [await TestClient.connect(dozen.url, dozen.token), await TestClient.connect(dozen.url, dozen.token)];
    try {
      await listener.join('chat.deep');
      // 5,000 levels in 10 KB: JSON.parse takes it, JSON.stringify of it overflows the stack.
      publisher.socket.send(`{"type":"publish","room":"chat.deep","data":${nested(5000)}}`);
      const error = await publisher.frame('error');
      assert.equal(error.code, 'bad_frame', JSON.stringify(error));
      assert.match(error.message!, /^data: .*64/, 'names the field and the limit');
      assert.equal(publisher.closed, null, 'a refused frame keeps the connection');
      // The limit itself is allowed: 64 levels arrive.
      publisher.send({ type: 'publish', room: 'chat.deep', data: JSON.parse(nested(64)) });
      const message = await listener.frame('message', 'chat.deep');
      assert.equal(message.seq, 1, 'the deep frame was not published');
      assert.equal(JSON.stringify(message.data), nested(64));
      publisher.send({ type: 'publish', room: 'chat.deep', data: JSON.parse(nested(65)) });
      assert.equal((await publisher.frame('error')).code, 'bad_frame');
      const other = await TestClient.connect(dozen.url, dozen.token);
      other.send({ type: 'ping' });
      await other.frame('pong');
      other.close();
      assert.equal(dozen.child.exitCode, null, `dozen is still running\n${dozen.logs().slice(-2000)}`);
    } finally {
      publisher.close();
      listener.close();
    }
  });

  it('is refused over REST with 400 naming data', async () => {
    const response = await dozen.api('/broadcast/rooms/chat.deep-rest/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"data":${nested(5000)}}` });
    const body = await response.json();
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(body.field, 'data');
    assert.match(body.message, /64/);
    assert.equal((await fetch(dozen.url + '/health')).status, 200);
  });
});

describe('broadcast: frames a client sends before its token is checked', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    // preAuthBytes defaults to maxFrameBytes: 1 KiB here; preAuthFrames to 32.
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_MAX_FRAME_BYTES: '1024' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  const refusals = () => logLines(dozen).filter((line) => line.msg === 'client sent too much before its token was checked: closing it');

  it('are handled in order once it is, up to 32 frames and maxFrameBytes', async () => {
    const pings = Array.from({ length: 32 }, () => ({ type: 'ping' }));
    const { frames, closed } = await sendBeforeAuth(dozen.url, dozen.token, pings, 1000);
    assert.equal(closed, null, `the connection stays: ${JSON.stringify(closed)}`);
    assert.equal(frames.filter((frame) => frame.type === 'pong').length, 32);
  });

  it('close that client with 1008 past 32 frames or past maxFrameBytes, hold nothing of it, log one line, and leave the others be', async () => {
    const other = await TestClient.connect(dozen.url, dozen.token);
    try {
      await other.join('chat.early');
      const manyFrames = await sendBeforeAuth(dozen.url, dozen.token, Array.from({ length: 33 }, () => ({ type: 'ping' })));
      assert.deepEqual(manyFrames.closed, { code: 1008, reason: 'too much sent before the token was checked' });
      assert.deepEqual(manyFrames.frames, [], 'none of its frames was handled');
      // Two frames of 600 bytes: each fits maxFrameBytes, together they pass what is held before the check.
      const publish = { type: 'publish', room: 'chat.early', data: 'x'.repeat(550) };
      const manyBytes = await sendBeforeAuth(dozen.url, dozen.token, [publish, publish]);
      assert.deepEqual(manyBytes.closed, { code: 1008, reason: 'too much sent before the token was checked' });
      other.send({ type: 'publish', room: 'chat.early', data: 'after' });
      const message = await other.frame('message', 'chat.early');
      assert.deepEqual([message.seq, message.data], [1, 'after'], 'nothing of the refused clients was published');
      assert.equal(other.closed, null);
      await waitFor('two log lines', async () => refusals().length === 2, 10_000);
      const counted = (await (await fetch(dozen.url + '/metrics')).text()).match(/^dozen_broadcast_early_frames_refused_total (\d+)$/m)?.[1];
      assert.equal(counted, '2', 'dozen_broadcast_early_frames_refused_total counts both refusals');
      assert.deepEqual(
        refusals().map(({ level, frames, bytes }) => ({ level, frames, bytes })),
        [
          { level: 40, frames: 33, bytes: 33 * JSON.stringify({ type: 'ping' }).length },
          { level: 40, frames: 2, bytes: 2 * JSON.stringify(publish).length },
        ],
      );
    } finally {
      other.close();
    }
  });
});

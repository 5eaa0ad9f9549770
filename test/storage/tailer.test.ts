import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, readFile, rename, rm, truncate, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

const today = () => new Date().toISOString().slice(0, 10);
const objectKey = (file: string) => `logs/testhost/${file}/${today()}.log`;

let counter = 0;
function lines(count: number, tag: string): string {
  let text = '';
  for (let index = 0; index < count; index++) text += `${tag} ${String(++counter).padStart(7, '0')} ${'x'.repeat((counter * 7919) % 90)}\n`;
  return text;
}

/** Appends `text` in random-sized chunks that ignore line boundaries, as a real writer's buffer flushes would. */
async function writeInChunks(path: string, text: string, pauseEvery = 50): Promise<void> {
  const handle = await open(path, 'a');
  try {
    let at = 0;
    let writes = 0;
    while (at < text.length) {
      const size = 1 + Math.floor(Math.random() * 20_000);
      await handle.write(text.slice(at, at + size));
      at += size;
      if (++writes % pauseEvery === 0) await sleep(5);
    }
  } finally {
    await handle.close();
  }
}

function tailEnv(logs: string): Record<string, string> {
  return {
    DOZEN_MODULES: 'storage',
    DOZEN_HOST_NAME: 'testhost',
    DOZEN_STORAGE_TAIL: JSON.stringify([{ glob: join(logs, '*.log'), key: 'logs/{host}/{file}/{date}.log' }]),
    DOZEN_STORAGE_TAILER_FLUSH_MS: '200',
    DOZEN_STORAGE_TAILER_SCAN_MS: '200',
    DOZEN_STORAGE_TAILER_PARTIAL_LINE_MS: '1000',
    DOZEN_STORAGE_TAILER_MAX_BACKOFF_MS: '1000',
  };
}

async function objectText(dozen: DozenProcess, key: string): Promise<string | null> {
  const response = await dozen.api('/storage/objects/' + key.split('/').map(encodeURIComponent).join('/'));
  if (response.status === 404) return null;
  assert.equal(response.status, 200);
  return response.text();
}

/** Waits until the object holds exactly `expected`; on timeout shows where they first differ. */
async function waitForObject(dozen: DozenProcess, key: string, expected: string, timeoutMs = 30_000): Promise<void> {
  let actual: string | null = null;
  try {
    await waitFor(`${key} to equal the file`, async () => (actual = await objectText(dozen, key)) === expected, timeoutMs, 200);
  } catch {
    const text = actual ?? '';
    let index = 0;
    while (index < text.length && index < expected.length && text[index] === expected[index]) index++;
    assert.fail(`${key}: ${text.length} bytes stored, ${expected.length} expected; first difference at ${index}: ` +
      `${JSON.stringify(text.slice(index, index + 60))} vs ${JSON.stringify(expected.slice(index, index + 60))}\n${(await (await dozen.api('/storage/tail')).text())}`);
  }
}

describe('the tailer ships log lines to the store', { timeout: 200_000 }, () => {
  let dozen: DozenProcess;
  let logs: string;
  before(async () => {
    logs = await mkdtemp(join(tmpdir(), 'dozen-logs-'));
    dozen = await startDozen({ env: tailEnv(logs) });
  });
  after(async () => {
    await dozen?.stop();
    await rm(logs, { recursive: true, force: true });
  });

  it('100,000 lines written in random chunks arrive complete, in order, once', async () => {
    const text = lines(100_000, 'bulk');
    await writeInChunks(join(logs, 'bulk.log'), text);
    await waitForObject(dozen, objectKey('bulk.log'), text, 60_000);
    const status = await (await dozen.api('/storage/tail')).json();
    const file = status.files.find((entry: { path: string }) => entry.path === join(logs, 'bulk.log'));
    assert.deepEqual([file.offset, file.size, file.lagBytes, file.objectKey], [Buffer.byteLength(text), Buffer.byteLength(text), 0, objectKey('bulk.log')]);
    const health = await (await dozen.api('/storage/health')).json();
    assert.equal(health.details.tail.storeUp, true);
  });

  it('picks up a new file matching the glob, and ships a last line without newline after a pause', async () => {
    await appendFile(join(logs, 'late.log'), 'first line\nno newline yet');
    await waitForObject(dozen, objectKey('late.log'), 'first line\nno newline yet', 15_000);
    await appendFile(join(logs, 'late.log'), ' - and now the rest\n');
    await waitForObject(dozen, objectKey('late.log'), 'first line\nno newline yet - and now the rest\n', 15_000);
  });

  it('follows a rename rotation: the old file to its end, then the new one', async () => {
    const path = join(logs, 'rotate.log');
    const before = lines(3000, 'old');
    const writer = await open(path, 'a');
    await writer.write(before);
    await sleep(300);
    await rename(path, join(logs, 'rotate.log.1'));
    // The app still holds the old file open and writes a little more before it reopens.
    const straggler = lines(500, 'straggler');
    await writer.write(straggler);
    await writer.close();
    const afterRotation = lines(3000, 'new');
    await writeInChunks(path, afterRotation);
    await waitForObject(dozen, objectKey('rotate.log'), before + straggler + afterRotation);
  });

  it('follows a copytruncate rotation: notices the cut and starts again at 0', async () => {
    const path = join(logs, 'copytruncate.log');
    const first = lines(3000, 'before-cut');
    await writeInChunks(path, first);
    await waitForObject(dozen, objectKey('copytruncate.log'), first);
    await copyFile(path, join(logs, 'copytruncate.log.1'));
    await truncate(path, 0);
    const second = lines(5000, 'after-cut');
    await writeInChunks(path, second);
    await waitForObject(dozen, objectKey('copytruncate.log'), first + second);
  });
});

describe('the tailer across a crash', { timeout: 200_000 }, () => {
  let dozen: DozenProcess;
  let logs: string;
  after(async () => {
    await dozen?.stop();
    await rm(logs, { recursive: true, force: true });
  });

  it('loses no line and ships none twice when dozen is killed (SIGKILL) and restarted mid-stream', async () => {
    logs = await mkdtemp(join(tmpdir(), 'dozen-logs-'));
    dozen = await startDozen({ env: tailEnv(logs) });
    const path = join(logs, 'crash.log');
    const text = lines(120_000, 'crash');
    const writing = writeInChunks(path, text, 10);
    await waitFor('some lines shipped', async () => ((await objectText(dozen, objectKey('crash.log')))?.length ?? 0) > 200_000, 30_000, 20);
    const dataDir = dozen.dataDir;
    await dozen.stop('SIGKILL');
    await writing;
    dozen = await startDozen({ env: tailEnv(logs), dataDir });
    await waitForObject(dozen, objectKey('crash.log'), text, 60_000);
    assert.equal((await readFile(path, 'utf8')).length, text.length);
  });
});

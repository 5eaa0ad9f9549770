import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, it } from 'node:test';
import { requireBinary } from '../support/debian.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

const key = () => `logs/testhost/app.log/${new Date().toISOString().slice(0, 10)}.log`;

function tailEnv(logs: string): Record<string, string> {
  return {
    DOZEN_MODULES: 'storage',
    DOZEN_HOST_NAME: 'testhost',
    DOZEN_STORAGE_TAIL: JSON.stringify([{ glob: join(logs, '*.log'), key: 'logs/{host}/{file}/{date}.log' }]),
    // A whole second of lines waits unshipped at any time: that is what a cut would lose.
    DOZEN_STORAGE_TAILER_FLUSH_MS: '1000',
    DOZEN_STORAGE_TAILER_SCAN_MS: '200',
  };
}

/** Appends numbered lines at ≈ 4,000 a second (20 every 5 ms), each write opening the file as a logger would, until stopped. */
function busyWriter(path: string) {
  let running = true;
  let line = 0;
  const done = (async () => {
    while (running) {
      let text = '';
      for (let index = 0; index < 20; index++) text += `line ${String(++line).padStart(8, '0')} ${'w'.repeat(line % 60)}\n`;
      await appendFile(path, text);
      await sleep(5);
    }
  })();
  return {
    get written() {
      return line;
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** Waits until the writer has appended `lines` more lines (a condition, not a time: a loaded machine writes slower). */
async function linesWritten(writer: ReturnType<typeof busyWriter>, lines: number): Promise<void> {
  const target = writer.written + lines;
  await waitFor(`${lines} more lines written`, async () => writer.written >= target, 30_000, 20);
}

/** Runs Debian's logrotate once, forced, on `app.log` with `mode` (copytruncate or create). */
function logrotate(logs: string, mode: 'copytruncate' | 'create'): void {
  const binary = requireBinary('logrotate', 'logrotate');
  const config = join(logs, '..', `${logs.split('/').pop()}.logrotate.conf`);
  execFileSync('sh', ['-c', `cat > ${config}`], { input: `${join(logs, 'app.log')} {\n  ${mode}\n  rotate 5\n  nocompress\n  missingok\n}\n` });
  execFileSync(binary, ['-f', '-s', join(logs, '..', `${logs.split('/').pop()}.logrotate.state`), config], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function objectText(dozen: DozenProcess): Promise<string> {
  const response = await dozen.api('/storage/objects/' + key().split('/').map(encodeURIComponent).join('/'));
  return response.status === 200 ? response.text() : '';
}

/** The line numbers `text` holds. */
function lineNumbers(text: string): Set<number> {
  return new Set(text.split('\n').filter(Boolean).map((entry) => Number(entry.split(' ')[1])));
}

/** Numbers missing from the 1..n sequence of lines in `text`: what logrotate itself lost between its copy and its truncate. */
function missingLines(text: string, written: number): number {
  const seen = lineNumbers(text);
  let missing = 0;
  for (let number = 1; number <= written; number++) if (!seen.has(number)) missing++;
  return missing;
}

/** For a failure's message: which line numbers are missing (`9681-12560, 13001`), and what dozen logged about the file. */
function whatWentMissing(text: string, written: number, dozen: DozenProcess): string {
  const seen = lineNumbers(text);
  const ranges: string[] = [];
  for (let number = 1; number <= written; number++) {
    if (seen.has(number)) continue;
    const first = number;
    while (number < written && !seen.has(number + 1)) number++;
    ranges.push(first === number ? `${first}` : `${first}-${number}`);
  }
  const said = dozen.logs().split('\n').filter((line) => /truncat|rotat|tail/i.test(line)).slice(-10);
  return `missing line numbers ${ranges.slice(0, 10).join(', ') || 'none'}; dozen said:\n${said.join('\n')}`;
}

describe('the tailer under Debian’s logrotate with a busy writer', { timeout: 200_000 }, () => {
  let dozen: DozenProcess | undefined;
  let logs: string;
  afterEach(async () => {
    await dozen?.stop();
    await rm(logs, { recursive: true, force: true });
    await rm(`${logs}.logrotate.conf`, { force: true });
    await rm(`${logs}.logrotate.state`, { force: true });
  });

  for (const crash of [false, true]) {
    it(`copytruncate${crash ? ' while dozen is killed (SIGKILL)' : ''}: ships the rotated copy’s unread tail, so only what logrotate lost between copy and truncate is missing`, async () => {
      logs = await mkdtemp(join(tmpdir(), 'dozen-logrotate-'));
      const path = join(logs, 'app.log');
      await writeFile(path, '');
      dozen = await startDozen({ env: tailEnv(logs) });
      const writer = busyWriter(path);
      await waitFor('lines shipped', async () => (await objectText(dozen!)).length > 100_000, 30_000, 50);
      const dataDir = dozen.dataDir;
      if (crash) await dozen.stop('SIGKILL');
      logrotate(logs, 'copytruncate');
      await linesWritten(writer, 2_000);
      if (crash) dozen = await startDozen({ env: tailEnv(logs), dataDir });
      await linesWritten(writer, 4_000);
      await writer.stop();
      // Everything logrotate kept: its copy, then the cut file as it grew again.
      const expected = (await readFile(join(logs, 'app.log.1'), 'utf8')) + (await readFile(path, 'utf8'));
      let stored = '';
      await waitFor('the object to hold the copy and the cut file', async () => (stored = await objectText(dozen!)) === expected, 30_000, 200).catch(() => {
        assert.fail(`stored ${stored.length} bytes (${missingLines(stored, writer.written)} of ${writer.written} lines missing), logrotate kept ${expected.length} (${missingLines(expected, writer.written)} missing); ${whatWentMissing(stored, writer.written, dozen!)}`);
      });
      process.stderr.write(`# copytruncate${crash ? ' + SIGKILL' : ''}: ${writer.written} lines written, ${missingLines(stored, writer.written)} missing (lost by logrotate between its copy and its truncate)\n`);
    });
  }

  it('create (rename) rotation, while dozen is killed (SIGKILL): loses nothing', async () => {
    logs = await mkdtemp(join(tmpdir(), 'dozen-logrotate-'));
    const path = join(logs, 'app.log');
    await writeFile(path, '');
    dozen = await startDozen({ env: tailEnv(logs) });
    const writer = busyWriter(path);
    await waitFor('lines shipped', async () => (await objectText(dozen!)).length > 100_000, 30_000, 50);
    const dataDir = dozen.dataDir;
    await dozen.stop('SIGKILL');
    logrotate(logs, 'create');
    await linesWritten(writer, 2_000);
    dozen = await startDozen({ env: tailEnv(logs), dataDir });
    await linesWritten(writer, 4_000);
    await writer.stop();
    let stored = '';
    await waitFor('every line stored once', async () => missingLines((stored = await objectText(dozen!)), writer.written) === 0, 30_000, 200).catch(() => {
      assert.fail(`stored ${stored.length} bytes, ${missingLines(stored, writer.written)} of ${writer.written} lines missing; ${whatWentMissing(stored, writer.written, dozen!)}`);
    });
    assert.equal(stored, (await readFile(join(logs, 'app.log.1'), 'utf8')) + (await readFile(path, 'utf8')));
  });
});

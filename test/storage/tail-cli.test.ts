import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

describe('dozen tail', { timeout: 60_000 }, () => {
  it('runs the tailer alone: ships lines to the configured store and stops cleanly on SIGTERM', async () => {
    const work = await mkdtemp(join(tmpdir(), 'dozen-tail-cli-'));
    const logs = join(work, 'logs');
    const dataDir = join(work, 'data');
    await mkdir(logs);
    await appendFile(join(logs, 'job.log'), 'started\n');
    const child = spawn(process.execPath, [CLI, 'tail', '--glob', join(logs, '*.log'), '--key', '{host}/{file}'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DOZEN_DATA_DIR: dataDir, DOZEN_HOST_NAME: 'clihost', DOZEN_STORAGE_TAILER_FLUSH_MS: '100', DOZEN_STORAGE_TAILER_SCAN_MS: '100' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await appendFile(join(logs, 'job.log'), 'working\n');
      const object = join(dataDir, 'objects/data/clihost/job.log');
      await waitFor('the lines in the local store', async () => (await readFile(object, 'utf8').catch(() => '')) === 'started\nworking\n', 30_000, 100).catch((error: Error) =>
        assert.fail(`${error.message}\n${output}`),
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
    } finally {
      child.kill('SIGKILL');
      await rm(work, { recursive: true, force: true });
    }
  });
});

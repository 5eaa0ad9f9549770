import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Crc64 } from '../../src/storage/crc64.js';
import { CLI, startDozen, type DozenProcess } from '../support/dozen-process.js';
import { waitFor } from '../support/ports.js';

const MIB = 1024 * 1024;

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the CLI process in MiB (VmHWM), sampled from /proc. */
  peakMiB: number;
}

function upload(args: string[], env: Record<string, string>, onStart?: (pid: number) => void): Promise<Run> {
  const child = spawn(process.execPath, [CLI, 'upload', ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peakMiB = 0;
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const sampler = setInterval(() => {
    void readFile(`/proc/${child.pid}/status`, 'utf8').then((status) => {
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      if (match) peakMiB = Math.max(peakMiB, Number(match[1]) / 1024);
    }, () => undefined);
  }, 100);
  onStart?.(child.pid!);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearInterval(sampler);
      resolve({ code: code ?? signal ?? -1, stdout, stderr, peakMiB });
    }),
  );
}

async function peakMiBOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** A file of `size` bytes that is not one repeated block (each MiB starts with its index). */
async function makeFile(path: string, size: number): Promise<string> {
  const block = Buffer.alloc(MIB);
  for (let index = 0; index < MIB; index++) block[index] = (index * 131 + 7) & 0xff;
  const handle = await open(path, 'w');
  const crc = new Crc64();
  try {
    for (let offset = 0; offset < size; offset += MIB) {
      block.writeUInt32BE(offset / MIB, 0);
      const piece = block.subarray(0, Math.min(MIB, size - offset));
      await handle.write(piece);
      crc.update(piece);
    }
  } finally {
    await handle.close();
  }
  return crc.value;
}

async function crcOfFile(path: string): Promise<string> {
  const crc = new Crc64();
  for await (const chunk of createReadStream(path, { highWaterMark: MIB })) crc.update(chunk as Buffer);
  return crc.value;
}

describe('dozen upload', { timeout: 200_000 }, () => {
  let dozen: DozenProcess;
  let work: string;
  let env: Record<string, string>;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'storage' } });
    work = await mkdtemp(join(tmpdir(), 'dozen-upload-'));
    env = { DOZEN_URL: dozen.url, DOZEN_TOKEN: dozen.token };
  });
  after(async () => {
    await dozen?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('stores a file and a directory tree under <key>/, exit 0', async () => {
    await writeFile(join(work, 'one.txt'), 'hello\n');
    await mkdir(join(work, 'tree/sub'), { recursive: true });
    await writeFile(join(work, 'tree/a.css'), 'a{}');
    await writeFile(join(work, 'tree/sub/b.txt'), 'b');
    const single = await upload([join(work, 'one.txt'), 'files/one.txt'], env);
    assert.equal(single.code, 0, single.stderr);
    assert.equal(single.stdout, '', 'quiet when not on a TTY');
    assert.equal(await (await dozen.api('/storage/objects/files/one.txt')).text(), 'hello\n');
    const tree = await upload([join(work, 'tree'), 'site', '--json'], env);
    assert.equal(tree.code, 0, tree.stderr);
    assert.deepEqual(tree.stdout.trim().split('\n').map((line) => JSON.parse(line).key), ['site/a.css', 'site/sub/b.txt']);
    const listed = await (await dozen.api('/storage/objects?prefix=site/')).json();
    assert.deepEqual(listed.objects.map((object: { key: string; size: number }) => [object.key, object.size]), [
      ['site/a.css', 3],
      ['site/sub/b.txt', 1],
    ]);
    const css = await dozen.api('/storage/objects/site/a.css', { method: 'HEAD' });
    assert.equal(css.headers.get('content-type'), 'text/css');
  });

  it('refuses to overwrite with --no-overwrite, and fails with one line for a missing file or a bad key', async () => {
    const refused = await upload([join(work, 'one.txt'), 'files/one.txt', '--no-overwrite'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^dozen: 412 .*If-None-Match/);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
    const missing = await upload([join(work, 'nope'), 'x'], env);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /does not exist/);
    const badKey = await upload([join(work, 'one.txt'), '../escape'], env);
    assert.notEqual(badKey.code, 0);
    assert.match(badKey.stderr, /^dozen: object key "..\/escape" must not contain \. or \.\. segments\n$/);
    const badType = await upload([join(work, 'one.txt'), 'files/typed.txt', '--content-type', 'text/html, text/plain'], env);
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /^dozen: --content-type: must be a media type as RFC 9110 defines it/);
  });

  it('streams a 1 GB file with bounded memory on both sides, CRC64 checked', async () => {
    const path = join(work, 'big.bin');
    const crc64 = await makeFile(path, 1024 * MIB);
    const serverBefore = await peakMiBOf(dozen.child.pid!);
    // Above the resumable threshold by default; here the single streamed PUT, the path that would buffer if anything did.
    const result = await upload([path, 'big/one-gigabyte.bin', '--threshold', '2GiB', '--json'], env);
    assert.equal(result.code, 0, result.stderr);
    const stored = JSON.parse(result.stdout);
    assert.equal(stored.size, 1024 * MIB);
    assert.equal(stored.crc64, crc64);
    const serverAfter = await peakMiBOf(dozen.child.pid!);
    assert.ok(serverAfter - serverBefore < 150, `dozen's peak memory grew by ${(serverAfter - serverBefore).toFixed(0)} MiB for a 1 GiB upload`);
    assert.ok(result.peakMiB < 250, `dozen upload peaked at ${result.peakMiB.toFixed(0)} MiB`);
    const head = await dozen.api('/storage/objects/big/one-gigabyte.bin', { method: 'HEAD' });
    assert.equal(head.headers.get('x-dozen-crc64ecma'), crc64);
    await rm(path);
    await dozen.api('/storage/objects/big/one-gigabyte.bin', { method: 'DELETE' });
  });

  it('resumes after kill -9 without re-sending the parts already stored', async () => {
    const path = join(work, 'resume.bin');
    const crc64 = await makeFile(path, 192 * MIB);
    const args = [path, 'big/resume.bin', '--part-size', '4MiB', '--parallel', '1', '--json'];
    let killedAfter = 0;
    const first = await upload(args, env, (pid) => {
      void waitFor(
        'four parts stored',
        async () => {
          const { uploads } = await (await dozen.api('/storage/uploads?key=big/resume.bin')).json();
          if (!uploads.length) return false;
          const { parts } = await (await dozen.api(`/storage/uploads/${uploads[0].uploadId}`)).json();
          if (parts.length < 4) return false;
          killedAfter = parts.length;
          process.kill(pid, 'SIGKILL');
          return true;
        },
        60_000,
        20,
      );
    });
    assert.equal(first.code, 'SIGKILL', `the first run finished before it could be killed: ${first.stderr}`);
    assert.ok(killedAfter >= 4);
    const second = await upload(args, env);
    assert.equal(second.code, 0, second.stderr);
    const result = JSON.parse(second.stdout);
    assert.equal(result.partsSent + result.partsReused, 48);
    assert.ok(result.partsReused >= killedAfter, `reused ${result.partsReused}, ${killedAfter} were stored before the kill`);
    assert.equal(result.crc64, crc64);
    assert.ok(second.peakMiB < 250, `dozen upload peaked at ${second.peakMiB.toFixed(0)} MiB`);
    const stored = join(dozen.dataDir, 'objects/data/big/resume.bin');
    assert.equal(await crcOfFile(stored), crc64);
    const { uploads } = await (await dozen.api('/storage/uploads?key=big/resume.bin')).json();
    assert.deepEqual(uploads, []);
    await rm(path);
  });

  it('exits non-zero when the CRC64 the server reports does not match the file', async () => {
    // A server that stores nothing and claims a wrong checksum: the CLI must not believe it.
    const liar = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(201, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ key: 'x', size: 6, crc64: '12345', etag: '"x"' }));
      });
    });
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const port = (liar.address() as { port: number }).port;
    try {
      const result = await upload([join(work, 'one.txt'), 'x'], { DOZEN_URL: `http://127.0.0.1:${port}`, DOZEN_TOKEN: 't' });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^dozen: x: checksum mismatch: dozen stored CRC64 12345, the file has \d+\n$/);
    } finally {
      liar.close();
    }
  });
});

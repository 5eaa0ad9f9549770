import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { LogAppenders } from '../../src/storage/log-appenders.js';
import { continuationKey, utcDate } from '../../src/storage/tailer/key-template.js';
import type { TailOffsets } from '../../src/storage/tailer/tail-offsets.js';
import { Tailer } from '../../src/storage/tailer/tailer.js';
import { startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { waitFor } from '../support/ports.js';
import { numberedLines, SavedRows, standInStore } from './tailer-support.js';

const log = pino({ level: 'silent' });
const SETTINGS = { batchBytes: 1024, flushMs: 20, partialLineMs: 1000, scanMs: 50, maxBackoffMs: 500 };
/** The stand-in's limit on an appendable object, in place of OSS's 5 GiB. */
const MAX_APPENDABLE = 4000;

describe('the tailer when the store refuses an append (against the OSS API stand-in)', { timeout: 60_000 }, () => {
  let standIn: OssStandIn;
  const folders: string[] = [];
  before(async () => {
    standIn = await startOssStandIn({ maxAppendableBytes: MAX_APPENDABLE });
  });
  after(async () => {
    await standIn?.close();
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
  });

  async function tailing(name: string, text: string) {
    const folder = await mkdtemp(join(tmpdir(), 'dozen-refused-'));
    folders.push(folder);
    const path = join(folder, `${name}.log`);
    await writeFile(path, text);
    const store = standInStore(standIn, log, { retries: 1 });
    const tailer = new Tailer([{ glob: join(folder, '*.log'), key: 'refused/{file}/{date}.log', app: 'app' }], SETTINGS, 'testhost', store, new SavedRows() as unknown as TailOffsets, new LogAppenders(store, log), log);
    await tailer.start();
    return { path, store, tailer, base: `refused/${name}.log/${utcDate()}.log` };
  }

  /** The day's object and its continuations, joined in order. */
  function joined(base: string): { text: string; keys: string[] } {
    const keys = [base];
    while (standIn.objects.has(continuationKey(base, keys.length))) keys.push(continuationKey(base, keys.length));
    return { text: keys.map((key) => standIn.objects.get(key)?.data.toString() ?? '').join(''), keys };
  }

  it('goes on in a continuation key when the object would grow past the appendable limit: nothing lost, nothing twice', async () => {
    const expected = numberedLines(1, 400, 'r', 30); // ≈ 15 kB: four objects of at most 4000 bytes
    const { tailer, base } = await tailing('big', expected);
    try {
      await waitFor('every line stored', async () => joined(base).text.length >= expected.length, 15_000, 20).catch(() => undefined);
      const { text, keys } = joined(base);
      assert.ok(text === expected, `stored ${text.length} of ${expected.length} bytes in ${keys.join(', ')}`);
      assert.ok(keys.length >= 4, keys.join(', '));
      for (const key of keys) assert.ok(standIn.objects.get(key)!.data.length <= MAX_APPENDABLE, key);
      const [file] = tailer.status().files;
      assert.equal(file.objectKey, keys[keys.length - 1]);
      assert.match(file.continued ?? '', /5 GB/);
      assert.equal(file.lastError, null);
    } finally {
      await tailer.stop();
    }
  });

  it('a file whose key the store refuses on every try (a control character in its name) is said once as an error, not retried; other files ship', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'dozen-refused-'));
    folders.push(folder);
    await writeFile(join(folder, 'bad\u0001name.log'), 'never shipped\n');
    await writeFile(join(folder, 'good.log'), 'shipped\n');
    const records: { level: number; msg: string }[] = [];
    const logged = pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line)) });
    const store = standInStore(standIn, log, { retries: 1 });
    const tailer = new Tailer([{ glob: join(folder, '*.log'), key: 'refused/{file}', app: 'app' }], SETTINGS, 'testhost', store, new SavedRows() as unknown as TailOffsets, new LogAppenders(store, logged), logged);
    await tailer.start();
    try {
      const bad = () => tailer.status().files.find((file) => file.path.endsWith('name.log'));
      await waitFor('the bad key refused', async () => /control characters/.test(bad()?.lastError ?? ''), 15_000, 20);
      await waitFor('the good file shipped', async () => standIn.objects.get('refused/good.log')?.data.toString() === 'shipped\n', 15_000, 20);
      // Long enough for several retries at SETTINGS' backoff (500 ms at most), had there been any.
      await sleep(2 * SETTINGS.maxBackoffMs + 500);
      const aboutTheStore = records.filter((record) => record.level >= 40).map((record) => `${record.level} ${record.msg}`);
      assert.deepEqual(aboutTheStore, ["50 the store refuses this file's object key on every try; not shipping the file"]);
      assert.equal(tailer.status().storeUp, true, 'a refused key says nothing of the store');
    } finally {
      await tailer.stop();
    }
  });

  it('goes on in a continuation key when a PUT replaced the day’s object (ObjectNotAppendable)', async () => {
    const { path, store, tailer, base } = await tailing('replaced', numberedLines(1, 20, 'r', 30));
    try {
      await waitFor('the first lines', async () => standIn.objects.get(base)?.data.toString() === numberedLines(1, 20, 'r', 30), 15_000, 20);
      await store.put(base, Readable.from([Buffer.from('someone else\n')]));
      await appendFile(path, numberedLines(21, 40, 'r', 30));
      const next = continuationKey(base, 1);
      await waitFor('the later lines', async () => standIn.objects.get(next)?.data.toString() === numberedLines(21, 40, 'r', 30), 15_000, 20).catch(() => undefined);
      assert.equal(standIn.objects.get(next)?.data.toString(), numberedLines(21, 40, 'r', 30));
      assert.equal(standIn.objects.get(base)?.data.toString(), 'someone else\n');
      assert.match(tailer.status().files[0].continued ?? '', /not created by appends/);
    } finally {
      await tailer.stop();
    }
  });
});

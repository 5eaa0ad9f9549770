/**
 * `npm run bench:storage`: storage figures on loopback, each beside its reference.
 *
 *  1. A 1 GiB file through `dozen upload` into the local store (resumable multipart,
 *     the default above 64 MiB, and one streamed PUT), against `cp` + `sync` of the
 *     same file on the same disk; three rounds, medians.
 *  2. The tailer: 100-byte lines written as fast as one writer can, lines/s shipped;
 *     then a steady writer, p50/p99 lag from write to stored (polling the object's size).
 *  3. Listing the local store to the end, 1000 keys a page (`node dist/bench/storage.js list [count]`,
 *     default 100,000 objects): once as a tree of 100 folders, once as one flat folder.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalObjectStore } from '../src/storage/local.object-store.js';
import { CLI, startDozen } from '../test/support/dozen-process.js';

const MIB = 1024 * 1024;

async function makeFile(path: string, size: number): Promise<void> {
  const block = Buffer.alloc(MIB);
  for (let index = 0; index < MIB; index++) block[index] = (index * 131 + 7) & 0xff;
  const handle = await open(path, 'w');
  for (let offset = 0; offset < size; offset += MIB) {
    block.writeUInt32BE(offset / MIB, 0);
    await handle.write(block);
  }
  await handle.close();
}

function timed(action: () => void): number {
  const started = process.hrtime.bigint();
  action();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function timedAsync(action: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function runUpload(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'upload', ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dozen upload exited ${code}: ${stderr}`))));
  });
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

/** The median of `rounds` timings, the runs of all measures interleaved (cp, dozen, dozen, cp, ...) so load swings hit each alike. */
const ROUNDS = 3;

function median(values: number[]): number {
  return [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)];
}

async function uploadFigures(work: string): Promise<string[][]> {
  const source = join(work, 'one-gib.bin');
  await makeFile(source, 1024 * MIB);
  execFileSync('sync');
  const dozen = await startDozen({ env: { DOZEN_MODULES: 'storage', DOZEN_LOG_LEVEL: 'warn' } });
  try {
    const env = { DOZEN_URL: dozen.url, DOZEN_TOKEN: dozen.token };
    // Each run writes 1 GiB the previous one just freed: on a VM that hands free memory back to its
    // host (free page reporting), writing into memory freed seconds ago costs several times more.
    const times = { copy: [] as number[], resumable: [] as number[], streamed: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      times.copy.push(timed(() => {
        execFileSync('cp', [source, join(work, 'copy.bin')]);
        execFileSync('sync', [join(work, 'copy.bin')]);
      }));
      await rm(join(work, 'copy.bin'));
      times.resumable.push(await timedAsync(() => runUpload([source, 'bench/resumable.bin'], env)));
      await dozen.api('/storage/objects/bench/resumable.bin', { method: 'DELETE' });
      times.streamed.push(await timedAsync(() => runUpload([source, 'bench/streamed.bin', '--threshold', '2GiB'], env)));
      await dozen.api('/storage/objects/bench/streamed.bin', { method: 'DELETE' });
    }
    const copy = median(times.copy);
    const resumable = median(times.resumable);
    const streamed = median(times.streamed);
    const rate = (seconds: number) => `${(1024 / seconds).toFixed(0)} MiB/s`;
    const all = (values: number[]) => `${values.map((value) => value.toFixed(2)).join(' / ')} s`;
    return [
      ['1 GiB: cp + sync (reference)', `${copy.toFixed(2)} s`, rate(copy), '1.00', all(times.copy)],
      ['1 GiB: dozen upload, resumable (default)', `${resumable.toFixed(2)} s`, rate(resumable), (copy / resumable).toFixed(2), all(times.resumable)],
      ['1 GiB: dozen upload, one streamed PUT', `${streamed.toFixed(2)} s`, rate(streamed), (copy / streamed).toFixed(2), all(times.streamed)],
    ];
  } finally {
    await dozen.stop();
    await rm(source, { force: true });
  }
}

async function tailerFigures(work: string): Promise<string[][]> {
  const logs = join(work, 'logs');
  execFileSync('mkdir', ['-p', logs]);
  const dozen = await startDozen({
    env: {
      DOZEN_MODULES: 'storage',
      DOZEN_LOG_LEVEL: 'warn',
      DOZEN_HOST_NAME: 'bench',
      DOZEN_STORAGE_TAIL: JSON.stringify([{ glob: join(logs, '*.log'), key: 'logs/{host}/{file}/{date}.log' }]),
    },
  });
  const key = (file: string) => `logs/bench/${file}/${new Date().toISOString().slice(0, 10)}.log`;
  const storedSize = async (file: string) => Number((await dozen.api(`/storage/objects/${key(file)}`, { method: 'HEAD' })).headers.get('content-length') ?? 0);
  const line = (number: number) => `${String(number).padStart(10, '0')} ${'z'.repeat(88)}\n`; // 100 bytes
  try {
    // Throughput: 2,000,000 lines as fast as one writer goes, timed until all are stored.
    const total = 2_000_000;
    const handle = await open(join(logs, 'throughput.log'), 'a');
    const started = process.hrtime.bigint();
    for (let written = 0; written < total; written += 10_000) {
      let text = '';
      for (let index = written; index < written + 10_000; index++) text += line(index);
      await handle.write(text);
    }
    await handle.close();
    const bytes = (await stat(join(logs, 'throughput.log'))).size;
    const writeSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    while ((await storedSize('throughput.log')) < bytes) await sleep(20);
    const shipSeconds = Number(process.hrtime.bigint() - started) / 1e9;

    // Lag: a steady 50,000 lines/s for 10 s in 10 ms slices; each slice's lag is write time to seen stored.
    const lagFile = join(logs, 'lag.log');
    const writer = await open(lagFile, 'a');
    const pending: { end: number; at: number }[] = [];
    const lags: number[] = [];
    let end = 0;
    let stop = false;
    const watcher = (async () => {
      while (!stop || pending.length) {
        const size = await storedSize('lag.log');
        const now = performance.now();
        while (pending.length && pending[0].end <= size) lags.push(now - pending.shift()!.at);
        await sleep(10);
      }
    })();
    let number = 0;
    const lagStarted = performance.now();
    while (performance.now() - lagStarted < 10_000) {
      let text = '';
      for (let index = 0; index < 500; index++) text += line(number++);
      await writer.write(text);
      end += text.length;
      pending.push({ end, at: performance.now() });
      await sleep(10);
    }
    stop = true;
    await writer.close();
    await watcher;
    return [
      ['tailer: write 2,000,000 lines (reference)', `${writeSeconds.toFixed(2)} s`, `${(total / writeSeconds).toFixed(0)} lines/s`, '', ''],
      ['tailer: all 2,000,000 stored', `${shipSeconds.toFixed(2)} s`, `${(total / shipSeconds).toFixed(0)} lines/s`, (writeSeconds / shipSeconds).toFixed(2), ''],
      [`tailer: lag at ${(number / 10).toFixed(0)} lines/s, p50`, `${(percentile(lags, 0.5) / 1000).toFixed(2)} s`, '', '', ''],
      [`tailer: lag at ${(number / 10).toFixed(0)} lines/s, p99`, `${(percentile(lags, 0.99) / 1000).toFixed(2)} s`, '', '', ''],
    ];
  } finally {
    await dozen.stop();
  }
}

/**
 * Writes `count` small objects straight into the store's data folder (appends through the store sync
 * each one: 100,000 take minutes), then HEADs each, which makes the store record its metadata.
 */
async function populate(root: string, store: LocalObjectStore, count: number, keyOf: (index: number) => string): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < count; index = next++) {
      const path = join(root, 'data', keyOf(index));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, `line ${index}\n`);
      await store.head(keyOf(index));
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

async function listFigures(work: string, count: number): Promise<string[][]> {
  const root = join(work, 'list-store');
  const store = new LocalObjectStore(root);
  const shapes: Record<string, (index: number) => string> = {
    tree: (index) => `tree/${String(index % 100).padStart(2, '0')}/${String(Math.floor(index / 100)).padStart(7, '0')}.log`,
    flat: (index) => `flat/${String(index).padStart(7, '0')}.log`,
  };
  const rows: string[][] = [];
  for (const [shape, keyOf] of Object.entries(shapes)) {
    await populate(root, store, count, keyOf);
    const times: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      times.push(await timedAsync(async () => {
        let listed = 0;
        let cursor: string | undefined;
        do {
          const page = await store.list(`${shape}/`, { cursor, limit: 1000 });
          listed += page.objects.length;
          cursor = page.nextCursor;
        } while (cursor);
        if (listed !== count) throw new Error(`listed ${listed} of ${count} objects`);
      }));
    }
    const seconds = median(times);
    rows.push([`list ${count.toLocaleString('en')} objects, ${shape}, 1000 a page`, `${seconds.toFixed(2)} s`, `${(count / seconds).toFixed(0)} keys/s`, '', `${times.map((value) => value.toFixed(2)).join(' / ')} s`]);
  }
  return rows;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'dozen-bench-storage-'));
  // `node dist/bench/storage.js upload` (or `tailer`, or `list [count]`) runs one part.
  const only = process.argv[2];
  const runs = (part: string) => !only || only === part;
  try {
    const rows = [
      ...(runs('upload') ? await uploadFigures(work) : []),
      ...(runs('tailer') ? await tailerFigures(work) : []),
      ...(runs('list') ? await listFigures(work, Number(process.argv[3] ?? 100_000)) : []),
    ];
    const header = ['measure', 'time', 'rate', 'ratio to reference', `each run (${ROUNDS}, median shown)`];
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
    const print = (row: string[]) => process.stdout.write('| ' + row.map((cell, column) => cell.padEnd(widths[column])).join(' | ') + ' |\n');
    print(header);
    process.stdout.write('|' + widths.map((width) => '-'.repeat(width + 2)).join('|') + '|\n');
    rows.forEach(print);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();

import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { crc64Of } from '../../src/storage/crc64.js';
import { LogAppenders } from '../../src/storage/log-appenders.js';
import type { TailOffsets } from '../../src/storage/tailer/tail-offsets.js';
import { Tailer } from '../../src/storage/tailer/tailer.js';
import { startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { numberedLines, SavedRows, standInStore } from './tailer-support.js';
import { waitFor } from '../support/ports.js';

const log = pino({ level: 'silent' });
const SETTINGS = { batchBytes: 64 * 1024, flushMs: 20, partialLineMs: 1000, scanMs: 50, maxBackoffMs: 500 };

describe('OSS writes whose answer is lost after OSS applied them (the stand-in cuts the connection)', { timeout: 60_000 }, () => {
  let standIn: OssStandIn;
  const folders: string[] = [];
  before(async () => {
    standIn = await startOssStandIn();
  });
  after(async () => {
    await standIn?.close();
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
  });

  it('the tailer writes each batch once: the retried append’s PositionNotEqualToLength is its own bytes', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'dozen-lost-answer-'));
    folders.push(folder);
    const path = join(folder, 'app.log');
    await writeFile(path, numberedLines(1, 500));
    const store = standInStore(standIn, log);
    const sources = [{ glob: join(folder, '*.log'), key: 'lost/{file}', app: 'app' }];
    const tailer = new Tailer(sources, SETTINGS, 'testhost', store, new SavedRows() as unknown as TailOffsets, new LogAppenders(store, log), log);
    // The first append (creating the object) and a later one (at a position past 0) each lose their answer.
    standIn.cutAfterApplying(1, 'POST');
    await tailer.start();
    let expected = numberedLines(1, 500);
    try {
      await waitFor('the first lines', async () => (standIn.objects.get('lost/app.log')?.data.length ?? 0) >= Buffer.byteLength(expected), 15_000, 20);
      standIn.cutAfterApplying(1, 'POST');
      await appendFile(path, numberedLines(501, 900));
      expected = numberedLines(1, 900);
      await waitFor('the later lines', async () => (standIn.objects.get('lost/app.log')?.data.length ?? 0) >= Buffer.byteLength(expected), 15_000, 20);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(tailer.status().files[0]?.lastError, null);
    } finally {
      await tailer.stop();
    }
    const stored = standIn.objects.get('lost/app.log')?.data.toString() ?? '';
    assert.equal(stored.length, expected.length, 'every line once');
    assert.ok(stored === expected);
    const appends = standIn.requests.filter((request) => request.method === 'POST' && request.path.includes('lost/app.log'));
    assert.ok(appends.length >= 4, `both cut appends were sent again (${appends.length} appends)`);
  });

  it('a PUT that must not overwrite succeeds when its first attempt landed (not FileAlreadyExists)', async () => {
    const data = Buffer.from('written once, answered never\n');
    standIn.cutAfterApplying(1, 'PUT');
    const info = await standInStore(standIn, log).put('lost/put.txt', Readable.from([data]), { ifNoneMatch: true });
    assert.equal(info.size, data.length);
    assert.equal(info.crc64, crc64Of(data));
    assert.equal(standIn.requests.filter((request) => request.method === 'PUT' && request.path.includes('lost/put.txt')).length, 2, 'the PUT was sent again');
    // Another body at an existing key is still refused.
    await assert.rejects(standInStore(standIn, log).put('lost/put.txt', Readable.from([Buffer.from('other')]), { ifNoneMatch: true }), { status: 412 });
  });

  it('a streamed multipart PUT succeeds when its CompleteMultipartUpload landed unanswered (not NoSuchUpload)', async () => {
    const data = Buffer.alloc(350 * 1024, 'multipart once ');
    standIn.cutAfterApplying(1, 'POST', 'uploadId');
    const info = await standInStore(standIn, log).put('lost/multi.bin', Readable.from([data]), { ifNoneMatch: true });
    assert.equal(info.size, data.length);
    assert.equal(info.crc64, crc64Of(data));
    assert.ok(standIn.objects.get('lost/multi.bin')?.data.equals(data));
  });

  it('a resumable upload completes when its CompleteMultipartUpload landed unanswered', async () => {
    const store = standInStore(standIn, log);
    const first = Buffer.alloc(120 * 1024, 'first part ');
    const second = Buffer.from('second part\n');
    const uploadId = await store.createMultipart('lost/resumable.bin');
    await store.putPart('lost/resumable.bin', uploadId, 1, Readable.from([first]), first.length);
    await store.putPart('lost/resumable.bin', uploadId, 2, Readable.from([second]), second.length);
    standIn.cutAfterApplying(1, 'POST', 'uploadId');
    const info = await store.completeMultipart('lost/resumable.bin', uploadId);
    assert.equal(info.size, first.length + second.length);
    assert.equal(info.crc64, crc64Of(Buffer.concat([first, second])));
  });

  it('a retried write that finds other bytes at the key still fails', async () => {
    const store = standInStore(standIn, log);
    const uploadId = await store.createMultipart('lost/other.bin');
    await store.putPart('lost/other.bin', uploadId, 1, Readable.from([Buffer.from('mine')]), 4);
    // The completion lands, then someone replaces the object before the retry looks.
    standIn.cutAfterApplying(1, 'POST', 'uploadId');
    const completing = store.completeMultipart('lost/other.bin', uploadId);
    await waitFor('the completion to land', async () => standIn.objects.has('lost/other.bin'), 5_000, 5);
    await store.put('lost/other.bin', Readable.from([Buffer.from('theirs')]));
    await assert.rejects(completing, { status: 404 });
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, describe, it, mock } from 'node:test';
import { toHttp } from '../../src/common/errors.js';
import { LocalObjectStore } from '../../src/storage/local.object-store.js';

/** Every write to a file fails as on a full disk (the errors Node gives for ENOSPC). */
async function diskFull(): Promise<void> {
  const probe = await open(process.execPath, 'r');
  const fileHandle = Object.getPrototypeOf(probe) as Record<'write' | 'writev', (...args: unknown[]) => Promise<unknown>>;
  await probe.close();
  const full = async () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  };
  mock.method(fileHandle, 'writev', full);
  mock.method(fileHandle, 'write', full);
}

describe('the local store on a full disk', () => {
  const folders: string[] = [];
  afterEach(() => mock.restoreAll());
  after(async () => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

  async function store() {
    const folder = await mkdtemp(join(tmpdir(), 'dozen-full-'));
    folders.push(folder);
    return { root: join(folder, 'objects'), store: new LocalObjectStore(join(folder, 'objects')) };
  }

  it('answers 507 insufficient_storage naming its data folder for a put, an append and a part, and keeps no temp file', async () => {
    const { root, store: local } = await store();
    const uploadId = await local.createMultipart('big.bin', { partSize: 200 * 1024 });
    await diskFull();
    const refusal = { status: 507, error: 'insufficient_storage', message: new RegExp(`disk of ${root.replaceAll('/', '\\/')}; nothing was stored`) };
    const put = await local.put('a.txt', Readable.from([Buffer.from('hello')])).catch((error: unknown) => error);
    await assert.rejects(Promise.reject(put), refusal);
    await assert.rejects(local.append('log.txt', 0, Buffer.from('line\n')), refusal);
    await assert.rejects(local.putPart('big.bin', uploadId, 1, Readable.from([Buffer.from('part')]), 4), refusal);
    const [status, body] = toHttp(put);
    assert.equal(status, 507);
    assert.equal(body.error, 'insufficient_storage');
    mock.restoreAll();
    assert.equal(await local.head('a.txt'), null);
    assert.equal((await local.head('log.txt'))?.size ?? 0, 0);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });

  it('refuses an append the full disk took only part of, and cuts that part off', async () => {
    const { store: local } = await store();
    await local.append('log.txt', 0, Buffer.from('first line\n'));
    const probe = await open(process.execPath, 'r');
    const fileHandle = Object.getPrototypeOf(probe) as { write: (this: unknown, ...args: unknown[]) => Promise<{ bytesWritten: number }> };
    await probe.close();
    const write = fileHandle.write;
    let calls = 0;
    // As write(2) on a disk with 4 bytes left: the first call writes 4 bytes and answers short, the next fails.
    mock.method(fileHandle, 'write', async function (this: unknown, data: Buffer, offset = 0) {
      if (calls++ === 0) return write.call(this, data, offset, 4);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    await assert.rejects(local.append('log.txt', 11, Buffer.from('second line\n')), { status: 507 });
    mock.restoreAll();
    const info = await local.head('log.txt');
    assert.equal(info?.size, 11);
    assert.equal((await local.append('log.txt', 11, Buffer.from('second line\n'))).nextPosition, 23);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { DozenConfig } from '../config/config.schema.js';
import type { ObjectInfo, ObjectStore, PartInfo } from './object-store.js';
import { StorageService } from './storage.service.js';

/**
 * A multipart store in memory whose part writes wait until `land()`: parts that are on their way while a
 * completion runs. Its completion joins the parts stored when it runs, after those on their way landed
 * (as OSS and the local store do: they list the parts again to join them).
 */
function slowPartStore() {
  const parts = new Map<number, PartInfo>();
  const calls = { listParts: 0 };
  const waiting: (() => void)[] = [];
  const landing: Promise<unknown>[] = [];
  const store = {
    createMultipart: async () => 'store-upload',
    putPart: (_key: string, _uploadId: string, partNumber: number, body: Readable) => {
      const stored = (async () => {
        let size = 0;
        for await (const chunk of body) size += (chunk as Buffer).length;
        await new Promise<void>((resolve) => waiting.push(resolve));
        const part = { partNumber, size, etag: `etag-${partNumber}-${size}`, crc64: '' };
        parts.set(partNumber, part);
        return part;
      })();
      landing.push(stored.catch(() => undefined));
      return stored;
    },
    listParts: async () => (calls.listParts++, [...parts.values()]).sort((left, right) => left.partNumber - right.partNumber),
    completeMultipart: async (key: string): Promise<ObjectInfo> => {
      await Promise.all(landing);
      const size = [...parts.values()].reduce((sum, part) => sum + part.size, 0);
      return { key, size, crc64: '', contentType: 'application/octet-stream', etag: 'whole', modified: new Date() };
    },
  } as unknown as ObjectStore;
  const land = () => {
    for (const resolve of waiting.splice(0)) resolve();
  };
  return { store, land, waiting, calls };
}

const bytes = (length: number) => Readable.from([Buffer.alloc(length)]);

describe('StorageService resumable uploads', () => {
  it('checks storage.maxObjectBytes on the very parts it joins: parts on their way when completing are waited for', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dozen-storage-'));
    try {
      const { store, land, waiting, calls } = slowPartStore();
      const service = new StorageService(store, { dataDir, storage: { maxObjectBytes: 1000 } } as DozenConfig);
      const { uploadId } = await service.startUpload('big/object.bin', undefined, {});
      const first = service.putPart(uploadId, 1, bytes(400), 400);
      await waitUntil(() => waiting.length === 1);
      land();
      await first;
      // Sent side by side: each is checked against part 1 only, and fits (400 + 600).
      const second = service.putPart(uploadId, 2, bytes(600), 600);
      const third = service.putPart(uploadId, 3, bytes(600), 600);
      await waitUntil(() => waiting.length === 2);
      const completed = service.completeUpload(uploadId, false);
      completed.catch(() => undefined); // awaited below
      // A completion that does not wait for them lists the parts now, and checks 400 bytes; then they land.
      await within(1000, () => calls.listParts > 0);
      land();
      await Promise.all([second, third]);
      await assert.rejects(completed, { status: 413, error: 'payload_too_large' }, 'the 1,600 bytes of the three parts are refused, not joined');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** Whether `condition` holds within `ms` (false once they passed). */
async function within(ms: number, condition: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return condition();
}

/**
 * Waits until `condition` holds, at most 10 s. A bound in event-loop turns (1,000 of them) failed in CI: the
 * service's file reads of the upload record take longer than that many turns on a loaded machine.
 */
async function waitUntil(condition: () => boolean): Promise<void> {
  assert.ok(await within(10_000, condition), 'the condition never held within 10 s');
}

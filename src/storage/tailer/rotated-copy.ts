import { createHash } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Compressed copies cannot be read line by line; logrotate's `delaycompress` leaves the newest copy plain. */
const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|z|zip)$/i;

/**
 * The copy `copytruncate` rotation made of a followed file before cutting it: a sibling whose name
 * starts with the file's (`app.log.1`, `app.log-20261129`) and whose first `headLength` bytes hash to
 * `headHash` (the fingerprint the tailer keeps), at least `offset` bytes long. The newest such copy, or
 * null. Without a fingerprint yet (`headLength` 0) no copy can be told from another: null.
 */
export async function findRotatedCopy(path: string, headHash: string, headLength: number, offset: number): Promise<string | null> {
  if (!headLength) return null;
  const name = basename(path);
  const folder = dirname(path);
  const names = await readdir(folder).catch(() => [] as string[]);
  let best: { path: string; modified: number } | null = null;
  for (const candidate of names) {
    if (candidate === name || !candidate.startsWith(name) || COMPRESSED.test(candidate)) continue;
    const copy = join(folder, candidate);
    const handle = await open(copy, 'r').catch(() => null);
    if (!handle) continue;
    try {
      const stats = await handle.stat();
      if (!stats.isFile() || stats.size < offset || stats.size < headLength) continue;
      const head = Buffer.alloc(headLength);
      await handle.read(head, 0, headLength, 0);
      if (createHash('sha256').update(head).digest('hex') !== headHash) continue;
      if (!best || stats.mtimeMs > best.modified) best = { path: copy, modified: stats.mtimeMs };
    } finally {
      await handle.close();
    }
  }
  return best?.path ?? null;
}

import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { isSafeKey } from './object-store.js';

/**
 * Listing the local store in OSS's key order without reading all of it. OSS lists keys in UTF-8
 * byte order of the whole key, page by page after a marker. A page here reads only the folders on
 * the way to the marker and those after it, in that order, and stops once it has its keys: a page
 * costs what it lists (plus the folders on the way), not what the prefix holds. A wide folder
 * (a million log files side by side) is the exception a file system leaves: reading one name
 * means reading all, so its names after the marker are kept a while, a window at a time.
 */

/**
 * Compares in UTF-8 byte order, which is code point order. JavaScript's `<` compares UTF-16 code
 * units, which puts a character above U+FFFF (a surrogate pair, 0xD800–0xDFFF) before U+E000–U+FFFF.
 */
export function byteOrder(left: string, right: string): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const a = left.charCodeAt(index);
    const b = right.charCodeAt(index);
    if (a !== b) return codePointRank(a) - codePointRank(b);
  }
  return left.length - right.length;
}

/** Moves surrogates above U+E000–U+FFFF, as the code points they stand for are. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/** Code units at or above the first surrogate: only with one of these does `<` disagree with byte order. */
const AFTER_SURROGATES = /[\ud800-\uffff]/;

/** The first index in sorted `names` at which `isPast` holds (it holds from there on). */
function firstWhere(names: readonly string[], isPast: (name: string) => boolean): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isPast(names[middle])) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** Some of a folder's sorted entry names: `names` from `index` on; `complete` when no more follow them. */
interface Run {
  names: readonly string[];
  index: number;
  complete: boolean;
}

/**
 * How a folder's names are kept: `window` names at most are sorted and kept per read (a wide folder
 * is read once per window, not once per page); only folders of `keptFrom` entries or more (a smaller
 * one costs about a page to read again); only after `settledMs` without a change. A folder's times
 * change with every entry added, removed or renamed in it, but only as often as the file system's
 * clock ticks (a few ms on Linux, up to 2 s elsewhere): names read within a tick of the last change
 * may miss a second change in the same tick, which would leave the same times.
 */
export interface KeptNames {
  window: number;
  keptFrom: number;
  settledMs: number;
}

/** Sorted entries of folders, a window of the wide ones kept while their folder stays unchanged. */
export class SortedFolders {
  private readonly kept: LRUCache<string, { stamp: string; from: string; run: Run }>;

  constructor(private readonly limits: KeptNames = { window: 100_000, keptFrom: 1000, settledMs: 2000 }) {
    // Two windows (≈ 20 MB of names by default), for a few minutes: enough for listings paging on.
    this.kept = new LRUCache({ maxSize: 2 * limits.window, sizeCalculation: (entry) => Math.max(entry.run.names.length, 1), ttl: 5 * 60_000, ttlAutopurge: true });
  }

  /**
   * The entries of the folder at `path` that sort at or after `from`, in byte order; null when the
   * folder is gone. An entry sorts as the keys under it do: a file by its name, a folder by its
   * name and '/', since its keys go on with a '/' (0x2F): folder `a` sorts after file `a-b` (0x2D)
   * and before `a0` (0x30), not before both as its name alone would. Names never hold a '/', so the
   * trailing one tells folders from files. Symbolic links and other entries are neither followed
   * nor listed.
   */
  async from(path: string, from: string): Promise<Run | null> {
    // lstat: a folder swapped for a symbolic link since its parent was read is not followed.
    const stats = await lstat(path, { bigint: true }).catch(missingAsNull);
    if (!stats?.isDirectory()) return null;
    const stamp = `${stats.dev}:${stats.ino}:${stats.mtimeNs}:${stats.ctimeNs}`;
    const kept = this.kept.get(path);
    if (kept?.stamp === stamp && byteOrder(kept.from, from) <= 0) {
      const index = firstWhere(kept.run.names, (name) => byteOrder(name, from) >= 0);
      if (index < kept.run.names.length || kept.run.complete) return { ...kept.run, index };
    }
    const entries = await readdir(path, { withFileTypes: true }).catch(missingAsNull);
    if (!entries) return null;
    const names: string[] = [];
    for (const entry of entries) {
      const name = entry.isDirectory() ? entry.name + '/' : entry.isFile() ? entry.name : null;
      if (name !== null && (!from || byteOrder(name, from) >= 0)) names.push(name);
    }
    // The built-in sort (UTF-16 order) is several times faster, and the same unless such a name is here.
    if (names.some((name) => AFTER_SURROGATES.test(name))) names.sort(byteOrder);
    else names.sort();
    const { window, keptFrom, settledMs } = this.limits;
    const run = { names, index: 0, complete: names.length <= window };
    names.length = Math.min(names.length, window);
    const settled = BigInt(Date.now() - settledMs) * 1_000_000n > stats.ctimeNs;
    if (entries.length >= keptFrom && settled) this.kept.set(path, { stamp, from, run });
    return run;
  }
}

/**
 * The keys that start with `prefix` and sort after `after` ('' for all), in byte order, under
 * `folder` (`''` or `a/b/`, the part of `prefix` up to its last '/', found at `path`). Lazy: the
 * caller takes what it needs and stops the walk. Names no key could have (put there by hand) are
 * skipped.
 */
export async function* keysAfter(folders: SortedFolders, path: string, folder: string, prefix: string, after: string): AsyncGenerator<string> {
  if (after.startsWith(folder)) yield* walk(folders, path, folder, prefix.slice(folder.length), after.slice(folder.length));
  else if (byteOrder(after, folder) < 0) yield* walk(folders, path, folder, prefix.slice(folder.length), '');
  // Otherwise every key under the folder sorts before `after`.
}

/**
 * Keys `folder + rest` with `rest` starting with `start` (no '/' in it) and sorting after `after`.
 * They are under the entries that sort after `after`, and under the folder `after` runs through
 * (`after` = 'x/y': the folder 'x/', which sorts before it).
 */
async function* walk(folders: SortedFolders, path: string, folder: string, start: string, after: string): AsyncGenerator<string> {
  // A name holds no NUL, so the names after `after` are those from `after` + NUL on.
  const through = after.includes('/') ? after.slice(0, after.indexOf('/') + 1) : null;
  let from = through ?? (after && after + '\0');
  if (byteOrder(start, from) > 0) from = start;
  for (;;) {
    const run = await folders.from(path, from);
    if (!run) return;
    for (let index = run.index; index < run.names.length; index++) {
      const name = run.names[index];
      if (!name.startsWith(start)) return;
      if (!name.endsWith('/')) {
        if (isSafeKey(folder + name)) yield folder + name;
      } else {
        // Joined without the '/', so a folder is kept under one path however it is reached.
        yield* walk(folders, join(path, name.slice(0, -1)), folder + name, '', name === through ? after.slice(name.length) : '');
      }
    }
    if (run.complete) return;
    from = run.names[run.names.length - 1] + '\0';
  }
}

/** A path that is not there (or runs through a file) is no folder of keys; other failures are real. */
export function missingAsNull(error: NodeJS.ErrnoException): null {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
  throw error;
}

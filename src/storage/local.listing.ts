import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isSafeKey } from './object-store.js';

/**
 * Listing the local store in OSS's key order without reading all of it. OSS lists keys in UTF-8
 * byte order of the whole key, page by page after a marker. A page here reads only the folders on
 * the way to the marker and those after it, in that order, and stops once it has its keys: a page
 * costs what it lists (plus the folders on the way), not what the prefix holds.
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

/**
 * The entries of a folder as the keys under them sort: a file by its name, a folder by its name
 * and '/', since its keys go on with a '/' (0x2F): folder `a` sorts after file `a-b` (0x2D) and
 * before `a0` (0x30), not before both as its name alone would. Names never hold a '/', so the
 * trailing one tells folders from files. Symbolic links and other entries are neither followed
 * nor listed. Null when the folder is gone.
 */
async function sortedEntries(path: string): Promise<string[] | null> {
  const entries = await readdir(path, { withFileTypes: true }).catch(missingAsNull);
  if (!entries) return null;
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) names.push(entry.name + '/');
    else if (entry.isFile()) names.push(entry.name);
  }
  // The built-in sort (UTF-16 order) is several times faster, and the same unless such a name is here.
  return names.some((name) => AFTER_SURROGATES.test(name)) ? names.sort(byteOrder) : names.sort();
}

/** The first index in sorted `names` at which `isPast` holds (it holds from there on). */
function firstWhere(names: string[], isPast: (name: string) => boolean): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isPast(names[middle])) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * The keys that start with `prefix` and sort after `after` ('' for all), in byte order, under
 * `folder` (`''` or `a/b/`, the part of `prefix` up to its last '/', found at `path`). Lazy: the
 * caller takes what it needs and stops the walk. Names no key could have (put there by hand) are
 * skipped.
 */
export async function* keysAfter(path: string, folder: string, prefix: string, after: string): AsyncGenerator<string> {
  if (after.startsWith(folder)) yield* walk(path, folder, prefix.slice(folder.length), after.slice(folder.length));
  else if (byteOrder(after, folder) < 0) yield* walk(path, folder, prefix.slice(folder.length), '');
  // Otherwise every key under the folder sorts before `after`.
}

/**
 * Keys `folder + rest` with `rest` starting with `start` (no '/' in it) and sorting after `from`.
 * Of a folder's entries, those sorting after `from` hold only such keys; just before them may be
 * the folder `from` runs through (`from` = 'x/y' and the folder 'x/'), which holds some.
 */
async function* walk(path: string, folder: string, start: string, from: string): AsyncGenerator<string> {
  const names = await sortedEntries(path);
  if (!names) return;
  let index = firstWhere(names, (name) => byteOrder(name, from) > 0);
  const previous = names[index - 1];
  if (previous?.endsWith('/') && from.startsWith(previous)) index--;
  index = Math.max(index, firstWhere(names, (name) => byteOrder(name, start) >= 0));
  for (; index < names.length && names[index].startsWith(start); index++) {
    const name = names[index];
    if (!name.endsWith('/')) {
      if (isSafeKey(folder + name)) yield folder + name;
      continue;
    }
    yield* walk(join(path, name), folder + name, '', from.startsWith(name) ? from.slice(name.length) : '');
  }
}

/** A path that is not there (or runs through a file) is no folder of keys; other failures are real. */
export function missingAsNull(error: NodeJS.ErrnoException): null {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
  throw error;
}

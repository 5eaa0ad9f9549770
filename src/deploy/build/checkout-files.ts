import { constants, type Stats } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';

/** The most of a manifest (package.json, composer.json) a build reads. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * Whether the checkout `dir` has a regular file `name` at its top: false when it has nothing there.
 * Anything else under that name (a symbolic link, a folder, a pipe, a device) fails the build, naming
 * it: the repository is whoever may deploy's to fill, and a link could point anywhere on the build host.
 */
export async function hasRegularFile(dir: string, name: string): Promise<boolean> {
  const stats = await lstat(join(dir, name)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!stats) return false;
  assertRegular(name, stats);
  return true;
}

/**
 * The text of the manifest `name` at the top of the checkout `dir`, or null without one: a regular file
 * of at most MAX_MANIFEST_BYTES, read asynchronously and never through a link (a `package.json ->
 * /dev/zero` once froze dozen's event loop and grew it to 6 GB).
 */
export async function readManifest(dir: string, name: string): Promise<string | null> {
  if (!(await hasRegularFile(dir, name))) return null;
  // No link followed, and no wait on a pipe swapped in since the check; the open file is checked again.
  const handle = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    assertRegular(name, stats);
    if (stats.size > MAX_MANIFEST_BYTES) throw new Error(`${name} is ${stats.size} bytes; the template reads at most ${MAX_MANIFEST_BYTES} (1 MiB)`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function assertRegular(name: string, stats: Stats): void {
  if (stats.isFile()) return;
  const kind = stats.isSymbolicLink() ? 'a symbolic link' : stats.isDirectory() ? 'a folder' : stats.isFIFO() ? 'a named pipe' : stats.isSocket() ? 'a socket' : 'a device';
  throw new Error(`${name} must be a regular file in the repository, but it is ${kind}`);
}

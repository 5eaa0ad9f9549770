import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { copyInto, exists, followProgress } from './base-image.js';
import { requireBinary } from './debian.js';

/**
 * The bench's PHP base image for the `php-laravel` runtime, made without any
 * registry like the node one (base-image.ts): Debian's `php-cli` (installed
 * when missing) with its php.ini, conf.d and extension modules, every library
 * `ldd` lists for them, Debian's `composer` with the PHP libraries it loads
 * from /usr/share/php, and `sh` (the template reads `$PORT` through it), all
 * `docker import`ed. Returns its tag; skipped when the tag exists already.
 */
export async function ensurePhpBaseImage(docker: Docker): Promise<string> {
  const php = realpathSync(requireBinary('php', 'php-cli'));
  const composer = requireBinary('composer', 'composer');
  const version = execFileSync(php, ['-r', 'echo PHP_VERSION;'], { encoding: 'utf8' }).trim();
  const image = `dozen/php-base:${version}`;
  if (await exists(docker, image)) return image;

  const root = mkdtempSync(join(tmpdir(), 'dozen-php-rootfs-'));
  try {
    const binaries = new Set<string>([php, realpathSync('/bin/sh')]);
    copyInto(root, php, '/usr/bin/php');
    copyInto(root, realpathSync('/bin/sh'), '/bin/sh');
    copyInto(root, composer, '/usr/bin/composer');
    // What php reads at start: its php.ini, the conf.d files (symlinks into mods-available, copied as files) and the modules they load.
    const [iniFile, scanned, extensionDir] = JSON.parse(
      execFileSync(php, ['-r', 'echo json_encode([php_ini_loaded_file(), php_ini_scanned_files(), ini_get("extension_dir")]);'], { encoding: 'utf8' }),
    ) as [string | false, string | false, string];
    const iniFiles = [iniFile || '', ...(scanned || '').split(',').map((file) => file.trim())].filter(Boolean);
    for (const file of iniFiles) copyInto(root, realpathSync(file), file);
    for (const module of readdirSync(extensionDir).filter((name) => name.endsWith('.so'))) {
      copyInto(root, join(extensionDir, module), join(extensionDir, module));
      binaries.add(join(extensionDir, module));
    }
    for (const binary of binaries) {
      const libraries = execFileSync('ldd', [binary], { encoding: 'utf8' }).match(/\/[^\s)]+/g) ?? [];
      for (const library of libraries) copyInto(root, realpathSync(library), library);
    }
    // Composer and the Debian PHP libraries it autoloads.
    cpSync('/usr/share/php', join(root, 'usr/share/php'), { recursive: true, dereference: true });
    if (existsSync('/usr/share/zoneinfo/UTC')) copyInto(root, realpathSync('/usr/share/zoneinfo/UTC'), '/usr/share/zoneinfo/UTC');
    for (const dir of ['tmp', 'app', 'etc', 'root']) mkdirSync(join(root, dir), { recursive: true });
    chmodSync(join(root, 'tmp'), 0o1777);
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [repo, tag] = image.split(':');
    const changes = ['ENV PATH=/usr/local/bin:/usr/bin:/bin', 'WORKDIR /app', 'CMD ["php", "-a"]'];
    await followProgress(docker, (await docker.importImage(tar.stdout as never, { repo, tag, changes } as never)) as unknown as NodeJS.ReadableStream);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (!(await exists(docker, image))) throw new Error(`importing ${image} did not produce the image`);
  return image;
}

import { hasRegularFile, readManifest } from './checkout-files.js';

/** The runtimes built from git with a template when the repository has no Dockerfile. */
export type TemplateRuntime = 'nodejs' | 'php-laravel';

/** The Dockerfile of `runtime` for the checked-out repository in `dir` (its manifests read as checkout-files.ts says). */
export async function templateDockerfile(runtime: TemplateRuntime, dir: string, baseImage: string): Promise<string> {
  if (runtime === 'php-laravel') return phpLaravelDockerfile(await readManifest(dir, 'composer.json'), await hasRegularFile(dir, 'artisan'), baseImage);
  return nodejsDockerfile(await readManifest(dir, 'package.json'), baseImage);
}

/**
 * The Dockerfile of the `nodejs` runtime for an app that has none of its own.
 * Dependencies are installed only when package.json lists some (so an app
 * without any builds on a base image that has node but no npm). The start
 * command is `scripts.start` run by node itself when it is a plain
 * `node <args>` line (node is then PID 1 and gets SIGTERM straight), else
 * `npm start`; with no start script, npm's own default, `node server.js`.
 */
export function nodejsDockerfile(packageJson: string | null, baseImage: string): string {
  const manifest = parseJson<NodeManifest>(packageJson, 'package.json');
  const hasDependencies = Object.keys(manifest.dependencies ?? {}).length > 0;
  const lines = [`FROM ${baseImage}`, 'WORKDIR /app', 'ENV NODE_ENV=production'];
  if (hasDependencies) {
    lines.push('COPY package*.json ./', 'RUN ["npm", "install", "--omit=dev", "--no-audit", "--no-fund"]');
  }
  lines.push('COPY . .', `CMD ${JSON.stringify(nodeStartCommand(manifest))}`);
  return lines.join('\n') + '\n';
}

/**
 * The Dockerfile of the `php-laravel` runtime: `composer install --no-dev`
 * when composer.json requires anything, then `public/` served on `$PORT` by
 * `php artisan serve` when there is an `artisan`, else PHP's built-in server.
 * The base image needs `php` and `sh` (to read `$PORT`); `composer` only for
 * apps that require packages, and a missing one fails the build saying so.
 * STOPSIGNAL SIGINT: PHP's built-in server exits on SIGINT. SIGTERM, which it does not handle, was
 * ignored while the server was the container's PID 1; containers now run under Docker's init
 * (DockerClient.run), where either signal ends it.
 */
export function phpLaravelDockerfile(composerJson: string | null, hasArtisan: boolean, baseImage: string): string {
  const manifest = parseJson<ComposerManifest>(composerJson, 'composer.json');
  const hasPackages = Object.keys(manifest.require ?? {}).length > 0;
  const lines = [`FROM ${baseImage}`, 'WORKDIR /app', 'COPY . .'];
  if (hasPackages) {
    const missing = `composer.json requires packages but the base image ${baseImage} has no composer on its PATH: `
      + 'set deploy.runtimes.php-laravel.baseImage to an image with php and composer, or give the app its own Dockerfile';
    const check = `foreach (explode(':', getenv('PATH') ?: '') as $dir) { if (is_file("$dir/composer")) exit(0); } fwrite(STDERR, ${phpString(missing)} . PHP_EOL); exit(1);`;
    lines.push(
      `RUN ${JSON.stringify(['php', '-r', check])}`,
      'ENV COMPOSER_HOME=/tmp/composer COMPOSER_ALLOW_SUPERUSER=1',
      'RUN ["composer", "install", "--no-dev", "--no-interaction", "--no-progress", "--prefer-dist", "--optimize-autoloader"]',
    );
  }
  const serve = hasArtisan ? 'exec php artisan serve --host=0.0.0.0 --port="$PORT"' : 'exec php -S 0.0.0.0:"$PORT" -t public';
  lines.push('STOPSIGNAL SIGINT', `CMD ${JSON.stringify(['sh', '-c', serve])}`);
  return lines.join('\n') + '\n';
}

interface NodeManifest {
  dependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

interface ComposerManifest {
  require?: Record<string, string>;
}

function parseJson<T extends object>(text: string | null, file: string): T {
  if (text === null) return {} as T;
  try {
    const parsed = JSON.parse(text) as unknown;
    return (parsed && typeof parsed === 'object' ? parsed : {}) as T;
  } catch {
    throw new Error(`${file} is not valid JSON`);
  }
}

function nodeStartCommand(manifest: NodeManifest): string[] {
  const start = manifest.scripts?.start?.trim();
  if (!start) return ['node', 'server.js'];
  // Only words without shell syntax run without a shell; anything else goes through npm, which runs it with sh.
  if (/^node(\s+[A-Za-z0-9_./=:@-]+)*$/.test(start)) return start.split(/\s+/);
  return ['npm', 'start'];
}

/** A PHP single-quoted string literal. */
function phpString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

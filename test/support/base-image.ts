import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';

/** The image tag of the local Node base: the host's own node binary and the libraries it links. */
export const BASE_IMAGE = `dozen/node-base:${process.versions.node}`;
export const TEST_APP_IMAGE = 'dozen-test/echo-app:1';

/**
 * Builds the base image without any registry: a root filesystem holding the
 * host's `node` and what `ldd` lists, imported with the Engine's image import.
 * Skipped when the tag exists already.
 */
export async function ensureBaseImage(docker: Docker): Promise<string> {
  if (await exists(docker, BASE_IMAGE)) return BASE_IMAGE;
  const root = mkdtempSync(join(tmpdir(), 'dozen-rootfs-'));
  try {
    const node = realpathSync(process.execPath);
    copyInto(root, node, '/usr/local/bin/node');
    const libraries = execFileSync('ldd', [node], { encoding: 'utf8' }).match(/\/[^\s)]+/g) ?? [];
    for (const library of libraries) copyInto(root, realpathSync(library), library);
    for (const dir of ['tmp', 'app', 'etc']) mkdirSync(join(root, dir), { recursive: true });
    chmodSync(join(root, 'tmp'), 0o1777);
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [repo, tag] = BASE_IMAGE.split(':');
    const stream = (await docker.importImage(tar.stdout as never, { repo, tag, changes: ['ENV PATH=/usr/local/bin:/usr/bin:/bin', 'WORKDIR /app', 'CMD ["node"]'] } as never)) as unknown as NodeJS.ReadableStream;
    await followProgress(docker, stream);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (!(await exists(docker, BASE_IMAGE))) throw new Error(`importing ${BASE_IMAGE} did not produce the image`);
  return BASE_IMAGE;
}

/** A tiny HTTP app on the base image: answers with its DOZEN_* env and logs one line per request. */
export async function ensureTestAppImage(docker: Docker): Promise<string> {
  if (await exists(docker, TEST_APP_IMAGE)) return TEST_APP_IMAGE;
  await ensureBaseImage(docker);
  const context = mkdtempSync(join(tmpdir(), 'dozen-app-'));
  try {
    writeFileSync(join(context, 'Dockerfile'), `FROM ${BASE_IMAGE}\nCOPY app.js /app/app.js\nCMD ["node", "/app/app.js"]\n`);
    writeFileSync(
      join(context, 'app.js'),
      `const http = require('node:http');
const port = Number(process.env.PORT || 3000);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('DOZEN_') || k === 'PORT'));
http.createServer((req, res) => {
  console.log(req.method + ' ' + req.url);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ path: req.url, env, pid: process.pid }));
}).listen(port, '127.0.0.1', () => console.log('listening on ' + port));
process.on('SIGTERM', () => process.exit(0));
`,
    );
    const stream = (await docker.buildImage({ context, src: ['Dockerfile', 'app.js'] }, { t: TEST_APP_IMAGE, networkmode: 'host' } as never)) as unknown as NodeJS.ReadableStream;
    await followProgress(docker, stream);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return TEST_APP_IMAGE;
}

export async function exists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch {
    return false;
  }
}

export function copyInto(root: string, from: string, to: string): void {
  mkdirSync(join(root, dirname(to)), { recursive: true });
  copyFileSync(from, join(root, to));
  chmodSync(join(root, to), 0o755);
}

export function followProgress(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (error: Error | null, output: { error?: string; errorDetail?: { message: string } }[]) => {
      const failed = error ?? output.find((line) => line.error);
      if (failed) reject(failed instanceof Error ? failed : new Error(failed.errorDetail?.message ?? failed.error));
      else resolve();
    }),
  );
}

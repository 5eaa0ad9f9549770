import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

let updated = false;

/** Another apt-get (a test file's, the bench's) may hold dpkg's lock: wait for it rather than fail. */
const APT_OPTIONS = ['-o', 'DPkg::Lock::Timeout=600'];

/**
 * What the tests and the bench's engines run, binary and Debian package: the
 * bench installs the missing ones in one apt-get as it starts
 * (installMissingPackages). A test file that needs a binary still asks for it
 * with requireBinary, which installs it if this list left it out.
 */
const TEST_PACKAGES: [binary: string, pkg: string][] = [
  ['dockerd', 'docker.io'],
  ['/usr/bin/chromium', 'chromium'],
  ['certutil', 'libnss3-tools'],
  ['pebble', 'pebble'],
  ['mariadbd', 'mariadb-server'],
  ['redis-server', 'redis-server'],
  ['php', 'php-cli'],
  ['composer', 'composer'],
  ['logrotate', 'logrotate'],
  ['git', 'git'],
  ['curl', 'curl'],
  ['openssl', 'openssl'],
  ['python3', 'python3-minimal'],
];

/**
 * Installs the TEST_PACKAGES this machine lacks in one apt-get run, without
 * blocking the caller: the bench's test runs go on beside it. While it runs,
 * the file `pendingMark` exists; a test process whose binary is missing waits
 * for it to go (requireBinary) rather than start an apt-get of its own. Not
 * root: does nothing, and requireBinary names what to install.
 */
export async function installMissingPackages(pendingMark: string, say: (line: string) => void): Promise<void> {
  const missing = [...new Set(TEST_PACKAGES.filter(([binary]) => !which(binary)).map(([, pkg]) => pkg))];
  if (!missing.length || process.getuid?.() !== 0) return;
  const started = Date.now();
  say(`installing Debian packages ${missing.join(' ')}`);
  writeFileSync(pendingMark, missing.join(' '));
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      let output = '';
      const child = spawn('apt-get', [...APT_OPTIONS, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
      child.stderr!.on('data', (chunk) => (output += chunk));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`apt-get ${args.join(' ')} exited with ${code}: ${output.slice(-1000)}`))));
    });
  try {
    await apt(['update', '-qq']);
    updated = true;
    await apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  } finally {
    rmSync(pendingMark, { force: true });
  }
  say(`installed ${missing.join(' ')} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Set by the bench in its test processes' env: the file that exists while it installs packages. */
export const PENDING_MARK_ENV = 'DOZEN_TEST_PACKAGES_PENDING';

/** Waits (this process is a test's: blocking is fine) while the bench's installMissingPackages runs. */
function waitForBenchInstall(): void {
  const mark = process.env[PENDING_MARK_ENV];
  const until = Date.now() + 15 * 60_000;
  while (mark && existsSync(mark) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
}

/**
 * Makes sure `binary` is on this machine, installing Debian's `pkg` when
 * running as root; otherwise fails with what to install. Never a silent skip.
 */
export function requireBinary(binary: string, pkg: string): string {
  let found = which(binary);
  if (found) return found;
  waitForBenchInstall();
  found = which(binary);
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(`${binary} is missing: install the Debian package ${pkg} (sudo apt-get install -y ${pkg}) and run the tests again`);
  }
  process.stderr.write(`test bench: installing Debian package ${pkg} for ${binary}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) {
    execFileSync('apt-get', [...APT_OPTIONS, 'update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    updated = true;
  }
  const install = spawnSync('apt-get', [...APT_OPTIONS, 'install', '-y', '-qq', '--no-install-recommends', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const installed = which(binary);
  if (install.status !== 0 || !installed) throw new Error(`could not install the Debian package ${pkg} (apt-get exit ${install.status}); install it by hand`);
  return installed;
}

function which(binary: string): string | null {
  if (binary.startsWith('/')) return existsSync(binary) ? binary : null;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const candidate = `${dir}/${binary}`;
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

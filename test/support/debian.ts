import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

let updated = false;

/**
 * Makes sure `binary` is on this machine, installing Debian's `pkg` when
 * running as root; otherwise fails with what to install. Never a silent skip.
 */
export function requireBinary(binary: string, pkg: string): string {
  const found = which(binary);
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(`${binary} is missing: install the Debian package ${pkg} (sudo apt-get install -y ${pkg}) and run the tests again`);
  }
  process.stderr.write(`test bench: installing Debian package ${pkg} for ${binary}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    updated = true;
  }
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env });
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

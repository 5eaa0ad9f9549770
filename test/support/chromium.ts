import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { fromBench } from './bench-env.js';
import { requireBinary } from './debian.js';

/** Debian's Chromium, installed by the bench when missing; playwright-core drives it (it downloads no browser). */
export function chromiumPath(): string {
  return requireBinary('/usr/bin/chromium', 'chromium');
}

export interface ChromiumOptions {
  /** Extra command-line switches (e.g. `--host-resolver-rules=MAP *.example.test 127.0.0.1`). */
  args?: string[];
  /** PEM files of roots this browser trusts, beside the system's: put in the NSS database of a throwaway HOME, as a person would with certutil. */
  trustedRoots?: string[];
}

export async function launchChromium(options: ChromiumOptions = {}): Promise<Browser> {
  let env: Record<string, string> | undefined;
  if (options.trustedRoots?.length) {
    const certutil = requireBinary('certutil', 'libnss3-tools');
    const home = mkdtempSync(join(tmpdir(), 'dozen-chromium-home-'));
    const nssdb = join(home, '.pki', 'nssdb');
    mkdirSync(nssdb, { recursive: true });
    execFileSync(certutil, ['-d', `sql:${nssdb}`, '-N', '--empty-password'], { stdio: ['ignore', 'ignore', 'pipe'] });
    options.trustedRoots.forEach((file, index) => {
      execFileSync(certutil, ['-d', `sql:${nssdb}`, '-A', '-t', 'C,,', '-n', `test root ${index}`, '-i', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    });
    env = { ...(process.env as Record<string, string>), HOME: home };
  }
  return chromium.launch({
    executablePath: fromBench('DOZEN_TEST_CHROMIUM', 'Chromium') ?? chromiumPath(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...(options.args ?? [])],
    ...(env ? { env } : {}),
  });
}

import { chromium, type Browser } from 'playwright-core';
import { fromBench } from './bench-env.js';
import { requireBinary } from './debian.js';

/** Debian's Chromium, installed by the bench when missing; playwright-core drives it (it downloads no browser). */
export function chromiumPath(): string {
  return requireBinary('/usr/bin/chromium', 'chromium');
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: fromBench('DOZEN_TEST_CHROMIUM', 'Chromium') ?? chromiumPath(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

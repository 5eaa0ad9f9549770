import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

/**
 * Waits until `http://127.0.0.1:<port><path>` answers 2xx-3xx. Resolves true
 * when it does, false past the deadline or as soon as `alive` says the
 * container is gone (no point waiting on a dead process).
 */
export async function waitHealthy(port: number, path: string, timeoutMs: number, alive: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let checks = 0;
  while (Date.now() < deadline) {
    if (await answers(port, path)) return true;
    if (++checks % 5 === 0 && !(await alive())) return false;
    await sleep(100);
  }
  return false;
}

async function answers(port: number, path: string): Promise<boolean> {
  try {
    const response = await request(`http://127.0.0.1:${port}${path}`, { headersTimeout: 2000, bodyTimeout: 2000, reset: true });
    await response.body.dump();
    return response.statusCode >= 200 && response.statusCode < 400;
  } catch {
    return false;
  }
}

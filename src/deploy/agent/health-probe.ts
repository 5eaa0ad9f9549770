import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

/**
 * Waits until `http://127.0.0.1:<port><path>` answers 2xx-3xx. Resolves true
 * when it does, false past the deadline or as soon as `alive` says the
 * container is gone (no point waiting on a dead process).
 */
export async function waitHealthy(port: number, path: string, timeoutMs: number, alive: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let nextAliveCheck = Date.now() + ALIVE_CHECK_MS;
  // Most apps answer within a few hundred ms: probing every 100 ms from the start added ~50 ms on
  // average to createInstance (npm run bench:deploy), so the pause starts at 10 ms and grows to 100.
  let pauseMs = 10;
  while (Date.now() < deadline) {
    if (await answers(port, path)) return true;
    if (Date.now() >= nextAliveCheck) {
      if (!(await alive())) return false;
      nextAliveCheck = Date.now() + ALIVE_CHECK_MS;
    }
    await sleep(pauseMs);
    pauseMs = Math.min(100, Math.ceil(pauseMs * 1.5));
  }
  return false;
}

/** How often the container is asked whether it still runs (a Docker inspect) while it has not answered. */
const ALIVE_CHECK_MS = 500;

async function answers(port: number, path: string): Promise<boolean> {
  try {
    const response = await request(`http://127.0.0.1:${port}${path}`, { headersTimeout: 2000, bodyTimeout: 2000, reset: true });
    await response.body.dump();
    return response.statusCode >= 200 && response.statusCode < 400;
  } catch {
    return false;
  }
}

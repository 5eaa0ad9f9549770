/**
 * `npm run bench:console`: the web console in Chromium on loopback.
 * - Cold load: first contentful paint and JS bytes transferred, with an empty
 *   cache, of the login page (`/`) and of a logged-in page (`/console/routes`).
 * - Change on screen: an instance's load changes in the registry (a heartbeat
 *   through REST); the time until its row on the open Routes page shows it
 *   (a MutationObserver in the page stamps the moment), p50/p99 over CHANGES
 *   changes. Reference, same run: the same change reaching a plain Node
 *   WebSocket client of the same GraphQL subscription (no browser, no DOM).
 * Goals (issue #17): < 150 KB compressed JS, FCP < 500 ms, p99 < 300 ms.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { launchChromium } from '../test/support/chromium.js';
import { startDozen } from '../test/support/dozen-process.js';
import { createUser, logIn } from '../test/console/console-helpers.js';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 50);
const LOADS = Number(process.env.BENCH_LOADS ?? 10);
const PASSWORD = 'bench password 0123';
const SUBSCRIPTION = 'subscription { servicesChanged { app instances { id load { inflight } } } }';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** FCP and JS bytes of one cold load of `url` in `page` (new context: empty cache). */
async function coldLoad(page: Page, url: string, ready: string): Promise<{ fcp: number; jsBytes: number }> {
  await page.goto(url);
  await page.waitForSelector(ready);
  return (await page.evaluate(`(() => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN;
    const jsBytes = performance.getEntriesByType('resource').filter((entry) => entry.name.endsWith('.js')).reduce((sum, entry) => sum + entry.transferSize, 0);
    return { fcp, jsBytes };
  })()`)) as { fcp: number; jsBytes: number };
}

async function main(): Promise<void> {
  const dozen = await startDozen({ env: { DOZEN_MODULES: 'registry,proxy', DOZEN_LOG_LEVEL: 'warn' } });
  const browser = await launchChromium();
  try {
    await createUser(dozen, 'bench', 'admin', PASSWORD);
    const rest = (path: string, method: string, body: unknown) => dozen.api(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await rest('/registry/instances', 'POST', { id: 'bench-1', app: 'bench', address: '127.0.0.1', port: 9, domains: ['bench.test'], ttl: 600 })).status, 201);

    // --- cold loads ---
    const cold: Record<'login' | 'routes', { fcp: number[]; jsBytes: number[] }> = { login: { fcp: [], jsBytes: [] }, routes: { fcp: [], jsBytes: [] } };
    const { context: session } = await logIn(browser, dozen, 'bench', PASSWORD);
    const cookies = await session.cookies();
    await session.close();
    for (let round = 0; round < LOADS; round++) {
      const anonymous = await browser.newContext();
      const login = await coldLoad(await anonymous.newPage(), dozen.url + '/', 'input[name=username]');
      await anonymous.close();
      const loggedIn = await browser.newContext();
      await loggedIn.addCookies(cookies);
      const routes = await coldLoad(await loggedIn.newPage(), dozen.url + '/console/routes', '[data-instance=bench-1]');
      await loggedIn.close();
      for (const [name, figures] of [['login', login], ['routes', routes]] as const) {
        cold[name].fcp.push(figures.fcp);
        cold[name].jsBytes.push(figures.jsBytes);
      }
    }

    // --- change on screen, and the same change at a plain WebSocket client ---
    const { context, page } = await logIn(browser, dozen, 'bench', PASSWORD);
    await page.goto(dozen.url + '/console/routes');
    await page.waitForSelector('[data-instance=bench-1]');
    await page.evaluate(`{
      window.seenAt = {};
      new MutationObserver(() => {
        const text = document.querySelector('[data-instance=bench-1] [data-col=inflight]')?.textContent;
        if (text && !(text in window.seenAt)) window.seenAt[text] = Date.now();
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    }`);
    const wsSeenAt = new Map<number, number>();
    const ws = new WebSocket(dozen.url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws', { headers: { cookie: cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ') } });
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data));
        if (frame.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION } }));
        if (frame.type !== 'next') return;
        const now = Date.now();
        resolve();
        for (const service of frame.payload.data.servicesChanged) for (const instance of service.instances) {
          const inflight = instance.load?.inflight;
          if (instance.id === 'bench-1' && inflight !== undefined && !wsSeenAt.has(inflight)) wsSeenAt.set(inflight, now);
        }
      });
    });
    const screen: number[] = [];
    const socket: number[] = [];
    for (let change = 1; change <= CHANGES; change++) {
      const inflight = 1000 + change;
      const sentAt = Date.now();
      await rest('/registry/instances/bench-1/heartbeat', 'PUT', { load: { cpu: 1, memory: 1, processes: 1, inflight } });
      await page.waitForFunction(`window.seenAt['${inflight}'] !== undefined`, undefined, { timeout: 10_000 });
      screen.push(((await page.evaluate(`window.seenAt['${inflight}']`)) as number) - sentAt);
      const until = Date.now() + 5000;
      while (!wsSeenAt.has(inflight) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
      socket.push(wsSeenAt.get(inflight)! - sentAt);
    }
    ws.close();
    await context.close();

    const median = (values: number[]) => percentile(values, 50);
    console.log(`\nconsole cold load, median of ${LOADS} (empty cache, loopback)`);
    console.log('page              FCP ms   JS bytes transferred   goal');
    console.log(`login (/)         ${median(cold.login.fcp).toFixed(0).padStart(6)}   ${String(median(cold.login.jsBytes)).padStart(20)}   FCP < 500 ms, JS < 150 KB`);
    console.log(`/console/routes   ${median(cold.routes.fcp).toFixed(0).padStart(6)}   ${String(median(cold.routes.jsBytes)).padStart(20)}`);
    console.log(`JS bytes / goal: ${(median(cold.routes.jsBytes) / (150 * 1024)).toFixed(2)}   FCP / goal: ${(median(cold.routes.fcp) / 500).toFixed(2)}`);
    console.log(`\ninstance change (registry heartbeat) -> on screen, ${CHANGES} changes`);
    console.log('                                   p50 ms   p99 ms');
    console.log(`row on the open Routes page        ${String(percentile(screen, 50)).padStart(6)}   ${String(percentile(screen, 99)).padStart(6)}`);
    console.log(`reference: plain WebSocket client  ${String(percentile(socket, 50)).padStart(6)}   ${String(percentile(socket, 99)).padStart(6)}`);
    console.log(`page / reference (p99): ${(percentile(screen, 99) / Math.max(1, percentile(socket, 99))).toFixed(2)}   p99 / goal (300 ms): ${(percentile(screen, 99) / 300).toFixed(2)}`);
  } finally {
    await browser.close();
    await dozen.stop();
  }
}

await main();

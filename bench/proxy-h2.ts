/**
 * npm run bench:proxy:h2 — a browser loading a page with 30 assets through
 * dozen's TLS listener, HTTP/2 against HTTP/1.1, side by side in the same
 * rounds (issue #18). Debian's Chromium (playwright-core) loads
 * `https://page.bench.test/` cold each time (a new browser context: no
 * cache, no open connection, a full TLS handshake); the page links 10
 * scripts, 10 stylesheets and 10 images (2 KiB to 8 KiB each) from a Node
 * backend on loopback. One Chromium runs as is (ALPN picks h2), another with
 * `--disable-http2` (it offers only http/1.1 and opens up to 6 connections).
 * The load time is the navigation's loadEventEnd (every asset fetched and
 * applied). Rounds alternate which protocol goes first. Both engines, each
 * in its own `dozen serve` with proxy.tls.http2 on.
 *
 *   BENCH_ROUNDS=30 BENCH_WORKERS=2 npm run bench:proxy:h2
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../test/support/chromium.js';
import { startDozenTls } from './proxy-support.js';
import { waitFor } from '../test/support/ports.js';
import { makeTestCa } from '../test/support/test-ca.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const WORKERS = Number(process.env.BENCH_WORKERS ?? availableParallelism());
const HOST = 'page.bench.test';
const ASSETS = 30;

type Protocol = 'h2' | 'http/1.1';

/** The page and its assets: scripts, stylesheets and 1x1 PNGs padded to their size (browsers ignore chunks after IEND). */
function startPageBackend(): Promise<Server> {
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
  const assets = new Map<string, { type: string; body: Buffer }>();
  const tags: string[] = [];
  for (let index = 0; index < ASSETS; index++) {
    const size = 2048 + ((index * 617) % 6144);
    const kind = index % 3;
    if (kind === 0) {
      assets.set(`/js/${index}.js`, { type: 'text/javascript', body: Buffer.from(`window.loaded = (window.loaded || 0) + 1; /*${'j'.repeat(size)}*/`) });
      tags.push(`<script src="/js/${index}.js"></script>`);
    } else if (kind === 1) {
      assets.set(`/css/${index}.css`, { type: 'text/css', body: Buffer.from(`.c${index} { color: #${(index * 4099).toString(16).padStart(6, '0').slice(0, 6)} } /*${'c'.repeat(size)}*/`) });
      tags.push(`<link rel="stylesheet" href="/css/${index}.css">`);
    } else {
      assets.set(`/img/${index}.png`, { type: 'image/png', body: Buffer.concat([png, Buffer.alloc(size)]) });
      tags.push(`<img src="/img/${index}.png" width="1" height="1">`);
    }
  }
  const page = Buffer.from(`<!doctype html><html><head><title>bench</title><link rel="icon" href="data:,">${tags.filter((tag) => !tag.startsWith('<img')).join('')}</head><body>${tags.filter((tag) => tag.startsWith('<img')).join('')}</body></html>`);
  assets.set('/', { type: 'text/html', body: page });
  const server = createServer((req, res) => {
    const asset = assets.get(req.url ?? '');
    if (!asset) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, 'cache-control': 'max-age=3600' });
    res.end(asset.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** One cold load: a new context, the page, its load time (ms) and the protocol every resource came over. */
async function coldLoad(browser: Browser, url: string): Promise<{ ms: number; protocols: string[] }> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(url, { waitUntil: 'load' });
    return (await page.evaluate(`(() => {
      const navigation = performance.getEntriesByType('navigation')[0];
      const entries = [navigation, ...performance.getEntriesByType('resource')];
      return { ms: navigation.loadEventEnd - navigation.startTime, protocols: entries.map((entry) => entry.nextHopProtocol) };
    })()`)) as { ms: number; protocols: string[] };
  } finally {
    await context.close();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const ca = makeTestCa('dozen bench CA');
  const certificate = ca.issue([HOST], { name: 'bench' });
  const stops: (() => Promise<unknown>)[] = [];
  const backend = await startPageBackend();
  const browsers: Record<Protocol, Browser | null> = { h2: null, 'http/1.1': null };
  try {
    const backendPort = (backend.address() as AddressInfo).port;
    const resolver = `--host-resolver-rules=MAP ${HOST} 127.0.0.1`;
    browsers.h2 = await launchChromium({ args: [resolver], trustedRoots: [ca.caFile] });
    browsers['http/1.1'] = await launchChromium({ args: [resolver, '--disable-http2'], trustedRoots: [ca.caFile] });
    const samples = new Map<string, number[]>();
    const lines: string[] = [];
    for (const engine of ['fast', 'portable'] as const) {
      const { port } = await startDozenTls({ engine, workers: WORKERS, host: HOST, http2: true, backendPort, certificate }, stops);
      const url = `https://${HOST}:${port}/`;
      await waitFor(`dozen (${engine}) over HTTPS`, async () => (await coldLoad(browsers.h2!, url)).protocols.length === ASSETS + 1, 20_000, 200);
      // Warm-up: Chromium's and dozen's code paths, not their caches (every load is cold).
      for (const protocol of ['h2', 'http/1.1'] as const) for (let index = 0; index < 3; index++) await coldLoad(browsers[protocol]!, url);
      for (let round = 0; round < ROUNDS; round++) {
        const order: Protocol[] = round % 2 ? ['http/1.1', 'h2'] : ['h2', 'http/1.1'];
        for (const protocol of order) {
          const load = await coldLoad(browsers[protocol]!, url);
          assert.equal(load.protocols.length, ASSETS + 1, 'the page and its 30 assets');
          assert.deepEqual([...new Set(load.protocols)], [protocol], `every resource over ${protocol}`);
          const key = `${engine}|${protocol}`;
          samples.set(key, [...(samples.get(key) ?? []), load.ms]);
        }
      }
      const h2 = samples.get(`${engine}|h2`)!;
      const h1 = samples.get(`${engine}|http/1.1`)!;
      const p50 = [percentile(h2, 50), percentile(h1, 50)];
      const p95 = [percentile(h2, 95), percentile(h1, 95)];
      lines.push(`| ${engine} | ${p50[0].toFixed(1)} | ${p95[0].toFixed(1)} | ${p50[1].toFixed(1)} | ${p95[1].toFixed(1)} | ${(p50[0] / p50[1]).toFixed(2)} | ${(p95[0] / p95[1]).toFixed(2)} |`);
      process.stderr.write(`${engine}: h2 p50 ${p50[0].toFixed(1)} ms, http/1.1 p50 ${p50[1].toFixed(1)} ms\n`);
    }
    process.stdout.write(
      [
        `Page with ${ASSETS} assets, cold loads (new context each), Chromium through dozen's TLS listener (${WORKERS} workers), ${ROUNDS} rounds each, loopback, ${availableParallelism()} cores, load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}`,
        '',
        '| engine | h2 p50 ms | h2 p95 ms | http/1.1 p50 ms | http/1.1 p95 ms | h2/http1.1 p50 | h2/http1.1 p95 |',
        '|---|---:|---:|---:|---:|---:|---:|',
        ...lines,
      ].join('\n') + `\n\nNode ${process.version}; lower is better; a ratio <= 1.00 means HTTP/2 loads the page at least as fast\n`,
    );
  } finally {
    for (const browser of Object.values(browsers)) await browser?.close();
    for (const stop of stops) await stop();
    backend.close();
    ca.remove();
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench:proxy:h2: ${error.message}\n`);
    process.exit(1);
  },
);

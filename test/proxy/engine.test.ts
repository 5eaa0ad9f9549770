/**
 * Which engine serves, and health that tells the truth about it: `auto`
 * must pick the fast engine on every supported Node line (a silent fallback
 * fails here), a worker whose fast engine fails its self-test serves with
 * the portable one and says why, and workers that keep dying make the proxy
 * `down` with the last error.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDozen } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { call, startProxy } from './helpers.js';

// Most tests start dozen (the module-loading one three times): 2-3 s a start on a quiet machine, 20 s and more on a crowded one.
describe('proxy engine choice', { timeout: 300_000 }, () => {
  it(`on this Node (${process.version}), auto picks the fast engine: its self-test passes`, async () => {
    const proxy = await startProxy({ engine: 'auto' });
    try {
      assert.deepEqual(proxy.server.report, { engine: 'fast', reason: `auto: the fast engine passed its self-test on Node ${process.version}`, fallback: false });
    } finally {
      await proxy.close();
    }
  });

  it('a worker whose fast engine fails its self-test serves with the portable engine, and /proxy/health, /health and /metrics say why', async () => {
    const proxyPort = await freePort();
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '2', DOZEN_PROXY_LISTEN_PORT: String(proxyPort), DOZEN_PROXY_ENGINE_SELF_TEST_FAULT: 'true' } });
    try {
      const health = await (await dozen.api('/proxy/health')).json();
      assert.equal(health.status, 'up', JSON.stringify(health));
      assert.equal(health.details.engines.length, 2, JSON.stringify(health));
      for (const worker of health.details.engines) {
        assert.equal(worker.engine, 'portable');
        assert.equal(worker.fallback, true);
        assert.match(worker.reason, /^auto: the fast engine failed its self-test on Node v[\d.]+ \(the self-test was told to fail/);
      }
      const all = await (await dozen.api('/health')).json();
      assert.deepEqual(all.modules.proxy.details, health.details);
      const warnings = dozen.logs().split('\n').filter((line) => line.includes('proxy worker runs the portable engine'));
      assert.equal(warnings.length, 2, `one warning per worker:\n${dozen.logs()}`);
      const answer = await call(proxyPort, 'nobody.e2e.test', '/');
      assert.equal(answer.status, 404);
      assert.deepEqual(answer.json(), { error: 'not_found', message: 'no app serves the host "nobody.e2e.test"' });
      const metrics = await (await fetch(`${dozen.url}/metrics`)).text();
      assert.match(metrics, /dozen_proxy_engine_workers\{engine="portable"\} 2/);
    } finally {
      await dozen.stop();
    }
  });

  it('under --pending-deprecation --throw-deprecation dozen starts without a deprecation warning and the fast engine serves', async () => {
    const proxyPort = await freePort();
    const dozen = await startDozen({ env: { NODE_OPTIONS: '--pending-deprecation --throw-deprecation', DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '1', DOZEN_PROXY_LISTEN_PORT: String(proxyPort) } });
    try {
      const answer = await call(proxyPort, 'nobody.e2e.test', '/');
      assert.equal(answer.status, 404, answer.text);
      const health = await (await dozen.api('/proxy/health')).json();
      assert.deepEqual(health.details.engines.map((worker: { engine: string }) => worker.engine), ['fast'], JSON.stringify(health));
      assert.doesNotMatch(dozen.logs(), /DeprecationWarning|DEP0\d+/);
    } finally {
      await dozen.stop();
    }
  });

  it('a host whose modules leave the proxy out loads neither engine; one that runs it loads the one it serves with, and the portable one no Node internal', async () => {
    const watch = join(dirname(fileURLToPath(import.meta.url)), '../support/module-watch.js');
    const loaded = async (modules: string, engine = 'auto') => {
      const dozen = await startDozen({ env: { NODE_OPTIONS: `--import ${watch}`, DOZEN_MODULES: modules, DOZEN_PROXY_WORKERS: '0', DOZEN_PROXY_ENGINE: engine } });
      await dozen.stop();
      const lines = dozen.logs().split('\n');
      return [
        ...new Set([
          ...lines.filter((line) => line.startsWith('module loaded ')).map((line) => line.replace(/.*\/dist\/src\/proxy\//, '')),
          ...lines.filter((line) => line.startsWith('internal used ')).map((line) => line.slice('internal used '.length)),
        ]),
      ].sort();
    };
    assert.deepEqual(await loaded('storage'), []);
    assert.deepEqual(await loaded('proxy,registry'), ['_http_common', 'http1/direct-write.js', 'http1/http1.engine.js', 'http1/llhttp.js', 'http1/native-io.js', 'process.binding(stream_wrap)']);
    assert.deepEqual(await loaded('proxy,registry', 'portable'), ['portable/llhttp-wasm.js', 'portable/portable.engine.js']);
  });

  it('workers that die again and again make the proxy down with the last error, and restarts back off', async () => {
    const proxyPort = await freePort();
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'proxy,registry', DOZEN_PROXY_WORKERS: '1', DOZEN_PROXY_LISTEN_PORT: String(proxyPort) } });
    try {
      const workerPids = () => dozen.logs().split('\n').filter((line) => line.includes('proxy worker listening')).map((line) => JSON.parse(line).pid as number);
      const killedAt: number[] = [];
      const listeningAfterKill: number[] = [];
      for (let death = 1; death <= 4; death++) {
        const pid = await waitFor(`worker ${death} listening`, async () => workerPids()[death - 1], 20_000, 20);
        if (death > 1) listeningAfterKill.push(Date.now() - killedAt[death - 2]);
        killedAt.push(Date.now());
        process.kill(pid, 'SIGKILL');
      }
      // Until the primary has seen the last death, the probe alone finds the proxy down (no worker answers).
      let last: unknown;
      const health = await waitFor('the proxy down for its crash loop', async () => {
        const result = (last = await (await dozen.api('/proxy/health')).json()) as { status: string; reason?: string };
        return result.status === 'down' && /died/.test(result.reason ?? '') ? result : undefined;
      }, 5_000, 50).catch((error: Error) => assert.fail(`${error.message}; last health: ${JSON.stringify(last)}`));
      // Four deaths within 10 s, or (on a slow machine, where four starts take longer) four in a row of workers that did not last 10 s.
      assert.match(health.reason!, /^proxy workers died 4 times (in the last 10 s|in a row, each within 10 s of starting); last: exited with code null, signal SIGKILL$/);
      // The waits the primary chose, as it logs them (what a worker takes to start, seconds on a crowded machine, is not in them):
      // 0.5, 1 and 2 s, each between half and the whole of its step with jitter, so the third is longer than the first.
      const waits = dozen.logs().split('\n').filter((line) => line.includes('proxy worker died')).map((line) => JSON.parse(line).restartInMs as number);
      assert.ok(waits[2] > waits[0] && waits[0] >= 250 && waits[2] >= 1_000, `restart waits ${waits.join(', ')} ms do not back off`);
      // And each was waited: the next worker listened no sooner than its wait after the kill.
      for (const [index, took] of listeningAfterKill.entries()) assert.ok(took >= waits[index], `worker ${index + 2} listened ${took} ms after the kill, within the ${waits[index]} ms wait`);
    } finally {
      await dozen.stop();
    }
  });
});

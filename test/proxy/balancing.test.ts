import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Answer, call, ENGINES, startBackend, startProxy, tally, type TestBackend, type TestProxy } from './helpers.js';

for (const engine of ENGINES) {
  describe(`proxy balancing through real sockets (${engine} engine)`, { timeout: 60_000 }, () => {
    let proxy: TestProxy;
    let backends: TestBackend[];

    before(async () => {
      proxy = await startProxy({ engine, trustedProxies: ['127.0.0.1'] });
      backends = await Promise.all(['b0', 'b1', 'b2', 'b3'].map((name) => startBackend(name)));
    });
    after(async () => {
      await proxy.close();
      await Promise.all(backends.map((backend) => backend.close()));
    });

    const route = (app: string, count = 4, load?: (index: number) => { cpu: number; inflight: number }) =>
      proxy.source.set([{ app, domains: [`${app}.test`], backends: backends.slice(0, count).map((backend, index) => backend.as(app, load?.(index))) }]);

    async function many(host: string, count: number, request: (index: number) => { path?: string; headers?: Record<string, string> }): Promise<Answer[]> {
      const answers: Answer[] = [];
      for (let index = 0; index < count; index += 20) {
        answers.push(...(await Promise.all(Array.from({ length: Math.min(20, count - index) }, (_, offset) => {
          const { path, headers } = request(index + offset);
          return call(proxy.port, host, path, { headers });
        }))));
      }
      return answers;
    }

    it('random spreads requests roughly evenly', async () => {
      route('even');
      const counts = tally(await many('even.test', 800, () => ({})));
      assert.deepEqual(Object.keys(counts).sort(), ['b0', 'b1', 'b2', 'b3']);
      for (const count of Object.values(counts)) assert.ok(count > 140 && count < 260, JSON.stringify(counts));
    });

    it('ip-hash keeps each client (as the X-Forwarded-For of a trusted proxy names it) on one backend; a leaving backend moves only its clients', async () => {
      proxy.policies({ sticky: { balancer: 'ip-hash' } });
      route('sticky');
      const client = (index: number) => ({ headers: { 'x-forwarded-for': `203.0.113.${index % 200}, 127.0.0.1` } });
      const first = await many('sticky.test', 200, client);
      const again = await many('sticky.test', 200, client);
      assert.deepEqual(again.map((answer) => answer.headers['x-backend']), first.map((answer) => answer.headers['x-backend']));
      assert.equal(first[5].json().headers['x-forwarded-for'], '203.0.113.5, 127.0.0.1, 127.0.0.1');
      route('sticky', 3);
      const after = await many('sticky.test', 200, client);
      for (let index = 0; index < 200; index++) {
        if (first[index].headers['x-backend'] !== 'b3') assert.equal(after[index].headers['x-backend'], first[index].headers['x-backend'], `client ${index} moved`);
      }
      const moved = after.filter((answer, index) => answer.headers['x-backend'] !== first[index].headers['x-backend']).length;
      assert.ok(moved > 20 && moved < 80, `moved ${moved} of 200 (expected ~1/4)`);
    });

    it('url-hash keeps each path on one backend, with or without the query as the app says', async () => {
      proxy.policies({ cache: { balancer: 'url-hash' } });
      route('cache');
      const paths = await many('cache.test', 120, (index) => ({ path: `/img/${index % 40}.png?v=${index}` }));
      const byPath = new Map<string, Set<string>>();
      paths.forEach((answer, index) => {
        const key = `/img/${index % 40}.png`;
        if (!byPath.has(key)) byPath.set(key, new Set());
        byPath.get(key)!.add(answer.headers['x-backend'] as string);
      });
      assert.ok([...byPath.values()].every((set) => set.size === 1), 'a path went to two backends');
      assert.equal(Object.keys(tally(paths)).length, 4);
    });

    it('least-load sends more to the less loaded backends and still some to the busiest', async () => {
      proxy.policies({ busy: { balancer: 'least-load' } });
      route('busy', 4, (index) => ({ cpu: [5, 30, 60, 95][index], inflight: [0, 1, 3, 8][index] }));
      const counts = tally(await many('busy.test', 800, () => ({})));
      assert.ok(counts.b0 > counts.b1 && counts.b1 > counts.b2 && counts.b2 > counts.b3, JSON.stringify(counts));
      assert.ok(counts.b3 > 10, `the busiest starved: ${JSON.stringify(counts)}`);
    });
  });
}

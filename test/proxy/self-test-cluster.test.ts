import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

/**
 * The fast engine's self-test runs in every proxy worker at once. In a cluster, port 0 is shared by the
 * workers unless a listen is exclusive, so one worker's test client could reach another worker's engine
 * (or backend) just as that one closed it: a hang, and `auto` fell back to the portable engine.
 */
const ROUNDS = 15;

if (cluster.isWorker) {
  const { selfTest } = await import('../../src/proxy/http1/self-test.js');
  const failures: string[] = [];
  for (let round = 0; round < ROUNDS; round++) await selfTest(false).catch((error: Error) => failures.push(error.message));
  process.send!({ failures });
  process.disconnect();
} else {
  describe('fast engine self-test in cluster workers', () => {
    it('passes in two workers running it at the same time, round after round', async () => {
      cluster.setupPrimary({ exec: fileURLToPath(import.meta.url) });
      const workers = [cluster.fork(), cluster.fork()];
      const reports = await Promise.all(workers.map(async (worker) => ((await once(worker, 'message')) as [{ failures: string[] }])[0]));
      await Promise.all(workers.map((worker) => (worker.isDead() ? null : once(worker, 'exit'))));
      assert.deepEqual(reports.flatMap((report) => report.failures), [], `${ROUNDS} self-tests in each of 2 workers`);
    });
  });
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { textRecords } from '../../common/text-records.js';
import { LABEL, type DockerClient } from './docker.client.js';
import { FailureSpell } from '../../common/failure-spell.js';

/**
 * Follows the Engine's events of managed containers and calls `onChange`
 * with the instance of each `die`, `oom`, `start` or `health_status`. When
 * the stream ends it reconnects with `since=` the last event seen, so an
 * event during the gap is still delivered.
 */
export function followEvents(docker: DockerClient, onChange: (instance: string, action: string) => void, log: Logger): () => void {
  const abort = new AbortController();
  let since = Math.floor(Date.now() / 1000);
  void (async () => {
    let backoff = 0;
    const following = new FailureSpell(log, 'docker events stream failed; reconnecting');
    while (!abort.signal.aborted) {
      try {
        const stream = await docker.events(since, abort.signal);
        backoff = 0;
        following.succeeded();
        for await (const line of textRecords(stream, '\n')) {
          if (!line.trim()) continue;
          const event = JSON.parse(line) as { time?: number; Action?: string; Actor?: { Attributes?: Record<string, string> } };
          if (event.time) since = event.time;
          const instance = event.Actor?.Attributes?.[LABEL.instance];
          if (instance && event.Action) onChange(instance, event.Action.split(':')[0]);
        }
      } catch (error) {
        if (abort.signal.aborted) return;
        following.failed(error);
      }
      backoff = Math.min(backoff ? backoff * 2 : 250, 10_000);
      await sleep(backoff * (0.5 + Math.random() / 2), undefined, { signal: abort.signal }).catch(() => undefined);
    }
  })();
  return () => abort.abort();
}

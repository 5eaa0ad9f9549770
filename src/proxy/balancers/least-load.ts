import { LOAD_STALE_AFTER_MS, type Load } from '../../registry/routes.js';
import { randomIndex, type Balancer, type Target } from './balancer.js';

/** How many in-flight requests 100 % of one core is worth in a score. */
const CPU_PERCENT_PER_REQUEST = 25;

/**
 * Power of two random choices: draw two backends (independently, so a lone
 * busiest backend still gets ~1/n² of requests instead of starving) and send
 * to the one with the lower score. Unlike "always the least loaded", this never
 * herds every worker onto the one backend that looked idle in the last report.
 */
export const leastLoad: Balancer = (targets, _request, skip) => {
  const first = randomIndex(targets.length, skip);
  if (first < 0) return -1;
  const second = randomIndex(targets.length, skip);
  if (second === first) return first;
  const now = Date.now();
  const average = averageReported(targets, now);
  return score(targets[second], average, now) < score(targets[first], average, now) ? second : first;
};

/**
 * Reported in-flight plus CPU as requests, plus this worker's own in-flight
 * (which reacts at once, between the registry's one-second reports). A
 * backend without a recent report counts as the average of those with one.
 */
export function score(target: Target, average: number, now: number): number {
  const load = fresh(target.load, now);
  return (load ? reported(load) : average) + target.upstream.inflight;
}

function reported(load: Load): number {
  return load.inflight + load.cpu / CPU_PERCENT_PER_REQUEST;
}

function fresh(load: Load | null, now: number): Load | null {
  return load && now - load.at <= LOAD_STALE_AFTER_MS ? load : null;
}

function averageReported(targets: readonly Target[], now: number): number {
  let sum = 0;
  let count = 0;
  for (const target of targets) {
    const load = fresh(target.load, now);
    if (load) {
      sum += reported(load);
      count++;
    }
  }
  return count ? sum / count : 0;
}

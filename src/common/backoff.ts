/** How a retry loop waits: doubling from `firstMs` up to `maxMs`, each wait jittered. */
export interface BackoffOptions {
  firstMs: number;
  maxMs: number;
  /** Share of each wait that is random (0..1): 0.5 waits between half and the whole of the step. */
  jitter?: number;
}

/**
 * The wait before retry number `attempt` (1 for the first retry). Jitter
 * keeps many loops that failed together (every proxy worker, every host
 * after a network blip) from retrying in step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.firstMs * 2 ** Math.max(0, attempt - 1));
  const jitter = options.jitter ?? 0.5;
  return Math.round(step * (1 - jitter + jitter * random()));
}

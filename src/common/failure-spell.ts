import type { Logger } from 'pino';

/**
 * A failure that repeats while something stays down (a poll of a Docker Engine that is not there):
 * logged once when it starts, with the error, and once when it ends, with how long and how often,
 * instead of a warning with a stack trace at every try. Repeats in between go to debug.
 */
export class FailureSpell {
  private since: number | null = null;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    /** What fails, as the warning says it: "cannot list containers; Docker Engine down?". */
    private readonly what: string,
  ) {}

  failed(error: unknown): void {
    this.failures += 1;
    if (this.since !== null) {
      this.log.debug({ err: error, failures: this.failures }, this.what);
      return;
    }
    this.since = Date.now();
    this.log.warn({ err: error }, `${this.what} (said once until it works again)`);
  }

  succeeded(): void {
    if (this.since === null) return;
    this.log.info({ failures: this.failures, seconds: Math.round((Date.now() - this.since) / 1000) }, `works again: ${this.what}`);
    this.since = null;
    this.failures = 0;
  }
}

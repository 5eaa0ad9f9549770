import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { InjectLogger } from '../common/core.module.js';
import { OBJECT_STORE, type ObjectStore } from './object-store.js';
import { ObjectAppender } from './tailer/object-appender.js';

export type { ObjectAppender } from './tailer/object-appender.js';

/** An appender unused this long is forgotten (yesterday's objects get no more appends). */
const IDLE_MS = 10 * 60_000;

/**
 * The single writer of each log object in this process, shared by the tailer
 * (`storage.tail`) and the deploy agent's container-log shipper: whoever
 * appends to a key goes through its one `ObjectAppender`, so two writers
 * never race for the same position.
 */
@Injectable()
export class LogAppenders {
  private readonly appenders = new Map<string, { appender: ObjectAppender; usedAt: number }>();
  private readonly log: Logger;

  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'storage', component: 'log-appenders' });
  }

  /** The appender of `key`. */
  of(key: string): ObjectAppender {
    const now = Date.now();
    let entry = this.appenders.get(key);
    if (!entry) {
      this.forgetIdle(now);
      entry = { appender: new ObjectAppender(key, this.store, this.log), usedAt: now };
      this.appenders.set(key, entry);
    }
    entry.usedAt = now;
    return entry.appender;
  }

  /** The length of `key` in the store (0 when it does not exist). */
  async length(key: string): Promise<number> {
    return (await this.store.head(key))?.size ?? 0;
  }

  private forgetIdle(now: number): void {
    for (const [key, entry] of this.appenders) if (entry.appender.busy === 0 && now - entry.usedAt > IDLE_MS) this.appenders.delete(key);
  }
}

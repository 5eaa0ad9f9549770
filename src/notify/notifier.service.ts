import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { request } from 'undici';
import { backoffDelay } from '../common/backoff.js';
import { InjectLogger } from '../common/core.module.js';
import { Metrics } from '../common/metrics.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { refusalOf, requestFor, type NotifyEvent } from './formats.js';
import type { NotifyChannel } from './notify.config.js';
import { QuietWindow } from './quiet-window.js';

const BACKOFF = { firstMs: 1000, maxMs: 60_000 };
const TIMEOUT_MS = 10_000;

/**
 * Tells people about events through the configured channels: each channel that chose the event gets
 * one message per event and subject per quiet window, retried with backoff until it is taken.
 */
@Injectable()
export class Notifier implements OnModuleDestroy {
  private readonly log: Logger;
  private readonly quiet: QuietWindow;
  private readonly pending = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly messages: Counter<'channel' | 'outcome'>;

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    metrics: Metrics,
  ) {
    this.log = logger.child({ module: 'notify' });
    this.messages = new Counter({
      name: 'dozen_notify_messages_total',
      help: 'notifications by channel and outcome: sent, retried (an attempt refused), failed (given up), held (within the quiet window)',
      labelNames: ['channel', 'outcome'],
      registers: [metrics.registry],
    });
    this.quiet = new QuietWindow(config.notify.quietSeconds * 1000);
  }

  /** Sends in the background; never throws (a failed delivery is logged). */
  notify(event: Omit<NotifyEvent, 'host' | 'at'>): void {
    const full: NotifyEvent = { ...event, host: this.config.host.name, at: Date.now() };
    for (const channel of this.config.notify.channels) {
      if (!channel.events.includes(event.kind)) continue;
      const admitted = this.quiet.admit(`${channel.name}\n${event.kind}\n${event.subject}`);
      if (!admitted) {
        this.messages.inc({ channel: channel.name, outcome: 'held' });
        continue;
      }
      const delivery = this.deliver(channel, full, admitted.heldBack).finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  private async deliver(channel: NotifyChannel, event: NotifyEvent, heldBack: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Signed anew at each attempt: the robots refuse a timestamp older than an hour (DingTalk) or so.
      const outgoing = requestFor(channel, event, heldBack, Date.now());
      let problem: string | null;
      try {
        const response = await request(outgoing.url, { method: 'POST', headers: outgoing.headers, body: outgoing.body, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS, signal: this.abort.signal });
        problem = refusalOf(response.statusCode, await response.body.text());
      } catch (error) {
        if (this.abort.signal.aborted) return;
        problem = (error as Error).message;
      }
      if (problem === null) {
        this.messages.inc({ channel: channel.name, outcome: 'sent' });
        this.log.info({ channel: channel.name, event: event.kind, subject: event.subject, attempt }, 'notification sent');
        return;
      }
      if (attempt >= this.config.notify.attempts) {
        this.messages.inc({ channel: channel.name, outcome: 'failed' });
        this.log.error({ channel: channel.name, event: event.kind, subject: event.subject, attempts: attempt, problem }, 'notification not delivered');
        return;
      }
      this.messages.inc({ channel: channel.name, outcome: 'retried' });
      this.log.warn({ channel: channel.name, event: event.kind, attempt, problem }, 'notification refused; retrying');
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, BACKOFF)).unref());
    }
  }

  onModuleDestroy(): void {
    this.abort.abort();
  }
}

import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { request } from 'undici';
import { backoffDelay } from '../common/backoff.js';
import { InjectLogger } from '../common/core.module.js';
import { Metrics } from '../common/metrics.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { ChannelsService, type Recipient } from './channels.service.js';
import { ChannelDestinations, INTERNAL_ADDRESS } from './destinations.js';
import { emailFor, refusalOf, requestFor, type NotifyEvent } from './formats.js';
import { MAILER, NO_SMTP, type Attempt, type Mailer } from './mailer.js';
import { QuietWindow } from './quiet-window.js';

const BACKOFF = { firstMs: 1000, maxMs: 60_000 };
const TIMEOUT_MS = 10_000;

/**
 * Tells people about events: the one place that decides who gets what. Every channel (config, team,
 * personal) that chose the event gets one message per event and subject per quiet window, retried with
 * backoff until it is taken or refused for good.
 */
@Injectable()
export class Notifier implements OnModuleDestroy {
  private readonly log: Logger;
  private readonly quiet: QuietWindow;
  private readonly abort = new AbortController();
  private readonly messages: Counter<'channel' | 'outcome'>;
  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    private readonly channels: ChannelsService,
    @Inject(MAILER) private readonly mailer: Mailer | null,
    private readonly destinations: ChannelDestinations,
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
    void this.channels.recipients().then((recipients) => {
      for (const recipient of recipients) {
        if (!recipient.channel.events.includes(event.kind as never)) continue;
        const admitted = this.quiet.admit(`${recipient.key}\n${event.kind}\n${event.subject}`);
        if (!admitted) {
          this.messages.inc({ channel: recipient.label, outcome: 'held' });
          continue;
        }
        void this.deliver(recipient, full, admitted.heldBack);
      }
    });
  }

  /** One try, now, outside the quiet window: the console's "send a test message". */
  async test(recipient: Recipient, by: string): Promise<Attempt> {
    const event: NotifyEvent = { kind: 'test', subject: recipient.channel.name, message: `a test message, sent by ${by} from the dozen console`, host: this.config.host.name, at: Date.now() };
    const attempt = await this.attempt(recipient, event, 0);
    this.log.info({ channel: recipient.label, by, problem: attempt?.problem }, attempt ? 'test message not delivered' : 'test message sent');
    return attempt;
  }

  private async deliver(recipient: Recipient, event: NotifyEvent, heldBack: number): Promise<void> {
    const channel = recipient.label;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(recipient, event, heldBack);
      if (this.abort.signal.aborted) return;
      if (outcome === null) {
        this.messages.inc({ channel, outcome: 'sent' });
        this.log.info({ channel, event: event.kind, subject: event.subject, attempt }, 'notification sent');
        return;
      }
      if (attempt >= this.config.notify.attempts || !outcome.retry) {
        this.messages.inc({ channel, outcome: 'failed' });
        this.log.error({ channel, event: event.kind, subject: event.subject, attempts: attempt, problem: outcome.problem }, 'notification not delivered');
        return;
      }
      this.messages.inc({ channel, outcome: 'retried' });
      this.log.warn({ channel, event: event.kind, attempt, problem: outcome.problem }, 'notification refused; retrying');
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, BACKOFF)).unref());
    }
  }

  private async attempt({ channel, publicOnly }: Recipient, event: NotifyEvent, heldBack: number): Promise<Attempt> {
    if (channel.type === 'email') {
      if (!this.mailer) return { problem: NO_SMTP, retry: false };
      const { subject, text } = emailFor(event, heldBack);
      return this.mailer.send(channel.to, subject, text);
    }
    // Signed anew at each attempt: the robots refuse a timestamp older than an hour (DingTalk) or so.
    const outgoing = requestFor(channel, event, heldBack, Date.now());
    const internal = publicOnly ? this.destinations.literalRefusal(outgoing.url) : null;
    if (internal) return { problem: internal, retry: false };
    try {
      const response = await request(outgoing.url, {
        method: 'POST', headers: outgoing.headers, body: outgoing.body, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS, signal: this.abort.signal,
        // A channel made through the API connects only to the address its lookup checked (destinations.ts).
        ...(publicOnly ? { dispatcher: this.destinations.dispatcher } : {}),
      });
      const problem = refusalOf(response.statusCode, await response.body.text());
      return problem === null ? null : { problem, retry: true };
    } catch (error) {
      // An internal address is refused for good; anything else may pass (a robot's host down for a minute).
      return { problem: (error as Error).message, retry: (error as { code?: string }).code !== INTERNAL_ADDRESS };
    }
  }

  onModuleDestroy(): void {
    this.abort.abort();
    // The module's one transport (MAILER), closed once, here; address codes go out through it too.
    this.mailer?.close();
    void this.destinations.close();
  }
}

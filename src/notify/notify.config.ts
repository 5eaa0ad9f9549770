import { z } from 'zod';
import { secret } from '../config/secret.js';
import { targetRange } from './destinations.js';

export const NOTIFY_EVENTS = [
  'module.down', 'module.up', 'deploy.succeeded', 'deploy.failed', 'instance.crashed', 'instance.lost', 'host.silent', 'certificate.renewal_failed',
] as const;
export type NotifyEventKind = (typeof NOTIFY_EVENTS)[number];

export const HTTP_CHANNEL_TYPES = ['webhook', 'dingtalk', 'feishu', 'wecom'] as const;
export const CHANNEL_TYPES = [...HTTP_CHANNEL_TYPES, 'email'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export const channelName = z.string().min(1).max(64);
export const channelEvents = z.array(z.enum(NOTIFY_EVENTS, { error: `expected events among ${NOTIFY_EVENTS.join(', ')}` }));
export const channelUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
/** One address or several; each must look like an address (the SMTP server has the last word). */
export const emailAddresses = z.array(z.email({ error: 'expected an email address (name@example.com)' })).min(1, 'expected at least one address').max(20);

const httpChannel = z.strictObject({
  /** A name for logs and for the people who chose it. */
  name: channelName,
  /** `webhook`: generic JSON, signed with HMAC-SHA256; `dingtalk`, `feishu`, `wecom`: the group-chat robots' formats and signing. */
  type: z.enum(HTTP_CHANNEL_TYPES),
  url: channelUrl,
  /** The signing secret (webhook, DingTalk "加签", Feishu "签名校验"); WeCom robots carry their key in the URL. */
  secret: secret().optional(),
  /** The events this channel receives; all of them by default. */
  events: channelEvents.default([...NOTIFY_EVENTS]),
});

const emailChannel = z.strictObject({
  name: channelName,
  /** Mail through `notify.smtp`. */
  type: z.literal('email'),
  to: emailAddresses,
  events: channelEvents.default([...NOTIFY_EVENTS]),
});

const channel = z.discriminatedUnion('type', [httpChannel, emailChannel]);
export type NotifyHttpChannel = z.output<typeof httpChannel>;
export type NotifyEmailChannel = z.output<typeof emailChannel>;
/** A channel as the Notifier sends to it, from config or from the database. */
export type NotifyChannel = NotifyHttpChannel | NotifyEmailChannel;

const smtp = z.strictObject({
  host: z.string().min(1),
  /** 587 (submission, STARTTLS) by default; 465 with `secure`. */
  port: z.number().int().min(1).max(65535).default(587),
  /** TLS from the first byte (port 465). */
  secure: z.boolean().default(false),
  /** true: refuse to send unless the server offers STARTTLS; false: never upgrade; unset: upgrade when offered. */
  startTls: z.boolean().optional(),
  username: z.string().min(1).optional(),
  password: secret().optional(),
  /** The sender: `dozen <dozen@example.com>` or an address. */
  from: z.string().min(3),
});
export type SmtpConfig = z.output<typeof smtp>;

export const notifyConfig = z
  .strictObject({
    channels: z.array(channel).default([]),
    /** Where `email` channels send through; unset: no email channels. */
    smtp: smtp.optional(),
    /** Attempts per message, with backoff (jittered, doubling from 1 s up to 60 s). */
    attempts: z.number().int().min(1).max(20).default(5),
    /** One message per event and subject per channel within this window; the ones held back are counted in the next. */
    quietSeconds: z.number().positive().default(300),
    /** How often module health is checked for changes. */
    healthCheckSeconds: z.number().positive().default(30),
    /**
     * Internal addresses (or CIDR blocks) that channels made through the API may reach all the same: an
     * in-house chat server on the private network. Loopback, private, link-local and reserved addresses
     * are refused otherwise; the config's own channels may reach anything.
     */
    allowPrivateTargets: z.array(targetRange).default([]),
  })
  .prefault({});

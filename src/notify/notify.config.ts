import { z } from 'zod';
import { secret } from '../config/secret.js';

export const NOTIFY_EVENTS = ['module.down', 'module.up', 'deploy.succeeded', 'deploy.failed', 'instance.crashed'] as const;
export type NotifyEventKind = (typeof NOTIFY_EVENTS)[number];

const channel = z.strictObject({
  /** A name for logs and for the people who chose it. */
  name: z.string().min(1).max(64),
  /** `webhook`: generic JSON, signed with HMAC-SHA256; `dingtalk`, `feishu`, `wecom`: the group-chat robots' formats and signing. */
  type: z.enum(['webhook', 'dingtalk', 'feishu', 'wecom']),
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** The signing secret (webhook, DingTalk "加签", Feishu "签名校验"); WeCom robots carry their key in the URL. */
  secret: secret().optional(),
  /** The events this channel receives; all of them by default. */
  events: z.array(z.enum(NOTIFY_EVENTS)).default([...NOTIFY_EVENTS]),
});
export type NotifyChannel = z.output<typeof channel>;

export const notifyConfig = z
  .strictObject({
    channels: z.array(channel).default([]),
    /** Attempts per message, with backoff (jittered, doubling from 1 s up to 60 s). */
    attempts: z.number().int().min(1).max(20).default(5),
    /** One message per event and subject per channel within this window; the ones held back are counted in the next. */
    quietSeconds: z.number().positive().default(300),
    /** How often module health is checked for changes. */
    healthCheckSeconds: z.number().positive().default(30),
  })
  .default({ channels: [], attempts: 5, quietSeconds: 300, healthCheckSeconds: 30 });

import { createHmac } from 'node:crypto';
import type { NotifyEventKind, NotifyHttpChannel } from './notify.config.js';

/** Something that happened, to be told to people. */
export interface NotifyEvent {
  /** `test`: the message a person sends from the console to try a channel. */
  kind: NotifyEventKind | 'test';
  /** What it is about: a module name, an app, an instance. */
  subject: string;
  /** One line in words. */
  message: string;
  host: string;
  at: number;
  detail?: Record<string, unknown>;
}

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The text the chat robots show. */
export function text(event: NotifyEvent, heldBack: number): string {
  const more = heldBack > 0 ? ` (${heldBack} more like it held back)` : '';
  return `[dozen ${event.host}] ${event.kind} ${event.subject}: ${event.message}${more}`;
}

/**
 * The HTTP request that tells one channel about one event, in the channel's own format and signing:
 * - webhook: `{event, subject, message, host, at, detail, heldBack}`; with a secret,
 *   `x-dozen-signature: sha256=<hex HMAC-SHA256(secret, "<x-dozen-timestamp>.<body>")>`.
 * - DingTalk custom robot: `{msgtype: "text", text: {content}}`; signed by `timestamp` (ms) and
 *   `sign` = base64(HMAC-SHA256(key secret, "<timestamp>\n<secret>")) added to the URL.
 * - Feishu/Lark custom bot: `{timestamp (s), sign, msg_type: "text", content: {text}}`, where
 *   sign = base64(HMAC-SHA256(key "<timestamp>\n<secret>", empty message)).
 * - WeCom group robot: `{msgtype: "text", text: {content}}`; its key is in the URL, no signature.
 */
export function requestFor(channel: NotifyHttpChannel, event: NotifyEvent, heldBack: number, now: number): OutgoingRequest {
  const json = { 'content-type': 'application/json' };
  switch (channel.type) {
    case 'webhook': {
      const body = JSON.stringify({ event: event.kind, subject: event.subject, message: event.message, host: event.host, at: new Date(event.at).toISOString(), detail: event.detail ?? {}, heldBack });
      const timestamp = String(Math.floor(now / 1000));
      const signature: Record<string, string> = channel.secret ? { 'x-dozen-timestamp': timestamp, 'x-dozen-signature': `sha256=${createHmac('sha256', channel.secret).update(`${timestamp}.${body}`).digest('hex')}` } : {};
      return { url: channel.url, headers: { ...json, ...signature }, body };
    }
    case 'dingtalk': {
      const url = new URL(channel.url);
      if (channel.secret) {
        const timestamp = String(now);
        url.searchParams.set('timestamp', timestamp);
        url.searchParams.set('sign', createHmac('sha256', channel.secret).update(`${timestamp}\n${channel.secret}`).digest('base64'));
      }
      return { url: url.toString(), headers: json, body: JSON.stringify({ msgtype: 'text', text: { content: text(event, heldBack) } }) };
    }
    case 'feishu': {
      const timestamp = String(Math.floor(now / 1000));
      const signature = channel.secret ? { timestamp, sign: createHmac('sha256', `${timestamp}\n${channel.secret}`).update('').digest('base64') } : {};
      return { url: channel.url, headers: json, body: JSON.stringify({ ...signature, msg_type: 'text', content: { text: text(event, heldBack) } }) };
    }
    case 'wecom':
      return { url: channel.url, headers: json, body: JSON.stringify({ msgtype: 'text', text: { content: text(event, heldBack) } }) };
  }
}

/** An email about one event: the subject is the chat robots' line, the body adds the when and the details. */
export function emailFor(event: NotifyEvent, heldBack: number): { subject: string; text: string } {
  const detail = event.detail && Object.keys(event.detail).length ? `\n\nDetails:\n${JSON.stringify(event.detail, null, 2)}` : '';
  const more = heldBack > 0 ? `\n\n${heldBack} more messages like it were held back since the last one.` : '';
  return {
    subject: `[dozen ${event.host}] ${event.kind} ${event.subject}`,
    text: `${event.message}\n\nEvent: ${event.kind}\nAbout: ${event.subject}\nHost: ${event.host}\nAt: ${new Date(event.at).toISOString()}${more}${detail}\n`,
  };
}

/**
 * Why a channel's answer is a failure, or null when it took the message. The robots answer 200 with an
 * error code in the body: DingTalk and WeCom `errcode`, Feishu `code` (older bots `StatusCode`).
 */
export function refusalOf(status: number, body: string): string | null {
  if (status < 200 || status >= 300) return `HTTP ${status}`;
  let parsed: { errcode?: number; code?: number; StatusCode?: number; errmsg?: string; msg?: string } = {};
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  const code = parsed.errcode ?? parsed.code ?? parsed.StatusCode ?? 0;
  return code === 0 ? null : `error ${code}: ${parsed.errmsg ?? parsed.msg ?? ''}`.trim();
}

import { createTransport, type Transporter } from 'nodemailer';
import type { SmtpConfig } from './notify.config.js';

/** What one try at sending came to: null when taken, else why not and whether trying again may help. */
export type Attempt = null | { problem: string; retry: boolean };

/** The notify module's one Mailer (null without `notify.smtp`): events and address codes go out through the same transport. */
export const MAILER = Symbol('dozen.mailer');

/** Why nothing is mailed on a host without `notify.smtp`. */
export const NO_SMTP = 'email needs notify.smtp in the config of this host';

const TIMEOUT_MS = 10_000;

/**
 * Email over SMTP (nodemailer): one pooled-free transport for `notify.smtp`. An answer in 4xx (the server
 * is busy, greylisting) and a connection that fails are worth another try; a 5xx (no such mailbox, relay
 * refused, AUTH refused) is not.
 */
export class Mailer {
  private readonly transport: Transporter;

  constructor(private readonly smtp: SmtpConfig) {
    this.transport = createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      ...(smtp.startTls === true ? { requireTLS: true } : smtp.startTls === false ? { ignoreTLS: true } : {}),
      ...(smtp.username ? { auth: { user: smtp.username, pass: smtp.password ?? '' } } : {}),
      connectionTimeout: TIMEOUT_MS,
      greetingTimeout: TIMEOUT_MS,
      socketTimeout: TIMEOUT_MS,
    });
  }

  async send(to: string[], subject: string, text: string): Promise<Attempt> {
    try {
      const info = await this.transport.sendMail({ from: this.smtp.from, to, subject, text });
      // Some recipients taken, others refused: the refused ones will not start working by themselves.
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length) return { problem: `the SMTP server refused ${rejected.join(', ')}${refusalReason(info as { rejectedErrors?: { response?: string }[] })}`, retry: false };
      return null;
    } catch (error) {
      const failure = error as Error & { responseCode?: number; response?: string; code?: string; rejected?: string[] };
      const code = failure.responseCode;
      const who = failure.rejected?.length ? `refused ${failure.rejected.join(', ')}: ` : '';
      const said = failure.response ?? failure.message;
      return { problem: `SMTP ${failure.code ?? 'error'}: ${who}${said}`.replace(/\s+/g, ' ').trim(), retry: code === undefined || (code >= 400 && code < 500) };
    }
  }

  close(): void {
    this.transport.close();
  }
}

function refusalReason(info: { rejectedErrors?: { response?: string }[] }): string {
  const response = info.rejectedErrors?.[0]?.response;
  return response ? `: ${response}` : '';
}

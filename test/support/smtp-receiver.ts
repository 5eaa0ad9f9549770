import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { makeTestCa, type TestCa } from './test-ca.js';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  /** The text body, quoted-printable undone. */
  text: string;
  /** Whether the session was TLS (STARTTLS) when the message came. */
  secure: boolean;
  user: string | null;
}

export interface SmtpReceiver {
  port: number;
  /** The root that signed the receiver's certificate (for NODE_EXTRA_CA_CERTS). */
  caFile: string;
  username: string;
  password: string;
  messages: ReceivedMail[];
  /** Refuses (at DATA) the next `count` messages with `code`, as a busy or greylisting server does. */
  refuseNext(count: number, code?: number): void;
  /** How many messages were refused so far. */
  refused: number;
  stop(): Promise<void>;
}

/** Addresses at this domain do not exist: RCPT TO answers 550. */
export const NO_SUCH_DOMAIN = 'nowhere.test';

/**
 * A local SMTP receiver (smtp-server) on 127.0.0.1: STARTTLS with a throwaway certificate for
 * "localhost"/127.0.0.1, AUTH PLAIN/LOGIN required (and only over TLS), 550 for any address at
 * NO_SUCH_DOMAIN. Keeps every message it takes.
 */
export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const ca: TestCa = makeTestCa('dozen SMTP test CA');
  const leaf = ca.issue(['127.0.0.1', 'localhost']);
  const username = 'dozen-mailer';
  const password = 'mailer-password-1';
  const receiver: SmtpReceiver = {
    port: 0, caFile: ca.caFile, username, password, messages: [], refused: 0,
    refuseNext: (count, code = 451) => {
      pendingRefusals = { count, code };
    },
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ca.remove();
    },
  };
  let pendingRefusals = { count: 0, code: 451 };
  const options: SMTPServerOptions = {
    key: leaf.keyPem,
    cert: leaf.certPem,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === username && auth.password === password) return callback(null, { user: username });
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith(`@${NO_SUCH_DOMAIN}`)) return callback(Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected: no such user`), { responseCode: 550 }));
      return callback();
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (raw += chunk));
      stream.on('end', () => {
        if (pendingRefusals.count > 0) {
          pendingRefusals.count--;
          receiver.refused++;
          return callback(Object.assign(new Error('4.3.2 Try again later'), { responseCode: pendingRefusals.code }));
        }
        receiver.messages.push({ ...parse(raw), from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((rcpt) => rcpt.address), secure: session.secure, user: (session.user as string | undefined) ?? null });
        callback();
      });
    },
  };
  const server = new SMTPServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  receiver.port = (server.server.address() as { port: number }).port;
  return receiver;
}

/** The env that points dozen at the receiver: STARTTLS required, AUTH, the receiver's root trusted. */
export function smtpEnv(receiver: SmtpReceiver): Record<string, string> {
  return {
    NODE_EXTRA_CA_CERTS: receiver.caFile,
    DOZEN_NOTIFY_SMTP_HOST: '127.0.0.1',
    DOZEN_NOTIFY_SMTP_PORT: String(receiver.port),
    DOZEN_NOTIFY_SMTP_START_TLS: 'true',
    DOZEN_NOTIFY_SMTP_USERNAME: receiver.username,
    DOZEN_NOTIFY_SMTP_PASSWORD: receiver.password,
    DOZEN_NOTIFY_SMTP_FROM: 'dozen <dozen@example.com>',
  };
}

/** The subject and the text of a single-part message as nodemailer writes it (7bit or quoted-printable). */
function parse(raw: string): { subject: string; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(split + 4);
  const subject = /^Subject: (.*)$/im.exec(head)?.[1] ?? '';
  const quoted = /^Content-Transfer-Encoding: quoted-printable/im.test(head);
  const text = quoted ? Buffer.from(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8') : body;
  return { subject, text: text.replace(/\r\n/g, '\n') };
}

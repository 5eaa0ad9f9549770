import { createServer } from 'node:http';

/** What dozen's generic webhook channel posts (src/notify), as the tests read it. */
export interface Notified {
  event: string;
  subject: string;
  message: string;
  host: string;
  detail: Record<string, unknown>;
  heldBack: number;
}

export interface NotificationReceiver {
  url: string;
  /** Every delivery's body, in the order they came. */
  notified: Notified[];
  close(): void;
}

/** A webhook channel's receiver on 127.0.0.1: each delivery's body lands in `notified`. */
export async function notificationReceiver(): Promise<NotificationReceiver> {
  const notified: Notified[] = [];
  const server = createServer((incoming, response) => {
    let body = '';
    incoming.on('data', (chunk) => (body += chunk));
    incoming.on('end', () => {
      notified.push(JSON.parse(body) as Notified);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, notified, close: () => server.close() };
}

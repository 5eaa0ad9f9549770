import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** `Bad Gateway` for 502: Node's table of reason phrases. */
export function reasonOf(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** Answers on a raw socket with a JSON error and closes it (bad heads, refused upgrades). */
export function refuse(socket: Duplex, status: number, error: string, message: string, extra: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error, message });
  const head = [`HTTP/1.1 ${status} ${reasonOf(status)}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
  for (const [name, value] of Object.entries(extra)) head.push(`${name}: ${value}`);
  socket.end(head.join('\r\n') + '\r\n\r\n' + body);
}

import { once } from 'node:events';
import { createRequire } from 'node:module';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** One message as the backend's own parser (llhttp, strict, as Node's http server) read it. */
export interface Recorded {
  /** Which backend connection carried it (0, 1, ...). */
  connection: number;
  method: string;
  url: string;
  /** [name, value, ...] as received. */
  headers: string[];
  body: Buffer;
  /** The value of a header (first one, any case), or undefined. */
  header(name: string): string | undefined;
}

export interface RecordingBackend {
  port: number;
  server: Server;
  /** Every byte received, per connection, in order. */
  bytes: Buffer[][];
  messages: Recorded[];
  /** All bytes of all connections as latin1 text (for "never saw X" checks). */
  text(): string;
  close(): Promise<void>;
}

interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  [slot: number]: unknown;
}
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser: { new (): Parser; REQUEST: number; kOnHeaders: number; kOnHeadersComplete: number; kOnBody: number; kOnMessageComplete: number; kLenientNone: number }; methods: string[] };
const { methods } = createRequire(import.meta.url)('_http_common') as { methods: string[] };

/**
 * A backend that records exactly the bytes it receives and the messages a
 * strict HTTP/1.1 parser reads from them, and answers each message with
 * 200 JSON naming what it read (`answer` may write something else). A
 * request smuggled inside a body shows up here as a message of its own.
 */
export async function startRecordingBackend(answer?: (message: Recorded, socket: Socket) => boolean): Promise<RecordingBackend> {
  const bytes: Buffer[][] = [];
  const messages: Recorded[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const connection = bytes.length;
    const received: Buffer[] = [];
    bytes.push(received);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, 64 * 1024, HTTPParser.kLenientNone);
    let pieces: string[] = [];
    let url = '';
    let current: Recorded | null = null;
    let chunks: Buffer[] = [];
    parser[HTTPParser.kOnHeaders] = (headers: string[], part: string) => {
      pieces.push(...headers);
      url += part;
    };
    parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, headers: string[] | undefined, method: number, target: string | undefined) => {
      const raw = headers ?? pieces;
      current = { connection, method: methods[method], url: target ?? url, headers: raw, body: Buffer.alloc(0), header: (name) => headerOf(raw, name) };
      pieces = [];
      url = '';
      chunks = [];
      return 0;
    };
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => chunks.push(Buffer.from(chunk));
    parser[HTTPParser.kOnMessageComplete] = () => {
      const message = current!;
      message.body = Buffer.concat(chunks);
      messages.push(message);
      if (answer?.(message, socket)) return;
      const body = JSON.stringify({ method: message.method, url: message.url, bodyLength: message.body.length, connection, index: messages.length - 1 });
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      const result = parser.execute(chunk);
      if (typeof result !== 'number') socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    server,
    bytes,
    messages,
    text: () => bytes.map((connection) => Buffer.concat(connection).toString('latin1')).join('\n--- next connection ---\n'),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function headerOf(raw: string[], name: string): string | undefined {
  for (let index = 0; index < raw.length; index += 2) if (raw[index].toLowerCase() === name) return raw[index + 1];
  return undefined;
}

/** One answer read off a client connection. */
export interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A client connection on a raw socket: `send` writes bytes as they are,
 * `next` waits for the next whole response (Content-Length or chunked
 * framed), `closed` for the proxy to close.
 */
export class RawClient {
  private text = '';
  private ended = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  send(bytes: string): void {
    this.socket.write(bytes, 'latin1');
  }

  /** The next response, or null when the connection closed first; fails after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<Response | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = this.take();
      if (response) return response;
      if (this.ended) return null;
      if (Date.now() > deadline) throw new Error(`no whole response in ${timeoutMs} ms; received so far: ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the proxy to close the connection; what it sent and no one took is returned. */
  async closed(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`the proxy did not close the connection in ${timeoutMs} ms; received: ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.text;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private take(): Response | null {
    const end = this.text.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const [statusLine, ...lines] = this.text.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const status = Number(statusLine.split(' ')[1]);
    let rest = this.text.slice(end + 4);
    let body = '';
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (rest.length < length) return null;
      body = rest.slice(0, length);
      rest = rest.slice(length);
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        if (lineEnd < 0) return null;
        const size = parseInt(rest.slice(0, lineEnd), 16);
        if (rest.length < lineEnd + 2 + size + 2) return null;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        rest = rest.slice(lineEnd + 2 + size + 2);
        if (size === 0) break;
      }
    } else if (status !== 101 && status !== 204 && status !== 304 && !(status >= 100 && status < 200)) {
      if (!this.ended) return null;
      body = rest;
      rest = '';
    }
    this.text = rest;
    return { status, headers, body };
  }
}

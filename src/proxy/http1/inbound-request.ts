import type { Socket } from 'node:net';
import type { Http1Io } from './io.js';
import type { PlainResponse } from './plain-response.js';
import { reasonOf } from './refuse.js';
import type { RequestHead } from './request-head.js';

/**
 * How a response body is delimited towards the client: by its Content-Length,
 * by chunks (the backend's length is unknown and the client speaks 1.1), by
 * closing the connection (unknown length to a 1.0 client), or not at all
 * (HEAD, 204, 304).
 */
export type Framing = 'length' | 'chunked' | 'close' | 'none';

/** Where a request body goes once a backend takes it; `chunk` returns false to ask for a pause. */
export interface BodySink {
  chunk(data: Buffer): boolean;
  end(): void;
}

/** What the owning connection does for a request; kept narrow so the request is testable alone. */
export interface RequestConnection {
  readonly socket: Socket;
  readonly io: Http1Io;
  pause(): void;
  resume(): void;
  responded(request: InboundRequest, keepOpen: boolean): void;
}

/**
 * One client request being served: its head, its body as it arrives, and the
 * writing of its response on the client socket. Body bytes that arrive before
 * a backend takes them are held (the socket is paused meanwhile), which also
 * lets a request whose backend refused the connection be sent elsewhere whole.
 */
export class InboundRequest {
  /** A handler has begun serving it: a broken body from here on cuts the connection. */
  started = false;
  headSent = false;
  /** Since when (ms) the response waits for the client to read, 0 when it does not (a client stalled past the keep-alive timeout is cut). */
  waitingSince = 0;
  /** Some body bytes went to a backend: the request can no longer be sent to another one. */
  bodyRead = false;
  /** Told once if the client goes away before the response ended, or its body turned out malformed (`badBody`). */
  clientCloseListener: { clientGone(badBody?: boolean): void } | null = null;
  private held: Buffer[] | null = null;
  /** Set while a small body is read whole before a backend is asked (`bufferBody`): called once it is. */
  private buffering: (() => void) | null = null;
  private bodyComplete: boolean;
  private sink: BodySink | null = null;
  private framing: Framing = 'none';
  /** The response head, held until the first body bytes (or the end) so both leave in one write. */
  private heldHead: string | null = null;
  private closeAfter = false;
  private ended = false;

  constructor(
    readonly head: RequestHead,
    private readonly connection: RequestConnection,
  ) {
    this.bodyComplete = head.body === 'none';
  }

  get socket(): Socket {
    return this.connection.socket;
  }

  get finished(): boolean {
    return this.ended;
  }

  receiveBody(chunk: Buffer): void {
    if (this.ended) return; // answered already: the rest of the body is not wanted
    if (this.sink) {
      this.bodyRead = true;
      if (!this.sink.chunk(chunk)) this.connection.pause();
      return;
    }
    (this.held ??= []).push(chunk);
    if (!this.buffering) this.connection.pause();
  }

  receiveEnd(): void {
    this.bodyComplete = true;
    if (this.sink && !this.ended) this.sink.end();
    const whole = this.buffering;
    this.buffering = null;
    if (whole && !this.ended) whole();
  }

  /**
   * Reads a body of at most `limit` bytes (a Content-Length) whole before `whole` is called, so that a
   * backend connection is taken only once it can be sent at once: a client sending its body slowly held a
   * connection of the app's pool for as long as it liked, and a few hundred such clients held them all
   * (nginx reads the whole body first). False, and nothing changes, for no body, a chunked or larger one,
   * or one already read.
   */
  bufferBody(limit: number, whole: () => void): boolean {
    if (this.bodyComplete || this.head.body !== 'length' || Number(this.head.contentLength) > limit) return false;
    this.buffering = whole;
    // A first chunk held before this paused the socket.
    if (this.held) this.connection.resume();
    return true;
  }

  /** Streams the body to `sink`, held bytes first. */
  readBody(sink: BodySink): void {
    this.sink = sink;
    let flowing = true;
    if (this.held) {
      for (const chunk of this.held) flowing = sink.chunk(chunk) && flowing;
      this.bodyRead = true;
      this.held = null;
    }
    if (this.bodyComplete) sink.end();
    else if (flowing) this.connection.resume();
  }

  /** The sink drained: read on. */
  resumeBody(): void {
    this.connection.resume();
  }

  /** The sink failed before any byte reached it: hold the body again for the next backend. */
  detachBody(): void {
    this.sink = null;
  }

  /** Answers `Expect: 100-continue` (after auth passed), so the client starts sending its body. */
  sendContinue(): void {
    if (!this.head.http10 && !this.headSent && this.head.headers.expect?.toLowerCase() === '100-continue') this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  }

  /** Writes the status line, `lines` (each ending in CRLF) and the framing and connection headers. */
  sendHead(status: number, reason: string, lines: string, framing: Framing): void {
    const connection = this.startResponse(framing);
    let head = `HTTP/1.1 ${status} ${reason}\r\n${lines}`;
    if (framing === 'chunked') head += 'transfer-encoding: chunked\r\n';
    this.heldHead = head + connection + '\r\n';
  }

  /** The response's head is decided: whether the connection stays open after it, and the Connection line that says so (or none). */
  private startResponse(framing: Framing): string {
    this.headSent = true;
    this.framing = framing;
    // A body still arriving would be read as the next request: close after this response instead.
    this.closeAfter = !this.head.keepAlive || framing === 'close' || !this.bodyComplete;
    return this.closeAfter ? 'connection: close\r\n' : this.head.http10 ? 'connection: keep-alive\r\n' : '';
  }

  /**
   * Writes a whole response the backend sent in one read: its status code and
   * reason, kept header lines and body are copied from `bytes` as they lie,
   * with `extraLines` and the connection header, in one write.
   */
  sendPlain(response: PlainResponse, bytes: Buffer, extraLines: string): void {
    const tail = extraLines + this.startResponse('length') + '\r\n';
    const bodyLength = response.bodyEnd - response.bodyStart;
    const out = Buffer.allocUnsafe(STATUS_LINE_START.length + response.keptBytes + tail.length + bodyLength);
    let at = STATUS_LINE_START.copy(out, 0);
    const kept = response.kept;
    for (let index = 0; index < kept.length; index += 2) at += bytes.copy(out, at, kept[index], kept[index + 1]);
    at += out.write(tail, at, 'latin1');
    bytes.copy(out, at, response.bodyStart, response.bodyEnd);
    this.connection.io.write(this.socket, out);
  }

  /** Writes body bytes (with the held head, if any, in the same write); false when the client's buffer is full (wait for `whenDrained`). */
  write(chunk: Buffer): boolean {
    const chunked = this.framing === 'chunked';
    const before = (this.heldHead ?? '') + (chunked ? chunk.length.toString(16) + '\r\n' : '');
    const after = chunked ? '\r\n' : '';
    this.heldHead = null;
    if (!before) return this.socket.write(chunk);
    if (chunk.length <= JOIN_LIMIT) return this.socket.write(joined(before, chunk, after));
    this.socket.cork();
    this.socket.write(before, 'latin1');
    let flowing = this.socket.write(chunk);
    if (after) flowing = this.socket.write(after, 'latin1');
    this.socket.uncork();
    return flowing;
  }

  whenDrained(resume: () => void): void {
    this.waitingSince = Date.now();
    this.socket.once('drain', () => {
      this.waitingSince = 0;
      resume();
    });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.clientCloseListener = null;
    const tail = this.framing === 'chunked' ? '0\r\n\r\n' : '';
    if (this.heldHead !== null || tail) this.socket.write((this.heldHead ?? '') + tail, 'latin1');
    this.heldHead = null;
    this.connection.responded(this, !this.closeAfter && this.bodyComplete);
  }

  /** A whole JSON answer from the proxy itself (errors, refusals). */
  reply(status: number, body: string, extraLines = '', contentType = 'application/json'): void {
    this.sendHead(status, reasonOf(status), `content-type: ${contentType}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extraLines}`, 'length');
    this.write(Buffer.from(body));
    this.end();
  }

  /** Cuts the connection: the only honest signal once part of a response is out. */
  destroy(): void {
    this.ended = true;
    this.socket.destroy();
  }

  /** The body turned out malformed before any answer went out: whoever serves it lets go (the connection answers 400). */
  abandon(): void {
    if (this.ended) return;
    this.ended = true;
    const listener = this.clientCloseListener;
    this.clientCloseListener = null;
    listener?.clientGone(true);
  }

  clientClosed(): void {
    if (this.ended) return;
    this.ended = true;
    const listener = this.clientCloseListener;
    this.clientCloseListener = null;
    listener?.clientGone();
  }
}

/** What the client's status line starts with, whatever version the backend spoke. */
const STATUS_LINE_START = Buffer.from('HTTP/1.1 ', 'latin1');

/** Small body chunks are copied next to their head and framing, so they leave in one write; larger ones are not copied. */
const JOIN_LIMIT = 16 * 1024;

function joined(before: string, chunk: Buffer, after: string): Buffer {
  const out = Buffer.allocUnsafe(before.length + chunk.length + after.length);
  out.write(before, 0, 'latin1');
  chunk.copy(out, before.length);
  if (after) out.write(after, before.length + chunk.length, 'latin1');
  return out;
}

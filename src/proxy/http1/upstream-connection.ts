import type { OnReadOpts, Socket } from 'node:net';
import type { Http1Io, Http1Parser, ParseError, ParserOwner } from './io.js';
import { keepAliveSecondsOf } from '../headers.js';
import { PlainResponse } from './plain-response.js';
import { Sweep } from './sweep.js';

/** Why a backend exchange failed, as the access log and the metrics name it. */
export type UpstreamFailure =
  | 'connect_refused'
  | 'connect_timeout'
  | 'unreachable'
  | 'headers_timeout'
  | 'idle_timeout'
  | 'reset'
  | 'bad_response'
  | 'upstream_error';

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The side of an exchange that receives a backend's response. */
export interface ResponseHandler {
  /** False for an answer to HEAD, whose Content-Length describes no body: llhttp reads it. */
  readonly plainAllowed: boolean;
  /** A whole response in one read (see PlainResponse), in `bytes` until this call returns. */
  responsePlain(response: PlainResponse, bytes: Buffer): void;
  /** Returns SKIP_BODY when the request was HEAD (the response has no body whatever its headers say). */
  responseHead(status: number, reason: string, rawHeaders: string[]): number;
  responseBody(chunk: Buffer): void;
  /** `reusable`: the backend keeps the connection open for another request. */
  responseEnd(reusable: boolean): void;
  upstreamFailed(error: UpstreamError): void;
}

export interface ConnectionOwner {
  /** The connection closed (whatever the reason): forget it. */
  closed(connection: UpstreamConnection): void;
}

/**
 * Every backend connection of the process reads into this one buffer (net's
 * `onread`): a read is used up before the next, and llhttp copies what it
 * hands on. Pass to `net.connect` for sockets that become UpstreamConnections.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const plain = new PlainResponse();
const CONNECTION = Symbol('dozen.upstreamConnection');
type OwnedSocket = Socket & { [CONNECTION]?: UpstreamConnection };

export const UPSTREAM_READS: OnReadOpts = {
  buffer: READ_BUFFER,
  callback(this: OwnedSocket, bytes: number): boolean {
    this[CONNECTION]?.received(bytes);
    return true;
  },
};

/** Deadlines of backend connections are checked by one sweep; a timeout fires up to two sweeps late, never early. */
const SWEEP_MS = 100;
const sweep = new Sweep<UpstreamConnection>(SWEEP_MS, (connection, now) => connection.checkDeadline(now));

/**
 * One keep-alive connection to a backend. A read that holds a whole plain
 * response (the usual case) is read by PlainResponse; any other goes to
 * llhttp, which then reads on until its message is complete. It serves one
 * exchange at a time (`handler`); between exchanges it idles in its pool,
 * where any byte or close from the backend ends it.
 */
export class UpstreamConnection implements ParserOwner {
  handler: ResponseHandler | null = null;
  /** Response headers arrived for the current exchange (a failure now is not retryable). */
  responseStarted = false;
  /** It served an exchange before: a reset before any response is the classic keep-alive race. */
  reused = false;
  /** How long the backend said it keeps this connection idle (Keep-Alive `timeout=`, seconds) in its last response; -1: it did not say. */
  keepAliveSeconds = -1;
  private readonly parser: Http1Parser;
  /** llhttp has begun a message and not finished it: the next read is its. */
  private llhttpReading = false;
  private informational = false;
  private keepAlive = false;
  private headersTimeout = 0;
  private idleTimeout = 0;
  /** When (ms since epoch, coarse) the current wait times out; 0 for no limit (reading paused for the client). */
  private deadline = 0;
  /** An exchange is on: bytes from the backend are its response (between exchanges any byte is out of step). */
  private busy = false;
  /**
   * The exchange whose response llhttp finished within the read it is parsing: it hears the end (and the pool
   * gets the connection back) only once llhttp has read the rest of that read. Handed back at once, a
   * waiting exchange took the connection, and bytes the backend sent past the response's end (a wrong
   * Content-Length, a body on HEAD or 304) were parsed as that exchange's response: another client's.
   */
  private completed: ResponseHandler | null = null;
  /** A message began after the response ended, in the same read: the connection is out of step and is closed. */
  private outOfStep = false;

  constructor(
    readonly socket: Socket,
    private readonly owner: ConnectionOwner,
    private readonly io: Http1Io,
  ) {
    this.parser = io.createParser('response', this);
    (socket as OwnedSocket)[CONNECTION] = this;
    // Flowing, so that the end of the stream is told ('end'); the bytes themselves go to UPSTREAM_READS.
    socket.resume();
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.once('close', this.onClose);
    sweep.watch(this);
  }

  /** Takes on an exchange: the request head goes out, and the backend has `headersTimeout` ms to answer. */
  begin(handler: ResponseHandler, head: string, headersTimeout: number, idleTimeout: number): void {
    this.handler = handler;
    this.busy = true;
    this.responseStarted = false;
    this.headersTimeout = headersTimeout;
    this.idleTimeout = idleTimeout;
    this.deadline = sweep.now + headersTimeout;
    this.io.write(this.socket, head);
  }

  /** Request body bytes went out: the backend's time to answer (or to go on reading) starts again. */
  sent(): void {
    if (this.deadline !== 0) this.deadline = sweep.now + (this.responseStarted ? this.idleTimeout : this.headersTimeout);
  }

  /** The client cannot take more: stop reading the backend (its silence is then not the backend's fault). */
  pauseReading(): void {
    this.io.setReading(this.socket, false);
    this.deadline = 0;
  }

  resumeReading(): void {
    this.deadline = sweep.now + this.idleTimeout;
    this.io.setReading(this.socket, true);
  }

  /** Back in the pool: idle until `keepAliveTimeout`. */
  rest(keepAliveTimeout: number): void {
    this.handler = null;
    this.reused = true;
    this.deadline = sweep.now + keepAliveTimeout;
  }

  checkDeadline(now: number): void {
    // Deadlines were set from the coarse clock, up to one sweep behind: never fire early.
    if (this.deadline !== 0 && now > this.deadline + SWEEP_MS) this.timedOut();
  }

  destroy(): void {
    this.handler = null;
    this.socket.destroy();
  }

  /** The backend sent `bytes` bytes, now at the start of READ_BUFFER. */
  received(bytes: number): void {
    const handler = this.handler;
    if (handler !== null && !this.llhttpReading && handler.plainAllowed && plain.read(READ_BUFFER, bytes)) {
      this.handler = null;
      this.busy = false; // until the pool hands the connection to the next exchange, maybe within this call
      this.responseStarted = true;
      this.keepAliveSeconds = plain.keepAliveSeconds;
      return handler.responsePlain(plain, READ_BUFFER);
    }
    this.llhttpReading = true;
    this.executed(this.parser.execute(READ_BUFFER.subarray(0, bytes)));
  }

  /** llhttp read bytes from the backend (and passed what it parsed on already). */
  executed(result: number | ParseError): void {
    if (this.completed !== null) return this.endCompleted(typeof result === 'number');
    if (!this.busy) return void this.socket.destroy(); // bytes nobody asked for: the connection is out of step
    if (typeof result !== 'number') return this.fail(new UpstreamError('bad_response', `the backend's response is not valid HTTP/1.1 (${result.reason ?? result.code})`));
    if (this.handler === null) this.busy = false; // the response ended in this read
    else if (this.responseStarted && this.deadline !== 0) this.deadline = sweep.now + this.idleTimeout;
  }

  /**
   * The response that ended in the last read is told its end. The connection goes back to the pool only
   * when nothing followed the response in that read and llhttp read it all as HTTP (`parsed`); else it is
   * closed, as nginx closes one whose backend "sent more data than specified" (the response itself was
   * whole, and the client has it).
   */
  private endCompleted(parsed: boolean): void {
    const handler = this.completed!;
    const reusable = parsed && !this.outOfStep && this.keepAlive;
    this.completed = null;
    this.outOfStep = false;
    this.busy = false; // until the pool hands the connection to the next exchange, maybe within this call
    handler.responseEnd(reusable);
    if (!reusable) this.socket.destroy();
  }

  private readonly onEnd = (): void => {
    // A body delimited by the connection closing ends here.
    if (this.handler) this.parser.finish();
    if (this.completed !== null) this.endCompleted(false);
    this.fail(new UpstreamError('reset', 'the backend closed the connection'));
  };

  private timedOut(): void {
    this.deadline = 0;
    if (!this.handler) return void this.socket.destroy();
    this.fail(this.responseStarted ? new UpstreamError('idle_timeout', 'the backend went silent mid-response') : new UpstreamError('headers_timeout', 'the backend sent no response headers in time'));
  }

  private readonly onError = (error: Error): void => {
    this.fail(new UpstreamError((error as { code?: string }).code === 'EPIPE' || (error as { code?: string }).code === 'ECONNRESET' ? 'reset' : 'upstream_error', error.message));
  };

  private readonly onClose = (): void => {
    sweep.unwatch(this);
    this.fail(new UpstreamError('reset', 'the backend closed the connection'));
    (this.socket as OwnedSocket)[CONNECTION] = undefined;
    this.parser.free();
    this.owner.closed(this);
  };

  private fail(error: UpstreamError): void {
    const handler = this.handler;
    this.handler = null;
    this.socket.destroy();
    handler?.upstreamFailed(error);
  }

  messageBegin(): void {
    if (this.completed !== null) this.outOfStep = true;
  }

  headersComplete(_major: number, _minor: number, rawHeaders: string[], _method: unknown, _url: unknown, statusCode: number | undefined, reasonPhrase: string | undefined, _upgrade: boolean, keepAlive: boolean): number {
    const status = statusCode!;
    const reason = reasonPhrase ?? '';
    if (this.completed !== null) return 0; // past the response's end: `executed` closes the connection
    // RFC 9110 15: a status is 100-599; llhttp reads 000-099 too, which neither are informational nor frame a final answer.
    if (status < 100) {
      this.fail(new UpstreamError('bad_response', `the backend answered status ${String(status).padStart(3, '0')}, not 100-599`));
      return 0;
    }
    // 1xx (Early Hints; 100 Continue, though the proxy answers that itself) precede the real response.
    if (status < 200 && status !== 101) {
      this.informational = true;
      return 0;
    }
    const handler = this.handler;
    if (!handler) {
      this.busy = false; // a response nobody asked for: `executed` cuts the connection
      return 0;
    }
    if (status === 101) {
      this.fail(new UpstreamError('bad_response', 'the backend switched protocols on a plain request'));
      return 0;
    }
    this.responseStarted = true;
    this.keepAlive = keepAlive;
    this.keepAliveSeconds = keepAliveSecondsOf(rawHeaders);
    this.deadline = sweep.now + this.idleTimeout;
    return handler.responseHead(status, reason, rawHeaders);
  }

  body(chunk: Buffer): void {
    this.handler?.responseBody(chunk);
  }

  messageComplete(): void {
    if (this.informational) {
      // The real response follows, maybe later in this read: llhttp reads it too.
      this.informational = false;
      return;
    }
    this.llhttpReading = false;
    if (this.completed !== null || this.handler === null) return;
    this.completed = this.handler;
    this.handler = null;
  }
}


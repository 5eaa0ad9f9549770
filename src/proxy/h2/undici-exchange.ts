import { ServerResponse, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { PassThrough } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import type { BalanceRequest } from '../balancers/index.js';
import { gatewayFailure, IDEMPOTENT, nextTarget, type ExchangeRecord } from '../forward.js';
import { downstreamHeaders } from '../headers.js';
import type { RequestHead } from '../http1/request-head.js';
import type { UpstreamFailure } from '../http1/upstream-connection.js';
import type { RouteEntry, RouteTarget } from '../route-table.js';
import type { BackendPool, Upstream as AnyUpstream } from '../upstreams.js';
import { failureOf, splitHead, splitLines } from './wire.js';

/** A backend reached through undici. */
export type Upstream = AnyUpstream<UndiciPool>;
export type UndiciPool = Pool & { close(): Promise<void> };

export interface UndiciForwardOptions<Pool extends BackendPool = UndiciPool> {
  retries: number;
  headersTimeout: number;
  idleTimeout: number;
  onFinish(record: ExchangeRecord): void;
  /** The undici dispatcher that reaches `upstream` (the undici pool beside its raw-socket pool, backend-pool.ts). */
  dispatcherOf(upstream: AnyUpstream<Pool>): Dispatcher;
}

/** The client's side: node:http's request and response, or node:http2's compatibility pair (an HTTP/2 stream, h2/). */
export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

/** The client's stream is gone (closed or reset): nothing more can be written to it. */
export function responseGone(response: ClientResponse): boolean {
  return response instanceof ServerResponse ? response.destroyed : response.stream.destroyed;
}

/**
 * One client request on its way to a backend through undici, with the fast
 * engine's rules (forward.ts): a target picked by the app's balancer, passing
 * over backends marked down; another backend when the connection could not be
 * opened (any method: nothing reached the first), or when a connection reset
 * before any answer and the request was idempotent with no body read yet.
 * The client's body is fed to undici only once a connection is open
 * (onConnect), so a refused connection leaves it whole for the next backend.
 * Both directions keep backpressure: node:http's pipe into undici, and
 * undici's `onData` returning false until the client drains.
 */
export class UndiciExchange<Pool extends BackendPool = UndiciPool> {
  private target: RouteTarget<AnyUpstream<Pool>> | null = null;
  private tried = new Set<number>();
  private attempts = 0;
  private status = 0;
  private bytes = 0;
  private requestBytes = 0;
  private bodyStarted = false;
  private finished = false;
  private holding = false;
  private abort: ((reason?: Error) => void) | null = null;
  /** The handler of the attempt under way; callbacks of an earlier one are ignored. */
  private current: object | null = null;
  private readonly started = performance.now();
  private readonly headers: string[];
  /** Armed while the client reads none of what was written: one that stays so for the idle timeout is cut. */
  private sendStall: NodeJS.Timeout | null = null;

  constructor(
    private readonly request: ClientRequest,
    private readonly response: ClientResponse,
    private readonly head: RequestHead,
    private readonly entry: RouteEntry<AnyUpstream<Pool>>,
    private readonly balance: BalanceRequest,
    /** The request head for the backend as headers.ts makes it for both engines. */
    upstreamHead: string,
    private readonly requestId: string,
    private readonly options: UndiciForwardOptions<Pool>,
  ) {
    this.headers = splitHead(upstreamHead);
  }

  start(): void {
    // The client left before the answer ended: the backend's answer is not wanted.
    this.response.once('close', () => {
      if (this.finished) return;
      // Ended before the abort: undici tells the handler at once, which would call it a backend failure.
      this.finish(499, 'client_closed');
      this.cancelAttempt('the client closed the connection');
    });
    this.attempt(null);
  }

  private attempt(lastFailure: UpstreamFailure | null): void {
    const index = nextTarget(this.entry, this.balance, this.tried.size ? this.tried : null);
    if (index < 0) return this.fail(lastFailure ?? 'upstream_error');
    this.tried.add(index);
    this.target = this.entry.targets[index];
    this.attempts++;
    this.target.upstream.inflight++;
    this.holding = true;
    const body = this.head.body === 'none' ? null : new PassThrough();
    const handler = this.handler(body);
    this.current = handler;
    this.options.dispatcherOf(this.target.upstream).dispatch(
      { path: this.head.url, method: this.head.method, headers: this.headers, body, headersTimeout: this.options.headersTimeout, bodyTimeout: this.options.idleTimeout },
      handler,
    );
  }

  /** The legacy undici handler of one attempt (onConnect ... onComplete / onError). */
  private handler(body: PassThrough | null): Dispatcher.DispatchHandler {
    const exchange = this;
    const handler: Dispatcher.DispatchHandler = {
      onConnect(abort) {
        if (exchange.current !== handler) return abort();
        exchange.abort = abort;
        // A connection is open: only now is the client's body read (a failure before left it whole for the next backend).
        if (body && !exchange.bodyStarted) {
          exchange.bodyStarted = true;
          exchange.request.on('data', (chunk: Buffer) => (exchange.requestBytes += chunk.length));
          exchange.request.pipe(body);
        }
      },
      onHeaders(statusCode, rawHeaders, resume, statusText) {
        if (exchange.current !== handler) return false;
        // 1xx (Early Hints) precede the real answer and are not passed on, as the fast engine does.
        if (statusCode < 200) return true;
        return exchange.responseHead(statusCode, statusText, rawHeaders as unknown as Buffer[], resume);
      },
      onData(chunk) {
        if (exchange.current !== handler) return false;
        exchange.bytes += chunk.length;
        if ((exchange.response as { write(chunk: Buffer): boolean }).write(chunk)) return true;
        exchange.stalled();
        return false;
      },
      onComplete() {
        if (exchange.current !== handler) return;
        exchange.clearStall();
        exchange.letGo();
        exchange.response.end();
        exchange.finish(exchange.status, null);
      },
      onError(error) {
        if (exchange.current !== handler) return;
        exchange.failed(failureOf(error));
      },
    };
    return handler;
  }

  /**
   * node:http found the client's body malformed midway: the backend's
   * connection is cut (its parser never reads a whole message), the client
   * gets 400 when no byte of the answer has left yet (else a cut
   * connection), and the log a refusal, as the fast engine's clientGone(true).
   * False when the backend's whole answer had gone out already (the body
   * arrived after it): the caller answers 400 after it.
   */
  bodyMalformed(): boolean {
    if (this.finished) return responseGone(this.response);
    this.cancelAttempt('the request body is malformed');
    if (this.response.headersSent) this.response.destroy();
    else {
      const body = JSON.stringify({ error: 'bad_request', message: 'the request body is not valid HTTP/1.1 framing' });
      if (this.response instanceof ServerResponse) this.response.shouldKeepAlive = false;
      this.response.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': this.requestId });
      this.response.end(body);
    }
    this.finish(400, 'bad_request_body');
    return true;
  }

  private responseHead(status: number, reason: string, raw: Buffer[], resume: () => void): boolean {
    this.status = status;
    const strings = new Array<string>(raw.length);
    for (let index = 0; index < raw.length; index++) strings[index] = raw[index].toString('latin1');
    const { lines } = downstreamHeaders(strings, this.requestId, this.head.secure ? this.entry.hsts : '');
    // node:http frames the body (length, chunked, close, none for HEAD/204/304) from these and the request.
    // HTTP/2 has no reason phrase (node:http2 warns when given one).
    if (this.response instanceof ServerResponse) this.response.writeHead(status, reason, splitLines(lines));
    else {
      try {
        // node:http2 takes the flat [name, value, ...] list as node:http does (its types do not say so). HTTP2-Settings
        // belongs to an HTTP/1.1 upgrade, never to an HTTP/2 message (RFC 9113 8.2.2).
        this.response.writeHead(status, splitLines(lines, 'http2-settings') as unknown as OutgoingHttpHeaders);
      } catch {
        // Fields HTTP/2 cannot carry (node:http2 refuses a second Location, Date, ...): a broken answer, as a bad head is.
        for (const name of this.response.getHeaderNames()) this.response.removeHeader(name);
        this.abort?.(new Error('the response head cannot be sent over HTTP/2'));
        this.failed('bad_response');
        return false;
      }
    }
    this.response.on('drain', () => {
      this.clearStall();
      resume();
    });
    return true;
  }

  /**
   * The client took none of the last write: undici stops reading the backend until it drains. A client that
   * never does (an HTTP/2 window kept at 0, a socket never read) would hold the backend connection for ever,
   * and with all of them the app: after the idle timeout without a drain it is cut, as nginx's send_timeout does.
   */
  private stalled(): void {
    this.sendStall ??= setTimeout(() => {
      this.sendStall = null;
      if (this.finished) return;
      this.cancelAttempt('the client read nothing for the idle timeout');
      this.response.destroy(new Error('the client read nothing for the idle timeout'));
      this.finish(this.status, 'client_timeout');
    }, this.options.idleTimeout);
  }

  private clearStall(): void {
    if (this.sendStall === null) return;
    clearTimeout(this.sendStall);
    this.sendStall = null;
  }

  private failed(failure: UpstreamFailure): void {
    this.current = null;
    this.abort = null;
    this.letGo();
    if (this.finished) return;
    if (this.response.headersSent) {
      // Part of the response is out: the only honest signal left is a cut connection (over HTTP/2, a reset with
      // an error code: one without reads as a response that ended).
      this.response.destroy(new Error(`the backend failed mid-response (${failure})`));
      return this.finish(this.status, failure);
    }
    const connectFailed = failure === 'connect_refused' || failure === 'connect_timeout' || failure === 'unreachable';
    if (connectFailed) this.target!.upstream.markDown();
    const raced = failure === 'reset' && IDEMPOTENT.has(this.head.method) && !this.bodyStarted;
    if ((connectFailed || raced) && this.attempts <= this.options.retries && this.tried.size < this.entry.targets.length) return this.attempt(failure);
    this.fail(failure);
  }

  /** Stops the attempt under way: its handler's later callbacks are ignored, undici drops its connection. */
  private cancelAttempt(reason: string): void {
    const abort = this.abort;
    this.current = null;
    this.abort = null;
    this.letGo();
    abort?.(new Error(reason));
  }

  private letGo(): void {
    if (!this.holding) return;
    this.holding = false;
    this.target!.upstream.inflight--;
  }

  private fail(failure: UpstreamFailure): void {
    const { status, body } = gatewayFailure(failure, this.entry.app);
    if (!responseGone(this.response)) {
      this.response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': this.requestId });
      this.response.end(body);
    }
    this.finish(status, failure);
  }

  private finish(status: number, upstreamError: string | null): void {
    if (this.finished) return;
    this.finished = true;
    this.current = null;
    this.clearStall();
    this.options.onFinish({
      host: this.head.headers.host ?? '',
      app: this.entry.app,
      backend: this.target?.upstream.key ?? null,
      method: this.head.method,
      path: this.head.url,
      status,
      bytes: this.bytes,
      requestBytes: this.requestBytes,
      durationMs: performance.now() - this.started,
      retries: this.attempts - 1,
      upstreamError,
      requestId: this.requestId,
    });
  }
}

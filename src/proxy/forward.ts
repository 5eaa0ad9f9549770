import type { BalanceRequest } from './balancers/index.js';
import { downstreamHeaders } from './headers.js';
import type { BodySink, Framing, InboundRequest } from './http1/inbound-request.js';
import { SKIP_BODY } from './http1/io.js';
import { UpstreamError, type ResponseHandler, type UpstreamConnection } from './http1/upstream-connection.js';
import type { Asker, UpstreamPool } from './http1/upstream-pool.js';
import type { PlainResponse } from './http1/plain-response.js';
import type { RouteEntry, RouteTarget } from './route-table.js';
import type { Upstream as AnyUpstream } from './upstreams.js';

/** A backend as the HTTP/1.1 engine holds it: its pool of raw-socket connections. */
type Upstream = AnyUpstream<UpstreamPool>;

/** What happened to one proxied request; fed to the access log and the metrics. */
export interface ExchangeRecord {
  host: string;
  app: string;
  backend: string | null;
  method: string;
  path: string;
  status: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  /** Request body bytes sent to the backend (decoded from chunks when chunked). */
  requestBytes: number;
  durationMs: number;
  retries: number;
  /** Set when the backend failed: connect_refused, headers_timeout, reset, ... */
  upstreamError: string | null;
  requestId: string;
}

export interface ForwardOptions {
  retries: number;
  headersTimeout: number;
  idleTimeout: number;
  onFinish(record: ExchangeRecord): void;
}

/** How a backend's response body is delimited towards the client. */
export function responseFraming(head: { method: string; http10: boolean }, status: number, hasLength: boolean): Framing {
  if (head.method === 'HEAD' || status === 204 || status === 304) return 'none';
  return hasLength ? 'length' : head.http10 ? 'close' : 'chunked';
}

/** Methods a request may be retried with on another backend when a connection died before any answer. */
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * The target of the next attempt, as the app's balancer picks it, passing over the targets already
 * `tried` (null: none yet) and those marked down; every one down, they are tried anyway rather than
 * failing without trying. -1 when none is left. Both exchanges (this one and h2/undici-exchange.ts)
 * choose with this; no Set is made unless a backend is down.
 */
export function nextTarget(entry: RouteEntry<AnyUpstream>, balance: BalanceRequest, tried: ReadonlySet<number> | null): number {
  const targets = entry.targets;
  let skip: ReadonlySet<number> | null = tried;
  for (let index = 0; index < targets.length; index++) {
    if (targets[index].upstream.isDown() && !skip?.has(index)) (skip = new Set(skip ?? [])).add(index);
  }
  if (skip && skip.size >= targets.length) skip = tried;
  return entry.balancer(targets, balance, skip);
}

/** The proxy's own answer when no backend answered: 504 for a timeout, else 502, with a JSON body naming the failure. */
export function gatewayFailure(kind: string, app: string): { status: number; body: string } {
  const timeout = kind.endsWith('timeout');
  return {
    status: timeout ? 504 : 502,
    body: JSON.stringify({
      error: timeout ? 'gateway_timeout' : 'bad_gateway',
      message: timeout ? `the backend did not answer in time (${kind})` : `no backend of ${app} could be reached (${kind})`,
    }),
  };
}

/** Request bodies up to this size (a Content-Length) are read whole before a backend connection is taken (InboundRequest.bufferBody). */
const BUFFERED_BODY_BYTES = 64 * 1024;

/**
 * One client request on its way to a backend: picks a target with the app's
 * balancer, takes a connection from that backend's pool, writes the request
 * head and streams the body, then streams the response back; both directions
 * with backpressure (nothing is buffered beyond one read).
 *
 * Retries go to another backend when nothing reached the first one (the
 * connection could not be opened), for any method; and for idempotent
 * requests without a body when a reused keep-alive connection died before a
 * response started (a backend that closed it just as it was taken): to another
 * backend, or to the same one when it is the only one.
 */
export class Exchange implements ResponseHandler, BodySink, Asker {
  private target: RouteTarget<Upstream> | null = null;
  private connection: UpstreamConnection | null = null;
  /** The target tried first, and all tried once there was a retry (a Set per request would be garbage for nothing). */
  private firstTried = -1;
  private tried: Set<number> | null = null;
  private attempts = 0;
  private status = 0;
  private bytes = 0;
  private requestBytes = 0;
  private requestSent = false;
  private finished = false;
  /** The current attempt is counted in its backend's in-flight figure. */
  private holding = false;
  private readonly started = performance.now();
  /** Made on the first backpressure only. */
  private resumeResponse: (() => void) | null = null;
  private resumeRequestBody: (() => void) | null = null;

  constructor(
    private readonly request: InboundRequest,
    private readonly entry: RouteEntry<Upstream>,
    private readonly balance: BalanceRequest,
    /** The request head for the backend, ready to write. */
    private readonly head: string,
    private readonly requestId: string,
    private readonly options: ForwardOptions,
  ) {}

  start(): void {
    this.request.started = true;
    this.request.clientCloseListener = this;
    this.request.sendContinue();
    if (this.request.bufferBody(BUFFERED_BODY_BYTES, () => this.attempt(null))) return;
    this.attempt(null);
  }

  private attempt(lastError: UpstreamError | null): void {
    const targets = this.entry.targets;
    if (this.firstTried >= 0) this.tried ??= new Set([this.firstTried]);
    const index = nextTarget(this.entry, this.balance, this.tried);
    if (index < 0) return this.fail(lastError ?? new UpstreamError('upstream_error', 'no backend left'));
    if (this.tried) this.tried.add(index);
    else this.firstTried = index;
    this.acquireFrom(targets[index]);
  }

  private acquireFrom(target: RouteTarget<Upstream>): void {
    this.target = target;
    this.attempts++;
    target.upstream.inflight++;
    this.holding = true;
    target.upstream.pool.acquire(this);
  }

  acquired(error: UpstreamError | null, connection: UpstreamConnection | null): boolean {
    if (this.finished) return false;
    if (error) {
      this.letGo();
      if (error.kind !== 'upstream_error') this.target!.upstream.markDown();
      this.retryOrFail(error);
      return true;
    }
    this.connection = connection!;
    connection!.begin(this, this.head, this.options.headersTimeout, this.options.idleTimeout);
    if (this.request.head.body === 'none') this.requestSent = true;
    else this.request.readBody(this);
    return true;
  }

  // BodySink: the client's body, framed for the backend as the client framed it.
  chunk(data: Buffer): boolean {
    const connection = this.connection;
    if (!connection) return true;
    const socket = connection.socket;
    connection.sent();
    this.requestBytes += data.length;
    let flowing: boolean;
    if (this.request.head.body === 'chunked') {
      socket.write(data.length.toString(16) + '\r\n', 'latin1');
      socket.write(data);
      flowing = socket.write('\r\n', 'latin1');
    } else {
      flowing = socket.write(data);
    }
    if (!flowing) socket.once('drain', (this.resumeRequestBody ??= () => this.request.resumeBody()));
    return flowing;
  }

  end(): void {
    if (this.request.head.body === 'chunked') this.connection?.socket.write('0\r\n\r\n', 'latin1');
    this.requestSent = true;
  }

  // ResponseHandler: the backend's answer, streamed to the client.
  get plainAllowed(): boolean {
    return this.request.head.method !== 'HEAD';
  }

  responsePlain(response: PlainResponse, bytes: Buffer): void {
    this.status = response.status;
    this.bytes = response.bodyEnd - response.bodyStart;
    this.request.sendPlain(response, bytes, `x-request-id: ${this.requestId}\r\n${this.request.head.secure ? this.entry.hsts : ''}`);
    this.responseEnd(response.keepAlive);
  }

  responseHead(status: number, reason: string, rawHeaders: string[]): number {
    this.status = status;
    const head = this.request.head;
    const { lines, hasLength } = downstreamHeaders(rawHeaders, this.requestId, head.secure ? this.entry.hsts : '');
    this.request.sendHead(status, reason, lines, responseFraming(head, status, hasLength));
    return head.method === 'HEAD' ? SKIP_BODY : 0;
  }

  responseBody(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.request.write(chunk)) return;
    // The client reads slower than the backend sends: stop reading the backend until the client drains.
    this.connection!.pauseReading();
    this.request.whenDrained((this.resumeResponse ??= () => this.connection?.resumeReading()));
  }

  responseEnd(reusable: boolean): void {
    const connection = this.connection!;
    this.connection = null;
    this.letGo();
    // A backend that answered before reading the whole request body cannot take another request on this connection.
    this.target!.upstream.pool.release(connection, reusable && this.requestSent);
    this.request.end();
    this.finish(this.status, null);
  }

  upstreamFailed(error: UpstreamError): void {
    const connection = this.connection;
    this.connection = null;
    this.letGo();
    if (this.finished) return;
    if (this.request.headSent) {
      // Part of the response is out: the only honest signal left is a cut connection.
      this.request.destroy();
      return this.finish(this.status, error.kind);
    }
    const raced = error.kind === 'reset' && connection?.reused === true && IDEMPOTENT.has(this.request.head.method) && !this.request.bodyRead;
    if (raced) {
      this.request.detachBody();
      return this.retryOrFail(error, true);
    }
    this.fail(error);
  }

  /**
   * Another backend if one is left; for a raced keep-alive connection, the same backend again when it is the only
   * one (the backend is fine, only its idle connection was closed as it was taken: nginx retries a cached connection
   * the same way).
   */
  private retryOrFail(error: UpstreamError, sameBackendWillDo = false): void {
    if (this.attempts > this.options.retries) return this.fail(error);
    if ((this.tried?.size ?? 1) < this.entry.targets.length) return this.attempt(error);
    if (sameBackendWillDo) return this.acquireFrom(this.target!);
    this.fail(error);
  }

  clientGone(badBody = false): void {
    const connection = this.connection;
    this.connection = null;
    this.letGo();
    // The backend's answer will not be read to its end (nor its request body sent whole): the connection cannot be reused.
    connection?.destroy();
    this.finish(badBody ? 400 : 499, badBody ? 'bad_request_body' : 'client_closed');
  }

  /** The attempt no longer counts as in flight to its backend (least-load reads the count). */
  private letGo(): void {
    if (!this.holding) return;
    this.holding = false;
    this.target!.upstream.inflight--;
  }

  private fail(error: UpstreamError): void {
    const { status, body } = gatewayFailure(error.kind, this.entry.app);
    this.request.reply(status, body, `x-request-id: ${this.requestId}\r\n`);
    this.finish(status, error.kind);
  }

  private finish(status: number, upstreamError: string | null): void {
    if (this.finished) return;
    this.finished = true;
    this.options.onFinish({
      host: this.request.head.headers.host ?? '',
      app: this.entry.app,
      backend: this.target?.upstream.key ?? null,
      method: this.request.head.method,
      path: this.request.head.url,
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

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BalanceRequest } from './balancers/index.js';
import { downstreamHeaders } from './headers.js';
import type { RouteEntry, RouteTarget } from './route-table.js';
import type { Upstream } from './upstreams.js';

/** What happened to one proxied request; fed to the access log and the metrics. */
export interface ExchangeRecord {
  host: string;
  app: string;
  backend: string | null;
  method: string;
  path: string;
  status: number;
  bytes: number;
  durationMs: number;
  retries: number;
  /** Set when the backend failed: connect, timeout, reset, ... */
  upstreamError: string | null;
  requestId: string;
}

export interface ForwardOptions {
  retries: number;
  onFinish(record: ExchangeRecord): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * One client request on its way to a backend: picks a target with the app's
 * balancer, dispatches on that backend's undici pool and streams both bodies
 * with backpressure (nothing is buffered beyond socket buffers).
 *
 * Retries go to another backend when nothing reached the first one (connect
 * refused or timed out: undici had not called onConnect), for any method; and
 * for idempotent requests without a body when the connection died before a
 * response started (a keep-alive socket closed by a backend that just stopped).
 */
export class Exchange implements Dispatcher.DispatchHandler {
  private target: RouteTarget<Upstream> | null = null;
  private tried: Set<number> | null = null;
  private attempts = 0;
  private connected = false;
  private abortAttempt: ((error?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  private bytes = 0;
  private finished = false;
  private readonly started = performance.now();
  private readonly onDrain = () => this.resume?.();
  private readonly uncork = () => this.res.uncork();

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly entry: RouteEntry<Upstream>,
    private readonly balance: BalanceRequest,
    private readonly headers: string[],
    private readonly requestId: string,
    private readonly options: ForwardOptions,
  ) {}

  start(): void {
    this.res.once('close', () => {
      if (!this.res.writableFinished) this.abortAttempt?.(new Error('client went away'));
    });
    this.attempt(null);
  }

  private attempt(lastError: Error | null): void {
    const targets = this.entry.targets;
    const now = Date.now();
    let skip: Set<number> | null = this.tried;
    for (let index = 0; index < targets.length; index++) {
      if (targets[index].upstream.isDown(now) && !skip?.has(index)) (skip = new Set(skip ?? [])).add(index);
    }
    // Every backend marked down: try them anyway rather than fail without trying.
    if (skip && skip.size >= targets.length) skip = this.tried;
    const index = this.entry.balancer(targets, this.balance, skip);
    if (index < 0) {
      this.fail(lastError ?? new Error('no backend left'));
      return;
    }
    (this.tried ??= new Set()).add(index);
    this.target = targets[index];
    this.attempts++;
    this.connected = false;
    this.target.upstream.inflight++;
    const req = this.req;
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    this.target.upstream.pool.dispatch(
      { path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers: this.headers, body: hasBody ? req : null, upgrade: null },
      this,
    );
  }

  onConnect(abort: (error?: Error) => void): void {
    this.connected = true;
    this.abortAttempt = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    this.resume = resume;
    this.res.writeHead(statusCode, statusText, downstreamHeaders(rawHeaders, this.requestId));
    // Headers, a small body and the end usually arrive in one tick: corking sends them in one write.
    this.res.cork();
    process.nextTick(this.uncork);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.res.write(chunk)) return true;
    // The client reads slower than the backend sends: undici pauses until the client drains.
    this.res.once('drain', this.onDrain);
    return false;
  }

  onComplete(): void {
    this.release();
    this.res.end();
    this.finish(this.res.statusCode, null);
  }

  onError(error: Error): void {
    this.release();
    if (this.finished) return;
    if (this.res.headersSent) {
      // Part of the response is out: the only honest signal left is a cut connection.
      this.res.destroy(error);
      this.finish(this.res.statusCode, errorKind(error));
      return;
    }
    if (this.res.destroyed) {
      this.finish(499, 'client_closed');
      return;
    }
    const beforeRequest = !this.connected;
    if (beforeRequest) this.target?.upstream.markDown();
    const retryable = beforeRequest || (IDEMPOTENT.has(this.req.method ?? '') && !this.req.readableDidRead && isSocketError(error));
    if (retryable && this.attempts <= this.options.retries && this.tried!.size < this.entry.targets.length) {
      this.attempt(error);
      return;
    }
    this.fail(error);
  }

  private release(): void {
    if (this.target) this.target.upstream.inflight--;
    this.abortAttempt = null;
  }

  private fail(error: Error): void {
    const kind = errorKind(error);
    const timeout = kind.endsWith('timeout');
    const status = timeout ? 504 : 502;
    const body = JSON.stringify({
      error: timeout ? 'gateway_timeout' : 'bad_gateway',
      message: timeout ? `the backend did not answer in time (${kind})` : `no backend of ${this.entry.app} could be reached (${kind})`,
    });
    this.res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': this.requestId });
    this.res.end(body);
    this.finish(status, kind);
  }

  private finish(status: number, upstreamError: string | null): void {
    if (this.finished) return;
    this.finished = true;
    this.options.onFinish({
      host: this.req.headers.host ?? '',
      app: this.entry.app,
      backend: this.target?.upstream.key ?? null,
      method: this.req.method ?? '',
      path: this.req.url ?? '',
      status,
      bytes: this.bytes,
      durationMs: performance.now() - this.started,
      retries: this.attempts - 1,
      upstreamError,
      requestId: this.requestId,
    });
  }
}

function isSocketError(error: Error): boolean {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

/** A short, stable name for an upstream failure (metrics label, access log field). */
export function errorKind(error: Error): string {
  switch ((error as { code?: string }).code) {
    case 'ECONNREFUSED':
      return 'connect_refused';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect_timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'headers_timeout';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'idle_timeout';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    default:
      return 'upstream_error';
  }
}

/**
 * HTTP/2 towards clients, on the TLS listener of either engine: a client
 * that picks `h2` by ALPN gets a node:http2 session (its TLS socket handed to
 * an unlistening `http2.createServer()` as a new connection, which node:http2
 * documents), and each stream is one request through the same core as an
 * HTTP/1.1 one (routing, auth, HTTPS policy, header rules, access log) and
 * the undici exchange (undici-exchange.ts: retries, timeouts, backpressure), over
 * HTTP/1.1 to the backends through undici. WebSocket is not offered over h2
 * (no SETTINGS_ENABLE_CONNECT_PROTOCOL), so browsers open an HTTP/1.1
 * connection for it.
 */
import { createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { upstreamHead } from '../headers.js';
import { BadHead, requestHead, type RequestHead } from '../http1/request-head.js';
import { UndiciExchange, responseGone, type UndiciForwardOptions } from './undici-exchange.js';
import { Refusal, type Admission, type ProxyCore } from '../proxy-core.js';
import type { BackendPool } from '../upstreams.js';

/** Streams one client may have open at once (nginx's default too); browsers open far fewer for a page. */
const MAX_CONCURRENT_STREAMS = 128;
/**
 * A stream's flow-control window, what a client may send of a request body before the backend takes it:
 * HTTP/2's default, as nginx's 64 KiB body preread. With 1 MiB a client buffered 128 MiB in a worker per
 * connection (a body on every stream, to a backend that reads none).
 */
const STREAM_WINDOW_BYTES = 65_535;
/** The connection's window: streams' bodies together may move at this much per round trip. */
const SESSION_WINDOW_BYTES = 1024 * 1024;
/** How long close() lets streams in progress finish before cutting their sessions. */
const CLOSE_GRACE_MS = 5_000;

export interface Http2FrontOptions<Pool extends BackendPool> {
  forward: UndiciForwardOptions<Pool>;
  /** A session without traffic is closed (GOAWAY) after this long, as an idle HTTP/1.1 connection is. */
  idleTimeout: number;
}

export class Http2Front<Pool extends BackendPool> {
  private readonly server: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(
    private readonly core: ProxyCore<Pool>,
    private readonly options: Http2FrontOptions<Pool>,
  ) {
    this.server = createServer({ settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, initialWindowSize: STREAM_WINDOW_BYTES } });
    this.server.on('session', (session: ServerHttp2Session) => this.opened(session));
    this.server.on('request', (request: Http2ServerRequest, response: Http2ServerResponse) => this.handle(request, response));
  }

  /** Serves a TLS connection whose client chose `h2` by ALPN. */
  serve(socket: TLSSocket): void {
    this.server.emit('connection', socket);
  }

  /** Sends GOAWAY on every session: streams under way finish (5 s at most), no new ones are taken. */
  async close(): Promise<void> {
    const sessions = [...this.sessions];
    // Not close(callback): a session closing already (idle) would never call it.
    const closed = sessions.map((session) => new Promise<void>((resolve) => session.once('close', resolve).close()));
    const force = setTimeout(() => sessions.forEach((session) => session.destroy()), CLOSE_GRACE_MS);
    await Promise.all(closed);
    clearTimeout(force);
  }

  /**
   * The idle timeout is a timer of our own, not `session.setTimeout`: node:http2 marks a session destroyed
   * before it clears that one, which then does nothing, so every closed session stayed in memory until its
   * timer fired (65 s by default; measured: 2.5 MB per 1,000 closed sessions, given back only then).
   */
  private opened(session: ServerHttp2Session): void {
    this.sessions.add(session);
    const streams = new Set<ServerHttp2Stream>();
    const idle = setTimeout(() => (streams.size > 0 ? idle.refresh() : session.close()), this.options.idleTimeout).unref();
    session.on('stream', (stream: ServerHttp2Stream) => {
      streams.add(stream);
      idle.refresh();
      stream.once('close', () => {
        streams.delete(stream);
        idle.refresh();
      });
    });
    session.once('close', () => {
      clearTimeout(idle);
      this.sessions.delete(session);
    });
    // When the client closes the connection (its FIN reaches the socket as 'end'), node:http2 leaves the session
    // and every stream whose response has not ended open for ever (the socket never closes: seen on Node 20, 22
    // and 24, over node:tls and TLSWrap alike), so an exchange never heard its client had gone and held its
    // backend connection. HTTP/2 has no half-closed connection (no more frames can come: not even a window
    // update), so the streams and the session are destroyed: each exchange ends (499) and lets the backend go.
    const gone = () => {
      for (const stream of streams) stream.destroy();
      session.destroy();
    };
    session.socket.once('end', gone);
    session.socket.once('close', gone);
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    // A peer's protocol error ends its own session; node:http2 has already sent GOAWAY.
    session.on('error', noop);
  }

  private handle(request: Http2ServerRequest, response: Http2ServerResponse): void {
    const started = performance.now();
    // Its stream errors (a reset, a bad frame) end that stream alone; the exchange sees the response close.
    request.on('error', noop);
    if (request.method === 'CONNECT') return this.reply(response, null, new Refusal(405, 'method_not_allowed', 'this proxy does not open CONNECT tunnels', ''), started);
    let head: RequestHead;
    try {
      head = headOf(request);
    } catch (error) {
      if (!(error instanceof BadHead)) throw error;
      return this.reply(response, null, new Refusal(400, 'bad_request', error.message, ''), started);
    }
    const admission = this.core.admit(head);
    const go = (result: Admission<Pool>) => this.admitted(request, response, head, result, started);
    if (admission instanceof Promise) admission.then(go);
    else go(admission);
  }

  private admitted(request: Http2ServerRequest, response: Http2ServerResponse, head: RequestHead, admission: Admission<Pool>, started: number): void {
    // The client reset the stream while a key set was fetched.
    if (responseGone(response)) return;
    if (admission instanceof Refusal) return this.reply(response, head, admission, started);
    const { entry, balance, forwarded } = admission;
    new UndiciExchange(request, response, head, entry, balance, upstreamHead(head, forwarded), forwarded.requestId, this.options.forward).start();
  }

  private reply(response: Http2ServerResponse, head: RequestHead | null, refusal: Refusal, started: number): void {
    const body = refusal.body;
    response.writeHead(refusal.status, { 'content-type': refusal.contentType, 'content-length': Buffer.byteLength(body), ...refusal.headers });
    response.end(body);
    if (head) this.core.refused(head, refusal, started);
  }
}

/**
 * A stream's headers as the core reads a request head: `:authority` becomes
 * Host (RFC 9113 §8.3.1), pseudo-headers go, split Cookie fields are joined
 * again for HTTP/1.1 (§8.2.3), and a body without Content-Length (HTTP/2
 * frames it itself) goes on chunked.
 */
export function headOf(request: Http2ServerRequest): RequestHead {
  const given = request.rawHeaders;
  const authority = request.headers[':authority'];
  const raw: string[] = authority ? ['host', authority] : [];
  const cookies: string[] = [];
  let hasLength = false;
  for (let index = 0; index < given.length; index += 2) {
    const name = given[index];
    if (name.charCodeAt(0) === 58 /* : */ || (authority && name === 'host')) continue;
    if (name === 'cookie') cookies.push(given[index + 1]);
    else raw.push(name, given[index + 1]);
    if (name === 'content-length') hasLength = true;
  }
  if (cookies.length) raw.push('cookie', cookies.join('; '));
  if (!hasLength && !request.stream.endAfterHeaders) raw.push('transfer-encoding', 'chunked');
  const head = requestHead(request.method, request.url, 1, raw, true, false, request.socket.remoteAddress ?? '');
  head.secure = true;
  return head;
}

function noop(): void {}

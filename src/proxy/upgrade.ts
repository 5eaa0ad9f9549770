import { connect, type Socket } from 'node:net';
import type { BalanceRequest } from './balancers/index.js';
import { responseFraming } from './forward.js';
import { downstreamHeaders } from './headers.js';
import type { UpgradeTunnel } from './http1/client-connection.js';
import type { InboundRequest } from './http1/inbound-request.js';
import type { Http1Io, Http1Parser, ParseError, ParserOwner } from './http1/io.js';
import type { RouteEntry } from './route-table.js';
import type { Upstream } from './upstreams.js';

export interface UpgradeOptions {
  retries: number;
  connectTimeout: number;
  idleTimeout: number;
  /** The engine's parser (the backend's answer is read with it). */
  io: Http1Io;
  /** Once per handshake, with the status the client got (101 when the tunnel opened). */
  onDone(backend: string | null, status: number, error: string | null): void;
}

/**
 * Passes a WebSocket handshake (or, without its Upgrade, any other one) through:
 * opens a TCP connection to a backend chosen by the app's balancer (another one
 * when it refuses, at most `retries` times) and sends the handshake with the
 * proxy's headers. Only a `101 Switching Protocols` to WebSocket, which the
 * client asked for, joins the two sockets; any other answer goes to the
 * client as a normal response and its connection stays HTTP, so nothing it
 * sends next can reach the backend unparsed, unauthenticated and unlogged.
 */
export function passUpgrade(request: InboundRequest, tunnel: UpgradeTunnel, handshake: string, requestId: string, entry: RouteEntry<Upstream>, balance: BalanceRequest, options: UpgradeOptions): void {
  const tried = new Set<number>();
  const attempt = (): void => {
    const index = entry.balancer(entry.targets, balance, tried);
    if (index < 0 || tried.size > options.retries) return fail(request, 502, 'connect_refused', `no backend of ${entry.app} accepted the connection`, null, options);
    tried.add(index);
    const { backend, upstream } = entry.targets[index];
    const socket: Socket = connect({ host: backend.address, port: backend.port, timeout: options.connectTimeout });
    let open = false;
    socket.once('timeout', () => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
    socket.on('error', () => {
      if (open || request.finished) return;
      upstream.markDown();
      socket.destroy();
      attempt();
    });
    socket.once('connect', () => {
      open = true;
      if (request.finished) return void socket.destroy(); // the client left meanwhile
      socket.setTimeout(options.idleTimeout);
      socket.setNoDelay(true);
      socket.write(handshake, 'latin1');
      new Handshake(request, tunnel, socket, upstream.key, requestId, options).listen();
    });
  };
  attempt();
}

/** Reads the backend's answer to one handshake, and either opens the tunnel or passes the answer on. */
class Handshake implements ParserOwner {
  private readonly parser: Http1Parser;
  private switched = false;
  private done = false;
  private status = 0;
  /** The backend's 101 head, rebuilt for the client once the tunnel opens. */
  private head101 = '';

  constructor(
    private readonly request: InboundRequest,
    private readonly tunnel: UpgradeTunnel,
    private readonly socket: Socket,
    private readonly backend: string,
    private readonly requestId: string,
    private readonly options: UpgradeOptions,
  ) {
    this.parser = options.io.createParser('response', this);
  }

  listen(): void {
    this.request.clientCloseListener = { clientGone: () => this.finish(499, 'client_closed') };
    this.socket.on('data', this.onData);
    this.socket.once('timeout', () => this.failed('headers_timeout', 504, 'the backend did not answer the upgrade in time'));
    this.socket.once('end', () => {
      if (!this.done) this.parser.finish();
      this.failed('reset', 502, 'the backend closed the connection');
    });
    this.socket.once('close', () => this.failed('reset', 502, 'the backend closed the connection'));
  }

  private readonly onData = (chunk: Buffer): void => {
    const result = this.parser.execute(chunk);
    if (typeof result !== 'number') return this.failed('bad_response', 502, `the backend's response is not valid HTTP/1.1 (${(result as ParseError).reason ?? (result as ParseError).code})`);
    // llhttp stops at the end of a 101 head: what follows is the new protocol's, for the client.
    if (this.switched) this.open(chunk.subarray(result));
  };

  headersComplete(_major: number, _minor: number, rawHeaders: string[], _method: unknown, _url: unknown, statusCode: number | undefined, reasonPhrase: string | undefined): number {
    const status = statusCode!;
    if (status === 101) {
      if (!upgradeAgrees(this.request.head.rawHeaders, rawHeaders)) {
        this.failed('bad_response', 502, 'the backend switched to a protocol the client did not ask for');
        return 0;
      }
      this.switched = true;
      this.head101 = `HTTP/1.1 101 ${reasonPhrase || 'Switching Protocols'}\r\n`;
      for (let index = 0; index < rawHeaders.length; index += 2) this.head101 += `${rawHeaders[index]}: ${rawHeaders[index + 1]}\r\n`;
      this.head101 += '\r\n';
      return 0;
    }
    if (status < 200) return 0; // 100, 103: the final answer follows
    this.status = status;
    const { lines, hasLength } = downstreamHeaders(rawHeaders, this.requestId);
    this.request.sendHead(status, reasonPhrase ?? '', lines, responseFraming(this.request.head, status, hasLength));
    return 0;
  }

  body(chunk: Buffer): void {
    if (this.request.write(chunk)) return;
    this.socket.pause();
    this.request.whenDrained(() => this.socket.resume());
  }

  messageComplete(): void {
    if (this.switched || this.status === 0) return;
    // A refused upgrade: answered like any response; the client's connection reads on as HTTP.
    this.finish(this.status, null); // logged before whatever the client sent next is served
    this.request.end();
  }

  executed(): void {}

  private open(after: Buffer): void {
    this.done = true;
    this.socket.off('data', this.onData);
    this.parser.free();
    this.request.clientCloseListener = null;
    const { socket: client, rest } = this.tunnel.take();
    client.on('error', () => client.destroy());
    client.write(this.head101, 'latin1');
    if (after.length) client.write(after);
    if (rest.length) this.socket.write(rest);
    this.socket.pipe(client);
    client.pipe(this.socket);
    this.socket.on('close', () => client.destroy());
    client.on('close', () => this.socket.destroy());
    this.options.onDone(this.backend, 101, null);
  }

  private failed(kind: string, status: number, message: string): void {
    if (this.done) return;
    if (this.request.headSent) {
      this.request.destroy();
      return this.finish(this.status, kind);
    }
    fail(this.request, status, kind, message, this.backend, this.options);
    this.finish(status, null, true);
  }

  private finish(status: number, error: string | null, reported = false): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    // Maybe inside one of the parser's own callbacks: freed once it returned.
    queueMicrotask(() => this.parser.free());
    if (!reported) this.options.onDone(this.backend, status, error);
  }
}

function fail(request: InboundRequest, status: number, kind: string, message: string, backend: string | null, options: UpgradeOptions): void {
  if (request.finished) return;
  request.reply(status, JSON.stringify({ error: status === 504 ? 'gateway_timeout' : 'bad_gateway', message }));
  options.onDone(backend, status, kind);
}

/**
 * The one protocol a tunnel opens for: its frames carry no HTTP requests. Behind an h2c tunnel (RFC 9113
 * deprecates the h2c upgrade) the client would send HTTP/2 requests straight to the backend, unseen by
 * auth and logs ("h2c smuggling").
 */
const TUNNELLED = 'websocket';

/** Whether a request's Upgrade names WebSocket; any other Upgrade goes on without it, as a plain request. */
export function asksForWebSocket(requestHeaders: string[]): boolean {
  return upgradeTokens(requestHeaders).includes(TUNNELLED);
}

/** The backend switched to WebSocket, which the client asked for (RFC 9110 §7.8). */
function upgradeAgrees(requestHeaders: string[], responseHeaders: string[]): boolean {
  const given = upgradeTokens(responseHeaders);
  return given.length > 0 && given.every((token) => token === TUNNELLED) && asksForWebSocket(requestHeaders);
}

function upgradeTokens(raw: string[]): string[] {
  const tokens: string[] = [];
  for (let index = 0; index < raw.length; index += 2) {
    if (raw[index].toLowerCase() !== 'upgrade') continue;
    for (const token of raw[index + 1].split(',')) if (token.trim()) tokens.push(token.trim().toLowerCase());
  }
  return tokens;
}

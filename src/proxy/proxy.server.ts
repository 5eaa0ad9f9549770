import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RouteSnapshot } from '../registry/routes.js';
import { authenticatorFor, Refused, type Authenticator, type Granted } from './auth/index.js';
import type { BalanceRequest } from './balancers/index.js';
import { ClientAddress } from './client-address.js';
import { Exchange, type ExchangeRecord, type ForwardOptions } from './forward.js';
import { requestIdOf, upstreamHeaders } from './headers.js';
import type { AppPolicy, PolicySet } from './policy.js';
import { RouteTable, type RouteEntry } from './route-table.js';
import { passUpgrade, refuse } from './upgrade.js';
import { Upstreams, type Upstream } from './upstreams.js';

export interface ProxyServerOptions {
  host: string;
  port: number;
  retries: number;
  timeouts: { connect: number; headers: number; idle: number };
  trustedProxies: readonly string[];
  upstreamConnections: number;
  /** Called once per finished request (access log, metrics); null for neither. */
  onExchange: ((record: ExchangeRecord) => void) | null;
}

/** Seconds a client is told to wait when an app has no healthy backend. */
const RETRY_AFTER_SECONDS = '5';

/**
 * The public listener: Node's http server, a route table swapped whole on
 * every registry change, the app's auth, its balancer, an undici pool per
 * backend. Nothing here touches Nest, the database or any network but the
 * chosen backend. One runs in each proxy worker process (or in-process).
 */
export class ProxyServer {
  private table: RouteTable<Upstream> = RouteTable.empty();
  private snapshot: RouteSnapshot = { version: 0, apps: [] };
  private policies: PolicySet = {};
  private authenticators = new Map<AppPolicy, Authenticator>();
  private readonly upstreams: Upstreams;
  private readonly clients: ClientAddress;
  private readonly server: Server;
  private readonly forwardOptions: ForwardOptions;

  constructor(private readonly options: ProxyServerOptions) {
    this.upstreams = new Upstreams({
      connections: options.upstreamConnections,
      connectTimeout: options.timeouts.connect,
      headersTimeout: options.timeouts.headers,
      idleTimeout: options.timeouts.idle,
    });
    this.clients = new ClientAddress(options.trustedProxies);
    this.forwardOptions = { retries: options.retries, onFinish: options.onExchange ?? noop };
    this.server = createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 65_000 }, (req, res) => this.handle(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
    this.server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Swaps in a new route snapshot (older versions than the current one are ignored). */
  setRoutes(snapshot: RouteSnapshot): void {
    if (snapshot.version < this.snapshot.version) return;
    this.snapshot = snapshot;
    this.rebuild();
  }

  /** Swaps in the apps' policies (balancer, auth, key digests). */
  setPolicies(policies: PolicySet): void {
    this.policies = policies;
    this.authenticators = new Map();
    this.rebuild();
  }

  get routeVersion(): number {
    return this.table.version;
  }

  /** Stops accepting, closes idle client connections and every pool. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const force = setTimeout(() => this.server.closeAllConnections(), 5_000);
    await closed;
    clearTimeout(force);
    await this.upstreams.close();
  }

  private rebuild(): void {
    const table = RouteTable.build(this.snapshot, this.policies, (backend) => this.upstreams.get(backend));
    this.table = table;
    this.upstreams.retain(table.entries.flatMap((entry) => entry.targets.map((target) => target.upstream)));
  }

  private authenticator(entry: RouteEntry<Upstream>): Authenticator {
    let authenticator = this.authenticators.get(entry.policy);
    if (!authenticator) this.authenticators.set(entry.policy, (authenticator = authenticatorFor(entry.app, entry.policy)));
    return authenticator;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const entry = this.table.lookup(req.headers.host);
    if (!entry) return this.reply(req, res, 404, 'not_found', `no app serves the host ${JSON.stringify(req.headers.host ?? '')}`);
    if (!entry.targets.length) return this.reply(req, res, 503, 'unavailable', `${entry.app} has no healthy instance right now`, { 'retry-after': RETRY_AFTER_SECONDS }, entry.app);
    const path = req.url ?? '/';
    const outcome = this.authenticator(entry).check(req.headers, pathOnly(path));
    if (outcome instanceof Promise) {
      outcome.then(
        (result) => this.authorized(req, res, entry, result),
        () => this.reply(req, res, 502, 'bad_gateway', 'the auth check failed', {}, entry.app),
      );
    } else {
      this.authorized(req, res, entry, outcome);
    }
  }

  private authorized(req: IncomingMessage, res: ServerResponse, entry: RouteEntry<Upstream>, outcome: Granted | Refused): void {
    if (outcome instanceof Refused) {
      // The body is not wanted; drain it so the client's keep-alive connection stays usable.
      req.resume();
      return this.reply(req, res, outcome.status, outcome.error, outcome.message, { 'www-authenticate': outcome.challenge }, entry.app);
    }
    const peer = req.socket.remoteAddress ?? '';
    const trusted = this.clients.isTrusted(peer);
    const requestId = requestIdOf(req, randomUUID);
    const headers = upstreamHeaders(req, { peer, trusted, requestId, subject: outcome.subject, scopes: outcome.scopes });
    new Exchange(req, res, entry, this.balanceRequest(req, entry, peer, trusted), headers, requestId, this.forwardOptions).start();
  }

  private balanceRequest(req: IncomingMessage, entry: RouteEntry<Upstream>, peer: string, trusted: boolean): BalanceRequest {
    const clientIp = trusted ? this.clients.resolve(peer, req.headers['x-forwarded-for']) : peer;
    const url = req.url ?? '/';
    return { clientIp, path: entry.policy.hashQuery ? url : pathOnly(url) };
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const entry = this.table.lookup(req.headers.host);
    if (!entry) return refuse(socket, 404, 'not_found', `no app serves the host ${JSON.stringify(req.headers.host ?? '')}`);
    if (!entry.targets.length) return refuse(socket, 503, 'unavailable', `${entry.app} has no healthy instance right now`, { 'retry-after': RETRY_AFTER_SECONDS });
    const go = (outcome: Granted | Refused) => {
      if (outcome instanceof Refused) return refuse(socket, outcome.status, outcome.error, outcome.message, { 'www-authenticate': outcome.challenge });
      const peer = req.socket.remoteAddress ?? '';
      const trusted = this.clients.isTrusted(peer);
      const requestId = requestIdOf(req, randomUUID);
      const headers = upstreamHeaders(req, { peer, trusted, requestId, subject: outcome.subject, scopes: outcome.scopes }, true);
      const started = performance.now();
      const host = req.headers.host ?? '';
      passUpgrade(req, socket, head, entry, this.balanceRequest(req, entry, peer, trusted), headers, {
        retries: this.options.retries,
        connectTimeout: this.options.timeouts.connect,
        idleTimeout: this.options.timeouts.idle,
        onDone: (backend, status, upstreamError) =>
          this.options.onExchange?.({ app: entry.app, host, backend, method: req.method ?? 'GET', path: req.url ?? '', status, bytes: 0, durationMs: performance.now() - started, retries: 0, upstreamError, requestId }),
      });
    };
    const outcome = this.authenticator(entry).check(req.headers, pathOnly(req.url ?? '/'));
    if (outcome instanceof Promise) outcome.then(go, () => refuse(socket, 502, 'bad_gateway', 'the auth check failed'));
    else go(outcome);
  }

  private reply(req: IncomingMessage, res: ServerResponse, status: number, error: string, message: string, extra: Record<string, string> = {}, app = ''): void {
    const started = performance.now();
    const body = JSON.stringify({ error, message });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
    this.options.onExchange?.({
      app, host: req.headers.host ?? '', backend: null, method: req.method ?? '', path: req.url ?? '', status, bytes: body.length,
      durationMs: performance.now() - started, retries: 0, upstreamError: null, requestId: '',
    });
  }
}

function pathOnly(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

function noop(): void {}

import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { RouteSnapshot } from '../registry/routes.js';
import { authenticatorFor, Refused, type Authenticator, type Granted } from './auth/index.js';
import type { BalanceRequest } from './balancers/index.js';
import { ClientAddress } from './client-address.js';
import { Exchange, type ExchangeRecord, type ForwardOptions } from './forward.js';
import { requestIdOf, upstreamHead } from './headers.js';
import type { UpgradeTunnel } from './http1/client-connection.js';
import type { InboundRequest } from './http1/inbound-request.js';
import { Http1Listener } from './http1/listener.js';
import { pathOnly, type RequestHead } from './http1/request-head.js';
import type { AppPolicy, PolicySet } from './policy.js';
import { BadTarget, originForm, targetAuthority } from './request-target.js';
import { RouteTable, type RouteEntry } from './route-table.js';
import { passUpgrade } from './upgrade.js';
import { Upstreams, type Upstream } from './upstreams.js';

export interface ProxyServerOptions {
  host: string;
  port: number;
  retries: number;
  timeouts: { connect: number; headers: number; idle: number; clientHeaders: number; clientKeepAlive: number };
  trustedProxies: readonly string[];
  upstreamConnections: number;
  /** Called once per finished request (access log, metrics); null for neither. */
  onExchange: ((record: ExchangeRecord) => void) | null;
}

/** Seconds a client is told to wait when an app has no healthy backend. */
const RETRY_AFTER_SECONDS = '5';

/**
 * The public listener: HTTP/1.1 on raw sockets parsed by llhttp (see
 * http1/llhttp.ts for why not node:http), a route table swapped whole on
 * every registry change, the app's auth, its balancer, a keep-alive pool per
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
  private readonly listener: Http1Listener;
  private readonly forwardOptions: ForwardOptions;

  constructor(private readonly options: ProxyServerOptions) {
    this.upstreams = new Upstreams({ connections: options.upstreamConnections, connectTimeout: options.timeouts.connect });
    this.clients = new ClientAddress(options.trustedProxies);
    this.forwardOptions = { retries: options.retries, headersTimeout: options.timeouts.headers, idleTimeout: options.timeouts.idle, onFinish: options.onExchange ?? noop };
    this.listener = new Http1Listener(
      { request: (request) => this.handle(request), upgrade: (request, tunnel) => this.handle(request, tunnel) },
      { keepAliveTimeout: options.timeouts.clientKeepAlive, headersTimeout: options.timeouts.clientHeaders },
    );
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    return this.listener.listen(this.options.port, this.options.host);
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

  /** Stops accepting, lets requests in progress finish (5 s at most), closes every pool. */
  async close(): Promise<void> {
    await this.listener.close();
    this.upstreams.close();
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

  /** A request (or an Upgrade handshake, with its `tunnel`): routed, authorized, then forwarded. */
  private handle(request: InboundRequest, tunnel?: UpgradeTunnel): void {
    const head = request.head;
    // Routing and scopes read the target as the backend will, and the backend gets what was checked.
    try {
      const authority = targetAuthority(head.url);
      if (authority !== null) head.headers.host = authority;
      head.url = originForm(head.url);
    } catch (error) {
      if (error instanceof BadTarget) return this.reply(request, 400, 'bad_request', error.message);
      throw error;
    }
    const entry = this.table.lookup(head.headers.host);
    if (!entry) return this.reply(request, 404, 'not_found', `no app serves the host ${JSON.stringify(head.headers.host ?? '')}`);
    if (!entry.targets.length) return this.reply(request, 503, 'unavailable', `${entry.app} has no healthy instance right now`, `retry-after: ${RETRY_AFTER_SECONDS}\r\n`, entry.app);
    const outcome = this.authenticator(entry).check(head.headers, head.url === '*' ? '/' : pathOnly(head.url));
    if (outcome instanceof Promise) {
      outcome.then(
        (result) => this.authorized(request, entry, result, tunnel),
        () => this.reply(request, 502, 'bad_gateway', 'the auth check failed', '', entry.app),
      );
    } else {
      this.authorized(request, entry, outcome, tunnel);
    }
  }

  private authorized(request: InboundRequest, entry: RouteEntry<Upstream>, outcome: Granted | Refused, tunnel: UpgradeTunnel | undefined): void {
    if (request.finished) return; // the client left while a key set was fetched
    if (outcome instanceof Refused) return this.reply(request, outcome.status, outcome.error, outcome.message, `www-authenticate: ${outcome.challenge}\r\n`, entry.app);
    const head = request.head;
    const trusted = this.clients.isTrusted(head.peer);
    const requestId = requestIdOf(head, randomUUID);
    const forward = upstreamHead(head, { trusted, requestId, subject: outcome.subject, scopes: outcome.scopes }, tunnel !== undefined);
    const balance = this.balanceRequest(head, entry, trusted);
    if (tunnel === undefined) return new Exchange(request, entry, balance, forward, requestId, this.forwardOptions).start();
    const started = performance.now();
    passUpgrade(request, tunnel, forward, requestId, entry, balance, {
      retries: this.options.retries,
      connectTimeout: this.options.timeouts.connect,
      idleTimeout: this.options.timeouts.idle,
      onDone: (backend, status, upstreamError) =>
        this.options.onExchange?.({ app: entry.app, host: head.headers.host ?? '', backend, method: head.method, path: head.url, status, bytes: 0, requestBytes: 0, durationMs: performance.now() - started, retries: 0, upstreamError, requestId }),
    });
  }

  private balanceRequest(head: RequestHead, entry: RouteEntry<Upstream>, trusted: boolean): BalanceRequest {
    return new BalanceInput(head, entry.policy.hashQuery, trusted, this.clients);
  }

  private reply(request: InboundRequest, status: number, error: string, message: string, extraLines = '', app = ''): void {
    const started = performance.now();
    const body = JSON.stringify({ error, message });
    request.reply(status, body, extraLines);
    const head = request.head;
    this.options.onExchange?.({
      app, host: head.headers.host ?? '', backend: null, method: head.method, path: head.url, status, bytes: body.length, requestBytes: 0,
      durationMs: performance.now() - started, retries: 0, upstreamError: null, requestId: '',
    });
  }
}


function noop(): void {}

/** What a balancer may hash on, worked out only if it asks (random and least-load never do). */
class BalanceInput implements BalanceRequest {
  constructor(
    private readonly head: RequestHead,
    private readonly hashQuery: boolean,
    private readonly trusted: boolean,
    private readonly clients: ClientAddress,
  ) {}

  get clientIp(): string {
    return this.clients.resolve(this.head.peer, this.trusted ? this.head.headers['x-forwarded-for'] : undefined);
  }

  get path(): string {
    return this.hashQuery ? this.head.url : pathOnly(this.head.url);
  }
}

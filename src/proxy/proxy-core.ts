import { randomUUID } from 'node:crypto';
import type { RouteSnapshot } from '../registry/routes.js';
import { authenticatorFor, Refused, type Authenticator, type Granted } from './auth/index.js';
import type { BalanceRequest } from './balancers/index.js';
import { ClientAddress } from './client-address.js';
import type { ExchangeRecord } from './forward.js';
import { requestIdOf, upstreamHead, type Forwarded } from './headers.js';
import { pathOnly, type RequestHead } from './http1/request-head.js';
import type { AppPolicy, PolicySet } from './policy.js';
import type { ProxyServerOptions } from './proxy.server.js';
import { BadTarget, originForm, targetAuthority } from './request-target.js';
import { RouteTable, type RouteEntry } from './route-table.js';
import { ServedCertificates } from './tls/served-certificates.js';
import { Upstreams, type BackendPool, type PoolFactory, type Upstream } from './upstreams.js';

/** Seconds a client is told to wait when an app has no healthy backend. */
const RETRY_AFTER_SECONDS = '5';

/** A request the proxy answers itself (no route, no healthy backend, auth refused), with a JSON body. */
export class Refusal {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly message: string,
    /** The app the host routes to, '' when none. */
    readonly app: string,
    /** Extra response headers (Retry-After, WWW-Authenticate), lowercased names. */
    readonly headers: Readonly<Record<string, string>> | null = null,
  ) {}

  get body(): string {
    return JSON.stringify({ error: this.error, message: this.message });
  }

  get contentType(): string {
    return 'application/json';
  }
}

/** The key authorization for a pending ACME HTTP-01 challenge: answered by the proxy itself, like a refusal, but 200 text/plain. */
export class ChallengeAnswer extends Refusal {
  constructor(private readonly keyAuthorization: string) {
    super(200, 'ok', 'ACME HTTP-01 key authorization', '');
  }

  override get body(): string {
    return this.keyAuthorization;
  }

  override get contentType(): string {
    return 'text/plain';
  }
}

/** Where a CA fetches HTTP-01 key authorizations (RFC 8555 §8.3). */
const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** A request that may go to a backend of `entry`: who it acts as, and how the balancer sees it. */
export interface Admitted<Pool extends BackendPool> {
  entry: RouteEntry<Upstream<Pool>>;
  balance: BalanceRequest;
  forwarded: Forwarded;
}

export type Admission<Pool extends BackendPool> = Admitted<Pool> | Refusal;

/**
 * What both engines share: the route table (swapped whole on every registry
 * change), the apps' policies and authenticators, the choice of backends, the
 * request-target normalisation (request-target.ts), and the access-log record
 * of answers the proxy gives itself. An engine turns a client's head into a
 * RequestHead, asks `admit`, and forwards (or passes an Upgrade through) or
 * answers as told.
 */
export class ProxyCore<Pool extends BackendPool> {
  private table: RouteTable<Upstream<Pool>> = RouteTable.empty();
  private snapshot: RouteSnapshot = { version: 0, apps: [] };
  private policies: PolicySet = {};
  private authenticators = new Map<AppPolicy, Authenticator>();
  private readonly upstreams: Upstreams<Pool>;
  private readonly clients: ClientAddress;
  /** The port clients reach the TLS listener on (redirects name it); null without a TLS listener. */
  tlsPublicPort: number | null = null;

  constructor(
    readonly options: ProxyServerOptions,
    createPool: PoolFactory<Pool>,
    /** Certificates, ticket keys and pending ACME challenges, as the primary's book last said. */
    readonly certificates: ServedCertificates = new ServedCertificates(),
  ) {
    this.upstreams = new Upstreams(createPool);
    this.clients = new ClientAddress(options.trustedProxies);
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

  /** Closes every backend pool (requests on them finish first). */
  closePools(): void {
    this.upstreams.close();
  }

  /**
   * Route, backends, auth: synchronous unless the app's auth must fetch
   * something (a JWKS). Normalises `head.url` to origin form first (an
   * absolute-form target routes by its authority), so routing and scopes read
   * the target as the backend will, and the backend gets what was checked.
   */
  admit(head: RequestHead): Admission<Pool> | Promise<Admission<Pool>> {
    try {
      const authority = targetAuthority(head.url);
      if (authority !== null) head.headers.host = authority;
      head.url = originForm(head.url);
    } catch (error) {
      if (error instanceof BadTarget) return new Refusal(400, 'bad_request', error.message, '');
      throw error;
    }
    // As nginx: TRACE would echo the request, its cookies and the headers the proxy adds, back to whoever sent it.
    if (head.method === 'TRACE') return new Refusal(405, 'method_not_allowed', 'this proxy does not pass TRACE requests', '');
    // ACME HTTP-01, for any Host, before routing and auth (a CA validating a domain no app serves yet must get its answer).
    if (!head.secure && head.method === 'GET' && !head.upgrade && head.url.startsWith(CHALLENGE_PREFIX)) return this.challenge(pathOnly(head.url).slice(CHALLENGE_PREFIX.length));
    const entry = this.table.lookup(head.headers.host);
    if (!entry) return new Refusal(404, 'not_found', `no app serves the host ${JSON.stringify(head.headers.host ?? '')}`, '');
    const https = this.httpsRule(head, entry);
    if (https) return https;
    if (!entry.targets.length) return new Refusal(503, 'unavailable', `${entry.app} has no healthy instance right now`, entry.app, { 'retry-after': RETRY_AFTER_SECONDS });
    const outcome = this.authenticator(entry).check(head.headers, head.url === '*' ? '/' : pathOnly(head.url));
    if (outcome instanceof Promise) {
      return outcome.then(
        (result) => this.granted(head, entry, result),
        () => new Refusal(502, 'bad_gateway', 'the auth check failed', entry.app),
      );
    }
    return this.granted(head, entry, outcome);
  }

  /** Tells the access log and metrics about an answer the proxy gave itself. */
  refused(head: RequestHead, refusal: Refusal, started: number): void {
    this.options.onExchange?.({
      app: refusal.app, host: head.headers.host ?? '', backend: null, method: head.method, path: head.url, status: refusal.status,
      bytes: refusal.body.length, requestBytes: 0, durationMs: performance.now() - started, retries: 0, upstreamError: null, requestId: '',
    });
  }

  /** Tells the access log and metrics about a forwarded request. */
  finished(record: ExchangeRecord): void {
    this.options.onExchange?.(record);
  }

  /** An app's HTTPS policy: plain HTTP redirected (301, to the TLS listener's public port), or HTTPS refused for `tls: off`. */
  private httpsRule(head: RequestHead, entry: RouteEntry<Upstream<Pool>>): Refusal | null {
    if (head.secure) return entry.policy.tls === 'off' ? new Refusal(421, 'misdirected_request', `${entry.app} is not served over HTTPS`, entry.app) : null;
    const port = this.tlsPublicPort;
    if (!entry.policy.redirectHttp || port === null) return null;
    const name = (head.headers.host ?? '').replace(/:\d+$/, '');
    const location = `https://${name}${port === 443 ? '' : `:${port}`}${head.url === '*' ? '/' : head.url}`;
    return new Refusal(301, 'moved_permanently', `${entry.app} is served over HTTPS: ${location}`, entry.app, { location });
  }

  private challenge(token: string): Refusal {
    const keyAuthorization = this.certificates.keyAuthorization(token);
    return keyAuthorization === undefined ? new Refusal(404, 'not_found', 'no ACME challenge is pending for this token', '') : new ChallengeAnswer(keyAuthorization);
  }

  private rebuild(): void {
    const table = RouteTable.build(this.snapshot, this.policies, (backend) => this.upstreams.get(backend));
    this.table = table;
    this.upstreams.retain(table.entries.flatMap((entry) => entry.targets.map((target) => target.upstream)));
  }

  private authenticator(entry: RouteEntry<Upstream<Pool>>): Authenticator {
    let authenticator = this.authenticators.get(entry.policy);
    if (!authenticator) this.authenticators.set(entry.policy, (authenticator = authenticatorFor(entry.app, entry.policy)));
    return authenticator;
  }

  private granted(head: RequestHead, entry: RouteEntry<Upstream<Pool>>, outcome: Granted | Refused): Admission<Pool> {
    if (outcome instanceof Refused) return new Refusal(outcome.status, outcome.error, outcome.message, entry.app, { 'www-authenticate': outcome.challenge });
    const trusted = this.clients.isTrusted(head.peer);
    const forwarded: Forwarded = { trusted, requestId: requestIdOf(head, randomUUID), subject: outcome.subject, scopes: outcome.scopes };
    return { entry, balance: new BalanceInput(head, entry.policy.hashQuery, trusted, this.clients), forwarded };
  }
}

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

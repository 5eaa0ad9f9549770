import type { RouteSnapshot } from '../registry/routes.js';
import { chooseEngine } from './engine-choice.js';
import type { EngineReport, EngineSetting, ProxyEngine } from './engine.js';
import type { ExchangeRecord } from './forward.js';
import type { PolicySet } from './policy.js';
import { ProxyCore } from './proxy-core.js';
import type { BookChange } from './tls/certificate-book.js';
import { ServedCertificates } from './tls/served-certificates.js';
import type { BackendPool } from './upstreams.js';

export interface ProxyServerOptions {
  host: string;
  port: number;
  /** Listen on sockets of this process's own, bound with SO_REUSEPORT beside the other workers' (accept-mode.ts); the Node must support it. */
  reusePort?: boolean;
  /** Which engine serves (`auto`: the fast one when its self-test passes). */
  engine: EngineSetting;
  /** For tests: the fast engine's self-test fails, as on a Node whose internals moved. */
  engineSelfTestFault?: boolean;
  retries: number;
  timeouts: { connect: number; headers: number; idle: number; clientHeaders: number; clientKeepAlive: number };
  trustedProxies: readonly string[];
  /** Idle keep-alive connections kept per backend (proxy.upstreamConnections). */
  upstreamConnections: number;
  /** Connections open per backend at once, busy ones included; 0 or absent: no limit (proxy.upstreamMaxConnections). */
  upstreamMaxConnections?: number;
  /** Client connections per listener of this process at once (proxy.maxConnections); default 10,000. */
  maxConnections?: number;
  /** A connection was closed as it was accepted, the listener being at maxConnections. */
  onConnectionDropped?: (() => void) | null;
  /** The TLS listener (proxy.tls); absent: plain HTTP only. `publicPort` is the port clients reach it on (redirects name it). */
  tls?: { host: string; port: number; publicPort?: number; defaultDomain?: string; ocspStapling?: boolean; /** Offer HTTP/2 by ALPN (proxy.tls.http2; off when absent). */ http2?: boolean };
  /** Called once per finished request (access log, metrics); null for neither. */
  onExchange: ((record: ExchangeRecord) => void) | null;
}

/**
 * The public listener of one process (a proxy worker, or the main process
 * with `proxy.workers: 0`): the engine-neutral core (ProxyCore) and the
 * engine `proxy.engine` picks, chosen and loaded when `listen` is called.
 * Routes and policies given before that are kept and applied then.
 */
export class ProxyServer {
  private core: ProxyCore<BackendPool> | null = null;
  private engine: ProxyEngine | null = null;
  private routes: RouteSnapshot | null = null;
  private policies: PolicySet | null = null;
  /** Which engine serves and why; null until `listen`. */
  report: EngineReport | null = null;
  /** The TLS listener's bound port; null without one (or before `listen`). */
  tlsPort: number | null = null;
  /** Certificates and pending ACME challenges, kept from the start (changes may come before `listen`). */
  readonly certificates: ServedCertificates;

  constructor(private readonly options: ProxyServerOptions) {
    this.certificates = new ServedCertificates(options.tls?.defaultDomain ?? null);
  }

  /** Picks and starts the engine (and its TLS listener when configured); resolves with the plain listener's bound port (useful with port 0). */
  async listen(): Promise<number> {
    const { module, report } = await chooseEngine(this.options.engine, this.options.engineSelfTestFault ?? false);
    const core = new ProxyCore(this.options, (address, port) => module.createPool(address, port, this.options), this.certificates);
    if (this.policies) core.setPolicies(this.policies);
    if (this.routes) core.setRoutes(this.routes);
    this.core = core;
    this.engine = module.createEngine(core, this.options);
    this.report = report;
    const sharing = { reusePort: this.options.reusePort ?? false };
    const port = await this.engine.listen(this.options.port, this.options.host, sharing);
    if (this.options.tls) {
      this.tlsPort = await this.engine.listenTls(this.options.tls.port, this.options.tls.host, sharing);
      core.tlsPublicPort = this.options.tls.publicPort ?? this.tlsPort;
      this.report = { ...report, tls: this.engine.tlsTerminator ?? undefined };
    }
    return port;
  }

  /** Swaps in a new route snapshot (older versions than the current one are ignored). */
  setRoutes(snapshot: RouteSnapshot): void {
    if (this.routes && snapshot.version < this.routes.version) return;
    this.routes = snapshot;
    this.core?.setRoutes(snapshot);
  }

  /** Swaps in the apps' policies (balancer, auth, key digests). */
  setPolicies(policies: PolicySet): void {
    this.policies = policies;
    this.core?.setPolicies(policies);
  }

  /** A change of the primary's certificate book (a certificate, or an ACME challenge). */
  applyCertificates(change: BookChange): void {
    this.certificates.apply(change);
  }

  get routeVersion(): number {
    return this.core?.routeVersion ?? 0;
  }

  /** Stops accepting, lets requests in progress finish (5 s at most), closes every pool. */
  async close(): Promise<void> {
    await this.engine?.close();
    this.core?.closePools();
  }
}

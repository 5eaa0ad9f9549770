/**
 * A Consul agent's HTTP API, in process, for tests and benchmarks (no Consul
 * binary can be installed here). Written from HashiCorp's API docs
 * (developer.hashicorp.com/consul/api-docs): agent/service, agent/check,
 * health/service, catalog/services, kv, and blocking queries. What it keeps
 * faithful because clients depend on it:
 *
 * - every write takes the next Raft index; blocking reads (`?index=N&wait=`)
 *   hang until the resource's index is > N or the wait (default 5m, at most
 *   10m, plus up to wait/16 jitter) ends, and always send `X-Consul-Index`;
 *   a return is no promise of a change (idempotent writes still wake);
 * - health/service's index is that service's own index; catalog/services',
 *   the services table's (a check's status is no change to it); health/state's,
 *   the checks table's; kv's, the largest ModifyIndex (or tombstone) under
 *   the key/prefix, else the kvs table's;
 * - a client address may hold at most 200 connections at once
 *   (`limits.http_max_conns_per_client`); the agent closes any past that;
 * - a service's check starts critical unless `Status` is given; a TTL check
 *   goes critical with output "TTL expired"; a check updated to the status and
 *   output it already has is not a catalog change (no index bump, like the
 *   agent's anti-entropy sync);
 * - DeregisterCriticalServiceAfter has a 1 minute minimum and the reaper runs
 *   every 30 s (both settable here, so tests need not wait minutes);
 * - the ACL token comes in `X-Consul-Token`, `Authorization: Bearer` or `?token=`; a token that may
 *   read no service gets empty catalog and health reads flagged `X-Consul-Results-Filtered-By-ACLs`.
 *
 * `resetIndex()` makes every index go backwards, as after a snapshot restore,
 * so clients' "reset when the index goes backwards" can be tested.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConsulStandinOptions {
  /** Require this ACL token on every request. */
  token?: string;
  /** Consul: 1 minute. */
  deregisterMinimumMs?: number;
  /** Consul: 30 s. */
  reapIntervalMs?: number;
  node?: string;
  /**
   * A second token that may read no service or node: Consul then answers catalog and health reads with
   * what it may see (nothing) and `X-Consul-Results-Filtered-By-ACLs: true`, not 403.
   */
  filteredToken?: string;
  /** Consul's `limits.http_max_conns_per_client`: 200. */
  maxConnsPerClient?: number;
}

interface Check {
  CheckID: string;
  Name: string;
  Status: 'passing' | 'warning' | 'critical';
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ttlMs: number | null;
  deregisterAfterMs: number | null;
  criticalSince: number | null;
  CreateIndex: number;
  ModifyIndex: number;
  timer?: NodeJS.Timeout;
}

interface Service {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
}

interface KvPair {
  Key: string;
  Value: string | null;
  Flags: number;
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ConsulStandin {
  url = '';
  /** Requests served, by "METHOD /path" without the query: lets a test see what a client did. */
  readonly requests: string[] = [];
  private server: Server | undefined;
  private index = 1;
  private servicesIndex = 1;
  private checksIndex = 1;
  /** Connections refused for being past maxConnsPerClient. */
  refusedConnections = 0;
  private kvsIndex = 1;
  private readonly serviceIndexes = new Map<string, number>();
  private readonly services = new Map<string, Service>();
  private readonly checks = new Map<string, Check>();
  private readonly kv = new Map<string, KvPair>();
  private readonly tombstones = new Map<string, number>();
  private readonly waiters = new Set<(abandoned: boolean) => void>();
  private reaper: NodeJS.Timeout | undefined;
  private readonly node: string;

  constructor(private readonly options: ConsulStandinOptions = {}) {
    this.node = options.node ?? 'standin';
  }

  static async start(options: ConsulStandinOptions = {}): Promise<ConsulStandin> {
    const standin = new ConsulStandin(options);
    standin.server = createServer((request, response) => void standin.handle(request, response));
    const open = new Map<string, number>();
    const limit = options.maxConnsPerClient ?? 200;
    standin.server.on('connection', (socket) => {
      const client = socket.remoteAddress ?? '';
      const count = (open.get(client) ?? 0) + 1;
      open.set(client, count);
      socket.once('close', () => open.set(client, open.get(client)! - 1));
      if (count > limit) {
        standin.refusedConnections++;
        socket.destroy();
      }
    });
    await new Promise<void>((resolve) => standin.server!.listen(0, '127.0.0.1', resolve));
    standin.url = `http://127.0.0.1:${(standin.server.address() as AddressInfo).port}`;
    standin.reaper = setInterval(() => standin.reap(), options.reapIntervalMs ?? 30_000);
    return standin;
  }

  async stop(): Promise<void> {
    clearInterval(this.reaper);
    for (const check of this.checks.values()) clearTimeout(check.timer);
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Every index goes back to a small number, as after a snapshot restore; blocked queries return at once. */
  resetIndex(): void {
    this.index = 2;
    this.servicesIndex = 2;
    this.kvsIndex = 2;
    for (const name of this.serviceIndexes.keys()) this.serviceIndexes.set(name, 2);
    for (const service of this.services.values()) service.CreateIndex = service.ModifyIndex = 2;
    for (const pair of this.kv.values()) pair.CreateIndex = pair.ModifyIndex = 2;
    for (const key of this.tombstones.keys()) this.tombstones.set(key, 2);
    this.wake(true);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://standin');
    this.requests.push(`${request.method} ${url.pathname}${url.searchParams.has('index') ? ` index=${url.searchParams.get('index')}` : ''}`);
    try {
      if (this.options.token) {
        const given = request.headers['x-consul-token'] ?? /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? url.searchParams.get('token');
        if (!given) throw new HttpError(403, 'Permission denied: anonymous token lacks permission');
        if (given !== this.options.token && given !== this.options.filteredToken) throw new HttpError(403, 'ACL not found');
        if (given === this.options.filteredToken && request.method === 'GET' && /^\/v1\/(catalog|health)\//.test(url.pathname)) {
          response.writeHead(200, { 'content-type': 'application/json', 'X-Consul-Index': String(this.index), 'X-Consul-Results-Filtered-By-ACLs': 'true' });
          response.end(url.pathname === '/v1/catalog/services' ? '{}' : '[]');
          return;
        }
      }
      const body = await readBody(request);
      const result = await this.route(request.method ?? 'GET', url, body, response);
      if (!response.headersSent) {
        response.writeHead(result.status ?? 200, { 'content-type': 'application/json', ...result.headers });
        response.end(result.body === undefined ? '' : JSON.stringify(result.body));
      }
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      response.end((error as Error).message);
    }
  }

  private async route(method: string, url: URL, body: Buffer, response: ServerResponse): Promise<{ status?: number; body?: unknown; headers?: Record<string, string> }> {
    const path = url.pathname;
    const query = url.searchParams;
    let match: RegExpExecArray | null;
    if (method === 'PUT' && path === '/v1/agent/service/register') return this.register(parseJson(body));
    if (method === 'PUT' && (match = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(path))) return this.deregister(decodeURIComponent(match[1]));
    if (method === 'PUT' && (match = /^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/.exec(path))) {
      const status = ({ pass: 'passing', warn: 'warning', fail: 'critical' } as const)[match[1] as 'pass' | 'warn' | 'fail'];
      return this.updateCheck(decodeURIComponent(match[2]), status, query.get('note') ?? '');
    }
    if (method === 'PUT' && (match = /^\/v1\/agent\/check\/update\/(.+)$/.exec(path))) {
      const update = parseJson(body) as { Status?: string; Output?: string };
      if (!['passing', 'warning', 'critical'].includes(update.Status ?? '')) throw new HttpError(400, 'Invalid check status');
      return this.updateCheck(decodeURIComponent(match[1]), update.Status as Check['Status'], update.Output ?? '');
    }
    if (method === 'GET' && path === '/v1/status/leader') return { body: '127.0.0.1:8300' };
    if (method === 'GET' && path === '/v1/catalog/services') {
      return this.blocking(query, response, () => this.servicesIndex, () => {
        const names: Record<string, string[]> = { consul: [] };
        for (const service of this.services.values()) names[service.Service] = [...new Set([...(names[service.Service] ?? []), ...service.Tags])];
        return names;
      });
    }
    if (method === 'GET' && (match = /^\/v1\/health\/state\/(any|passing|warning|critical)$/.exec(path))) {
      const state = match[1];
      return this.blocking(query, response, () => this.checksIndex, () => this.healthState(state));
    }
    if (method === 'GET' && (match = /^\/v1\/health\/service\/(.+)$/.exec(path))) {
      const name = decodeURIComponent(match[1]);
      return this.blocking(query, response, () => this.serviceIndexes.get(name) ?? this.servicesIndex, () => this.healthService(name, query));
    }
    if ((match = /^\/v1\/kv\/(.*)$/.exec(path))) {
      const key = decodeURIComponent(match[1]);
      if (method === 'GET') return this.kvGet(key, query, response);
      if (method === 'PUT') return this.kvPut(key, body, query);
      if (method === 'DELETE') return this.kvDelete(key, query);
    }
    throw new HttpError(405, `method ${method} not allowed on ${path}`);
  }

  // --- agent -----------------------------------------------------------

  private register(definition: Record<string, unknown>) {
    const name = definition.Name as string | undefined;
    if (!name) throw new HttpError(400, 'Missing service name');
    const id = (definition.ID as string | undefined) || name;
    const meta = (definition.Meta ?? {}) as Record<string, string>;
    if (Object.keys(meta).length > 64) throw new HttpError(400, 'Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs');
    for (const [key, value] of Object.entries(meta)) {
      if (!/^[A-Za-z0-9_-]{1,128}$/.test(key) || key.startsWith('consul-') || String(value).length > 512) throw new HttpError(400, `Invalid Service Meta: invalid pair ${key}`);
    }
    const definitions = (definition.Checks as Record<string, unknown>[] | undefined) ?? (definition.Check ? [definition.Check as Record<string, unknown>] : []);
    const parsedChecks = definitions.map((check, position) => ({
      id: (check.CheckID as string | undefined) ?? (definitions.length > 1 ? `service:${id}:${position + 1}` : `service:${id}`),
      ttlMs: check.TTL ? parseDuration(String(check.TTL)) : null,
      deregisterAfterMs: check.DeregisterCriticalServiceAfter ? Math.max(parseDuration(String(check.DeregisterCriticalServiceAfter)), this.options.deregisterMinimumMs ?? 60_000) : null,
      status: (check.Status as Check['Status'] | undefined) ?? 'critical',
      name: (check.Name as string | undefined) ?? `Service '${name}' check`,
      notes: (check.Notes as string | undefined) ?? '',
    }));
    for (const check of parsedChecks) if (!['passing', 'warning', 'critical'].includes(check.status)) throw new HttpError(400, 'Invalid check status');
    const previous = this.services.get(id);
    if (previous) this.removeService(previous, false);
    const index = this.bump();
    this.services.set(id, {
      ID: id, Service: name, Tags: (definition.Tags as string[] | undefined) ?? [], Address: (definition.Address as string | undefined) ?? '',
      Port: (definition.Port as number | undefined) ?? 0, Meta: meta, CreateIndex: previous?.CreateIndex ?? index, ModifyIndex: index,
    });
    for (const parsed of parsedChecks) {
      const check: Check = {
        CheckID: parsed.id, Name: parsed.name, Status: parsed.status, Notes: parsed.notes, Output: '', ServiceID: id, ServiceName: name,
        ttlMs: parsed.ttlMs, deregisterAfterMs: parsed.deregisterAfterMs, criticalSince: parsed.status === 'critical' ? Date.now() : null, CreateIndex: index, ModifyIndex: index,
      };
      this.checks.set(check.CheckID, check);
      this.armTtl(check);
    }
    this.touchService(name, index);
    this.checksIndex = index;
    return {};
  }

  private deregister(id: string) {
    const service = this.services.get(id);
    if (!service) throw new HttpError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
    this.removeService(service, true);
    return {};
  }

  private removeService(service: Service, bump: boolean): void {
    this.services.delete(service.ID);
    for (const check of [...this.checks.values()]) {
      if (check.ServiceID !== service.ID) continue;
      clearTimeout(check.timer);
      this.checks.delete(check.CheckID);
    }
    if (bump) {
      this.checksIndex = this.bump();
      this.touchService(service.Service, this.checksIndex);
    }
  }

  private updateCheck(id: string, status: Check['Status'], output: string) {
    const check = this.checks.get(id);
    if (!check) throw new HttpError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
    this.armTtl(check);
    if (check.Status === status && check.Output === output) return {};
    this.setStatus(check, status, output);
    return {};
  }

  private armTtl(check: Check): void {
    clearTimeout(check.timer);
    if (check.ttlMs === null) return;
    check.timer = setTimeout(() => this.setStatus(check, 'critical', 'TTL expired'), check.ttlMs);
  }

  private setStatus(check: Check, status: Check['Status'], output: string): void {
    if (!this.checks.has(check.CheckID)) return;
    const becameCritical = status === 'critical' && check.Status !== 'critical';
    check.Status = status;
    check.Output = output;
    check.criticalSince = status === 'critical' ? (becameCritical ? Date.now() : check.criticalSince) : null;
    // The service's health index and the checks table move; the services table (catalog/services) does not.
    const index = this.bump();
    check.ModifyIndex = index;
    this.checksIndex = index;
    this.serviceIndexes.set(check.ServiceName, index);
    this.wake();
  }

  /** The agent's reaper: services whose check has been critical past DeregisterCriticalServiceAfter go. */
  private reap(): void {
    const now = Date.now();
    for (const check of [...this.checks.values()]) {
      if (check.Status !== 'critical' || check.deregisterAfterMs === null || check.criticalSince === null) continue;
      if (now - check.criticalSince < check.deregisterAfterMs) continue;
      const service = this.services.get(check.ServiceID);
      if (service) this.removeService(service, true);
    }
  }

  // --- health and catalog ---------------------------------------------

  private healthService(name: string, query: URLSearchParams) {
    const nodeCheck = { Node: this.node, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Notes: '', Output: 'Agent alive and reachable', ServiceID: '', ServiceName: '', ServiceTags: [] };
    const entries = [...this.services.values()]
      .filter((service) => service.Service === name)
      .filter((service) => !query.has('tag') || query.getAll('tag').every((tag) => service.Tags.includes(tag)))
      .map((service) => ({
        Node: { ID: '00000000-0000-0000-0000-000000000001', Node: this.node, Address: '127.0.0.1', Datacenter: 'dc1', Meta: {}, TaggedAddresses: {} },
        Service: { ID: service.ID, Service: service.Service, Tags: service.Tags, Address: service.Address, Port: service.Port, Meta: service.Meta, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, CreateIndex: service.CreateIndex, ModifyIndex: service.ModifyIndex },
        Checks: [
          nodeCheck,
          ...[...this.checks.values()]
            .filter((check) => check.ServiceID === service.ID)
            .map((check) => ({ Node: this.node, CheckID: check.CheckID, Name: check.Name, Status: check.Status, Notes: check.Notes, Output: check.Output, ServiceID: check.ServiceID, ServiceName: check.ServiceName, ServiceTags: service.Tags, Type: check.ttlMs !== null ? 'ttl' : '' })),
        ],
      }));
    return query.has('passing') ? entries.filter((entry) => entry.Checks.every((check) => check.Status === 'passing')) : entries;
  }

  /** /v1/health/state/<state>: every check in that state (`any`: all), the node's own serfHealth among them. */
  private healthState(state: string) {
    const nodeCheck = { Node: this.node, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Notes: '', Output: 'Agent alive and reachable', ServiceID: '', ServiceName: '', ServiceTags: [], Type: '', CreateIndex: 1, ModifyIndex: 1 };
    const checks = [...this.checks.values()].map((check) => ({
      Node: this.node, CheckID: check.CheckID, Name: check.Name, Status: check.Status, Notes: check.Notes, Output: check.Output, ServiceID: check.ServiceID, ServiceName: check.ServiceName,
      ServiceTags: this.services.get(check.ServiceID)?.Tags ?? [], Type: check.ttlMs !== null ? 'ttl' : '', CreateIndex: check.CreateIndex, ModifyIndex: check.ModifyIndex,
    }));
    return [nodeCheck, ...checks].filter((check) => state === 'any' || check.Status === state);
  }

  // --- kv -------------------------------------------------------------

  private kvGet(key: string, query: URLSearchParams, response: ServerResponse) {
    const recurse = query.has('recurse');
    const matches = () => [...this.kv.values()].filter((pair) => (recurse ? pair.Key.startsWith(key) : pair.Key === key)).sort((a, b) => (a.Key < b.Key ? -1 : 1));
    const indexOf = () => {
      let highest = 0;
      for (const pair of matches()) highest = Math.max(highest, pair.ModifyIndex);
      for (const [gone, index] of this.tombstones) if (recurse ? gone.startsWith(key) : gone === key) highest = Math.max(highest, index);
      return highest || this.kvsIndex;
    };
    return this.blocking(query, response, indexOf, () => {
      const found = matches();
      return found.length ? found : undefined;
    });
  }

  private kvPut(key: string, body: Buffer, query: URLSearchParams) {
    if (!key) throw new HttpError(400, 'Missing key name');
    const existing = this.kv.get(key);
    if (query.has('cas') && Number(query.get('cas')) !== (existing?.ModifyIndex ?? 0)) return { body: false };
    const index = this.bump();
    this.kvsIndex = index;
    this.tombstones.delete(key);
    this.kv.set(key, { Key: key, Value: body.length ? body.toString('base64') : null, Flags: Number(query.get('flags') ?? 0), CreateIndex: existing?.CreateIndex ?? index, ModifyIndex: index, LockIndex: 0 });
    this.wake();
    return { body: true };
  }

  private kvDelete(key: string, query: URLSearchParams) {
    const recurse = query.has('recurse');
    // With ?cas= the key goes only if its ModifyIndex is still that one; a key already gone is true, as
    // Consul's kvsDeleteCASTxn answers (`return entry == nil`).
    if (query.has('cas') && this.kv.has(key) && Number(query.get('cas')) !== this.kv.get(key)!.ModifyIndex) return { body: false };
    const index = this.bump();
    this.kvsIndex = index;
    for (const pair of [...this.kv.values()]) {
      if (recurse ? pair.Key.startsWith(key) : pair.Key === key) {
        this.kv.delete(pair.Key);
        this.tombstones.set(pair.Key, index);
      }
    }
    this.wake();
    return { body: true };
  }

  // --- blocking queries ---------------------------------------------

  /** Answers at once without `index`; otherwise when the resource's index passes it or the wait ends. */
  private async blocking(query: URLSearchParams, response: ServerResponse, indexOf: () => number, read: () => unknown) {
    const minIndex = Number(query.get('index') ?? 0);
    if (minIndex > 0 && indexOf() <= minIndex) {
      const waitMs = Math.min(query.has('wait') ? parseDuration(query.get('wait')!) : 300_000, 600_000);
      const deadline = waitMs + Math.random() * (waitMs / 16);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(check);
          response.off('close', done);
          resolve();
        };
        const check = (abandoned: boolean) => {
          if (abandoned || indexOf() > minIndex) done();
        };
        const timer = setTimeout(done, deadline);
        this.waiters.add(check);
        response.on('close', done);
      });
    }
    const body = read();
    return {
      status: body === undefined ? 404 : 200,
      body,
      headers: { 'X-Consul-Index': String(indexOf()), 'X-Consul-KnownLeader': 'true', 'X-Consul-LastContact': '0' },
    };
  }

  private bump(): number {
    return ++this.index;
  }

  private touchService(name: string, index: number): void {
    this.serviceIndexes.set(name, index);
    this.servicesIndex = index;
    this.wake();
  }

  /** `abandoned`: the state store was replaced (restore); Consul then returns every blocked query at once. */
  private wake(abandoned = false): void {
    for (const waiter of [...this.waiters]) waiter(abandoned);
  }
}

/** Go duration strings as Consul takes them: "10s", "1m30s", "250ms", "1h". */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (!parts.length || parts.map((part) => part[0]).join('') !== text) throw new HttpError(400, `invalid duration ${JSON.stringify(text)}`);
  return parts.reduce((total, part) => total + Number(part[1]) * units[part[2]], 0);
}

function parseJson(body: Buffer): Record<string, unknown> {
  try {
    return JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'Request decode failed: invalid JSON');
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineName } from '../../src/proxy/engine.js';
import type { ExchangeRecord } from '../../src/proxy/forward.js';
import { DEFAULT_POLICY, type AppPolicy, type PolicySet } from '../../src/proxy/policy.js';
import { ProxyServer, type ProxyServerOptions } from '../../src/proxy/proxy.server.js';
import type { FromWorker, ToWorker, WorkerStart } from '../../src/proxy/worker-messages.js';
import type { AppRoute, Backend, Load, RouteSnapshot, RouteSource } from '../../src/registry/routes.js';
import type { WebSocket } from 'ws';
import { waitFor } from '../support/ports.js';
import { makeTestCa, type IssuedCertificate, type TestCa } from '../support/test-ca.js';

/** The built worker entry; tests run from dist/test/proxy. */
export const WORKER = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/proxy/proxy.worker.js');

/** Both engines: the proxy's contract suites run once against each (engine.ts). */
export const ENGINES: readonly EngineName[] = ['fast', 'portable'];

/** A RouteSource the test feeds by hand, standing in for the registry's watch. */
export class FedRouteSource implements RouteSource {
  private snapshot: RouteSnapshot = { version: 0, apps: [] };
  private readonly listeners = new Set<(snapshot: RouteSnapshot) => void>();

  routes(): RouteSnapshot {
    return this.snapshot;
  }

  watchRoutes(listener: (snapshot: RouteSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(apps: AppRoute[]): void {
    this.snapshot = { version: this.snapshot.version + 1, apps };
    for (const listener of this.listeners) listener(this.snapshot);
  }
}

export interface TestBackend {
  name: string;
  port: number;
  server: Server;
  /** Requests seen, newest last. */
  seen: { method: string; url: string; headers: IncomingHttpHeaders; /** The proxy's end of the connection it came on. */ remotePort: number }[];
  /** This backend as a registry entry of `app`. */
  as(app: string, load?: Partial<Load> | null): Backend;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, name: string) => void;

/** Answers with JSON naming itself and echoing what it received. */
export const echo: Handler = (req, res, name) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-backend': name, 'keep-alive': 'timeout=5', 'proxy-authenticate': 'Basic' });
    res.end(body);
  });
};

/** A real HTTP server on 127.0.0.1 standing in for one instance of an app. */
/**
 * A backend that reads the whole request body and answers `answerBytes` of `y`, with
 * `x-upload: <bytes read> <their SHA-256, hex> <the request's content-length or transfer-encoding>`.
 */
export function hashingUpload(answerBytes: number): Handler {
  return (req, res) => {
    const hash = createHash('sha256');
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    req.on('end', () => {
      res.writeHead(200, { 'x-upload': `${size} ${hash.digest('hex')} ${req.headers['content-length'] ?? req.headers['transfer-encoding']}`, 'content-length': answerBytes });
      res.end(Buffer.alloc(answerBytes, 'y'));
    });
  };
}

export async function startBackend(name: string, handler: Handler = echo): Promise<TestBackend> {
  const seen: TestBackend['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, remotePort: req.socket.remotePort ?? 0 });
    handler(req, res, name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    server,
    seen,
    as: (app, load = null) => ({
      instance: name,
      app,
      address: '127.0.0.1',
      port,
      host: 'test',
      load: load ? { cpu: 0, memory: 0, processes: 1, inflight: 0, at: Date.now(), ...load } : null,
    }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TestProxy {
  server: ProxyServer;
  /** The plain listener's port; with `tls`, the TLS listener's (`plainPort` is the plain one). */
  port: number;
  plainPort: number;
  records: ExchangeRecord[];
  source: FedRouteSource;
  policies(set: Record<string, Partial<AppPolicy>>): void;
  close(): Promise<void>;
}

/** One test CA for the whole process (its files go when the process exits). */
let testCa: TestCa | null = null;
export function sharedTestCa(): TestCa {
  if (!testCa) {
    testCa = makeTestCa();
    process.once('exit', () => testCa?.remove());
  }
  return testCa;
}

/** The names the contract suites' hosts fall under (wildcards one label deep, as SNI matches them). */
export const TEST_DOMAINS = ['example.net', '*.example.net', '*.app.example.net', '*.shop.example.net', '*.tenants.example.net', '*.acme.tenants.example.net', '*.example.org', '*.test', '*.e2e.test'];

/** TLS listeners' ports (calls to them go over HTTPS, trusting the test CA). */
const tlsPorts = new Set<number>();

export interface HttpsSetting {
  /** Serve over TLS too, with a certificate of the shared test CA for TEST_DOMAINS; `port` is then the TLS port. */
  https?: boolean;
}

/** A ProxyServer in this process on a free loopback port, fed by a FedRouteSource (`https`: its TLS listener is `port`). */
export async function startProxy(options: Partial<ProxyServerOptions> & HttpsSetting = {}): Promise<TestProxy> {
  const { https, ...serverOptions } = options;
  const records: TestProxy['records'] = [];
  const server = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    engine: 'auto',
    retries: 2,
    timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 5_000, clientKeepAlive: 10_000 },
    trustedProxies: [],
    upstreamConnections: 32,
    onExchange: (record) => records.push(record),
    ...(https ? { tls: { host: '127.0.0.1', port: 0 } } : {}),
    ...serverOptions,
  });
  if (https) {
    const certificate = testCertificate();
    server.applyCertificates({ kind: 'ticket-keys', keys: randomBytes(48).toString('base64') });
    server.applyCertificates({ kind: 'put', entry: { domains: TEST_DOMAINS, certPem: certificate.certPem, keyPem: certificate.keyPem, source: 'files' } });
  }
  const source = new FedRouteSource();
  const unsubscribe = source.watchRoutes((snapshot) => server.setRoutes(snapshot));
  const plainPort = await server.listen();
  if (server.tlsPort !== null) tlsPorts.add(server.tlsPort);
  return {
    server,
    port: server.tlsPort ?? plainPort,
    plainPort,
    records,
    source,
    policies: (set) => {
      const full: PolicySet = {};
      for (const [app, policy] of Object.entries(set)) full[app] = { ...DEFAULT_POLICY, ...policy };
      server.setPolicies(full);
    },
    close: async () => {
      unsubscribe();
      await server.close();
    },
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json(): any;
}

let testLeaf: IssuedCertificate | null = null;
/** The test CA's certificate for TEST_DOMAINS (made once). */
export function testCertificate(): IssuedCertificate {
  return (testLeaf ??= sharedTestCa().issue(TEST_DOMAINS));
}

/** What a TLS client sends as SNI for a Host header: the name without port or trailing dot; none for an address. */
export function sniOf(host: string): string | undefined {
  const name = host.replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
  return /^[\d.]+$|^\[|^$/.test(name) ? undefined : name;
}

/** One HTTP request to the proxy with the Host header set (fetch cannot set Host); HTTPS (SNI from Host, the test CA trusted) to a TLS listener. */
export function call(port: number, host: string, path = '/', init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { host, ...init.headers }, agent: false as const };
    const send = tlsPorts.has(port) ? (callback: (res: IncomingMessage) => void) => httpsRequest({ ...options, servername: sniOf(host), ca: sharedTestCa().caPem }, callback) : (callback: (res: IncomingMessage) => void) => request(options, callback);
    const req = send((res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer from the proxy for ${host}${path} in 15 s`)));
    req.end(init.body);
  });
}

/** How many of `answers` each backend served. */
export function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const name = answer.headers['x-backend'] as string;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

export interface ForkedWorker {
  port: number;
  send(message: ToWorker): void;
  /** Memory after a full collection (the worker runs with --expose-gc): what it holds, not garbage. */
  stats(): Promise<{ rss: number; heapUsed: number; arrayBuffers: number }>;
  close(): Promise<void>;
}

/** The proxy worker entry (dist/src/proxy/proxy.worker.js) in a child process, driven over IPC as the cluster primary does. */
export async function forkWorker(server: Partial<WorkerStart['server']> = {}): Promise<ForkedWorker> {
  const child = fork(WORKER, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [...process.execArgv, '--expose-gc'] });
  let nextId = 1;
  const waiting = new Map<number, (message: FromWorker) => void>();
  child.on('message', (message: FromWorker) => {
    if ('id' in message) waiting.get(message.id)?.(message);
  });
  const listening = new Promise<number>((resolve, reject) => {
    child.on('message', (message: FromWorker) => {
      if (message.type === 'listening') resolve(message.port);
      if (message.type === 'failed') reject(new Error(message.message));
    });
    child.once('exit', (code) => reject(new Error(`proxy worker exited with ${code}`)));
  });
  await new Promise<void>((resolve) => child.on('message', (message: FromWorker) => message.type === 'ready' && resolve()));
  child.send({
    type: 'start',
    start: {
      server: { host: '127.0.0.1', port: 0, engine: 'auto', retries: 2, timeouts: { connect: 1_000, headers: 5_000, idle: 5_000, clientHeaders: 5_000, clientKeepAlive: 10_000 }, trustedProxies: [], upstreamConnections: 32, ...server },
      accessLog: false,
      logLevel: 'warn',
    },
  } satisfies ToWorker);
  const port = await listening;
  return {
    port,
    send: (message) => child.send(message),
    stats: () =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`proxy worker exited (${child.exitCode ?? child.signalCode})`));
        const id = nextId++;
        const exited = (code: number | null) => reject(new Error(`proxy worker exited with ${code} before its stats`));
        child.once('exit', exited);
        waiting.set(id, (message) => {
          waiting.delete(id);
          child.off('exit', exited);
          resolve(message as { rss: number; heapUsed: number; arrayBuffers: number });
        });
        child.send({ type: 'stats', id } satisfies ToWorker);
      }),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Once `client` is open, sends `hello` then `again` through it and returns the replies that came back
 * (after two, or 5 s: the caller's assertion says what was missing), closing the client.
 */
export async function echoTwice(client: WebSocket): Promise<string[]> {
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const replies: string[] = [];
  client.on('message', (data) => replies.push(String(data)));
  client.send('hello');
  client.send('again');
  await waitFor('two echoes', async () => replies.length >= 2, 5_000, 20).catch(() => undefined);
  client.close();
  return replies;
}

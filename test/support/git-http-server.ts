import { spawn } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { requireBinary } from './debian.js';

/** A certificate and key (PEM) to serve HTTPS with, e.g. from test-ca.ts for 127.0.0.1. */
export interface ServerTls {
  cert: string;
  key: string;
}

export interface GitHttpServer {
  /** `http(s)://127.0.0.1:<port>/<repository>` */
  url(repository: string): string;
  /** Every request's Basic user and password ('' without one) and the status answered. */
  requests: { user: string; password: string; status: number }[];
  stop(): Promise<void>;
}

/**
 * Git's smart HTTP protocol on 127.0.0.1: Debian git's `git http-backend`
 * (CGI) behind a node:http server (node:https with `tls`) that requires Basic
 * auth with one user and password. Serves the bare repositories under `root`.
 * `onAuthorized` runs while git is in the middle of a fetch (the test looks at
 * the process list then).
 */
export async function startGitHttpServer(options: { root: string; user: string; password: string; tls?: ServerTls; onAuthorized?: () => void }): Promise<GitHttpServer> {
  const git = requireBinary('git', 'git');
  const requests: GitHttpServer['requests'] = [];
  const server = createServer(options.tls, (request, response) => {
    const [user, password] = basicCredentials(request);
    const authorized = user === options.user && password === options.password;
    requests.push({ user, password, status: authorized ? 200 : 401 });
    if (!authorized) {
      response.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' }).end('authentication required\n');
      return;
    }
    options.onAuthorized?.();
    serveCgi(git, options.root, user, request, response);
  });
  const base = await listen(server, options.tls);
  return { url: (repository) => `${base}/${repository}`, requests, stop: () => close(server) };
}

export interface CredentialTrap {
  /** `http(s)://127.0.0.1:<port>` */
  origin: string;
  /** `http(s)://127.0.0.1:<port>/<repository>` */
  url(repository: string): string;
  /** Every request's path and Authorization header ('' without one). */
  requests: { path: string; authorization: string }[];
  stop(): Promise<void>;
}

/**
 * A listener that must never receive credentials: each request is recorded and answered 401 with
 * a Basic challenge (so a git client that has credentials for it sends them), or, with `redirectTo`,
 * 302 to the same path there (a git server sending its clients elsewhere).
 */
export async function startCredentialTrap(options: { tls?: ServerTls; redirectTo?: string } = {}): Promise<CredentialTrap> {
  const requests: CredentialTrap['requests'] = [];
  const server = createServer(options.tls, (request, response) => {
    requests.push({ path: request.url ?? '', authorization: request.headers.authorization ?? '' });
    if (options.redirectTo) response.writeHead(302, { location: options.redirectTo + (request.url ?? '/') }).end();
    else response.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' }).end('authentication required\n');
  });
  const origin = await listen(server, options.tls);
  return { origin, url: (repository) => `${origin}/${repository}`, requests, stop: () => close(server) };
}

function createServer(tls: ServerTls | undefined, handler: RequestListener): Server {
  return tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
}

/** Listens on a free port of 127.0.0.1; resolves with its origin. */
async function listen(server: Server, tls: ServerTls | undefined): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function basicCredentials(request: IncomingMessage): [string, string] {
  const match = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!match) return ['', ''];
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? [decoded, ''] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

/** Runs `git http-backend` for one request (RFC 3875 variables) and relays its CGI answer. */
function serveCgi(git: string, root: string, user: string, request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const backend = spawn(git, ['http-backend'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: request.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: request.headers['content-type'] ?? '',
      REMOTE_USER: user,
      REMOTE_ADDR: '127.0.0.1',
      ...(request.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(request.headers['content-encoding']) } : {}),
      ...(request.headers['git-protocol'] ? { GIT_PROTOCOL: String(request.headers['git-protocol']) } : {}),
    },
  });
  request.pipe(backend.stdin);
  let head = Buffer.alloc(0);
  let headDone = false;
  backend.stdout.on('data', (chunk: Buffer) => {
    if (headDone) return void response.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else response.setHeader(name, value);
    }
    response.writeHead(status);
    response.write(head.subarray(end + 4));
  });
  backend.once('close', (code) => {
    if (!headDone) response.writeHead(502).end(`git http-backend exited with ${code}\n`);
    else response.end();
  });
}

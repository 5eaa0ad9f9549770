import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DozenProcess } from '../support/dozen-process.js';
import { GiveUp, waitFor } from '../support/ports.js';

/** A small Node app answering with its version and the env dozen gave it. */
export function appSource(version: number): string {
  return `const http = require('node:http');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('DOZEN_') || ['PORT', 'GREETING', 'API_KEY'].includes(k)));
http.createServer((req, res) => {
  // /say?out=...&err=... prints each out on stdout and each err on stderr (for tests that watch the output).
  const said = new URL(req.url, 'http://app').searchParams;
  for (const line of said.getAll('out')) console.log(line);
  for (const line of said.getAll('err')) console.error(line);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ version: ${version}, env }));
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('v${version} listening on ' + process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`;
}

/** The bench's repositories are local folders, fetched as file:// URLs, which dozen refuses unless told (deploy.git.allowFile). */
export const FILE_REPOSITORIES = { DOZEN_DEPLOY_GIT_ALLOW_FILE: 'true' } as const;

/** A git repository (for file://) with `main` at version 1, the tag `v2`, and the branch `broken` whose Dockerfile fails. */
export function makeRepository(): { url: string; dir: string; commit: (ref: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-repo-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=test@dozen', '-c', 'user.name=test', ...args], { cwd: dir, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'hello', scripts: { start: 'node server.js' } }));
  writeFileSync(join(dir, 'server.js'), appSource(1));
  git('add', '.');
  git('commit', '-qm', 'version 1');
  git('checkout', '-q', '-b', 'next');
  writeFileSync(join(dir, 'server.js'), appSource(2));
  git('commit', '-qam', 'version 2');
  git('tag', 'v2');
  git('checkout', '-q', '-b', 'broken');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY . /app\nRUN ["/bin/does-not-exist"]\n');
  git('add', '.');
  git('commit', '-qm', 'broken build');
  git('checkout', '-q', 'main');
  return { url: `file://${dir}`, dir, commit: (ref) => git('rev-parse', ref) };
}

export interface Answer {
  status: number;
  body: string;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

/** GET through the proxy on 127.0.0.1:<port> with the given Host. */
export function viaProxy(port: number, host: string, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, headers: { host }, agent: keepAlive, timeout: 5000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Sends a request every 10 ms until stopped; counts the answers that are not 200 (and errors). */
export function steadyClient(port: number, host: string): { stop: () => Promise<{ sent: number; failed: string[]; versions: Set<number> }> } {
  let running = true;
  const failed: string[] = [];
  const versions = new Set<number>();
  let sent = 0;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      sent++;
      try {
        const answer = await viaProxy(port, host);
        if (answer.status !== 200) failed.push(`${answer.status} ${answer.body.slice(0, 200)}`);
        else versions.add((JSON.parse(answer.body) as { version: number }).version);
      } catch (error) {
        failed.push((error as Error).message);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10 - (Date.now() - started))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { sent, failed, versions };
    },
  };
}

export const json = (body: unknown, method = 'POST'): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Calls the admin API and checks the status; returns the parsed body. */
export async function expectStatus<T = Record<string, unknown>>(dozen: DozenProcess, path: string, init: RequestInit, status: number): Promise<T> {
  const response = await dozen.api(path, init);
  const text = await response.text();
  assert.equal(response.status, status, `${init.method ?? 'GET'} ${path}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function waitRelease(dozen: DozenProcess, id: string, status: string, timeoutMs = 90_000): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await waitFor(`release ${id} ${status}`, async () => {
    last = await expectStatus(dozen, `/deploy/releases/${id}`, {}, 200);
    if (last.status === status) return true;
    if (['failed', 'ready', 'cancelled'].includes(String(last.status))) throw new GiveUp(`release ended ${String(last.status)}: ${String(last.error)}`);
    return false;
  }, timeoutMs, 200).catch((error: Error) => assert.fail(`${error.message}; last ${JSON.stringify(last)}\n${dozen.logs().slice(-3000)}`));
  return last;
}

export async function waitInstance(dozen: DozenProcess, id: string, check: (instance: Record<string, unknown>) => boolean, what: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await waitFor(`instance ${id} ${what}`, async () => {
    last = await expectStatus(dozen, `/deploy/instances/${id}`, {}, 200);
    return check(last);
  }, timeoutMs, 100).catch((error: Error) => assert.fail(`${error.message}; last ${JSON.stringify(last)}\n${dozen.logs().slice(-3000)}`));
  return last;
}

/** A "git server" on 127.0.0.1 that accepts connections and never answers: a fetch from it, so a build, hangs until stopped. */
export async function silentGitServer(): Promise<{ url: (name: string) => string; connections: () => number; stop: () => void }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (name) => `https://127.0.0.1:${port}/${name}.git`,
    connections: () => sockets.length,
    stop: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

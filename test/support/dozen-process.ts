import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, GiveUp, waitFor } from './ports.js';

/** The built CLI, dist/src/cli/main.js (tests run from dist/test/...). */
export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
/** The repository root (dist/test/support -> ../../..). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const TEST_TOKEN = 'test-admin-token-0123456789';

export interface DozenProcess {
  url: string;
  token: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process wrote so far (stdout + stderr); include it in assertion messages. */
  logs(): string;
  /** fetch against the admin API with the admin token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Sends a signal and waits for the exit; resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  env?: Record<string, string>;
  args?: string[];
  /** Reuse a data dir (e.g. to restart on the same state); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Wait until /health answers 200 (default) or just until it answers. */
  waitHealthy?: boolean;
  /** Return as soon as the process runs, without waiting for its admin API (a test of what happens while it starts). */
  noWait?: boolean;
}

/** Spawns `dozen serve` on a free admin port with a throwaway data dir. */
export async function startDozen(options: StartOptions = {}): Promise<DozenProcess> {
  const port = await freePort();
  const ownDataDir = !options.dataDir;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'dozen-data-'));
  const child = spawn(process.execPath, [CLI, 'serve', ...(options.args ?? [])], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // The bench's runs on other Node lines: their flags and their build of better-sqlite3.
      ...pick(process.env, ['NODE_OPTIONS', 'DOZEN_DATABASE_SQLITE_BINDING']),
      DOZEN_DATA_DIR: dataDir,
      DOZEN_ADMIN_LISTEN_PORT: String(port),
      DOZEN_ADMIN_TOKEN: TEST_TOKEN,
      DOZEN_LOG_LEVEL: 'info',
      DOZEN_PROXY_LISTEN_HOST: '127.0.0.1',
      DOZEN_PROXY_LISTEN_PORT: String(await freePort()),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  const process_: DozenProcess = {
    url,
    token: TEST_TOKEN,
    dataDir,
    child,
    logs: () => output,
    api: (path, init = {}) => fetch(url + path, { ...init, headers: { authorization: `Bearer ${TEST_TOKEN}`, ...(init.headers as Record<string, string>) } }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (ownDataDir && signal !== 'SIGKILL') rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
  if (options.noWait) return process_;
  try {
    await waitFor(
      `dozen on ${url}`,
      async () => {
        if (child.exitCode !== null) throw new GiveUp(`dozen exited with ${child.exitCode}`);
        const response = await fetch(url + '/health');
        return options.waitHealthy === false || response.status === 200;
      },
      // A deadline, not a wait: a start takes ~5 s on an idle machine, over 20 s on a loaded 2-core one.
      60_000,
      100,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- dozen output ---\n${output}`);
  }
  return process_;
}

function pick(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((name) => env[name]).map((name) => [name, env[name]!]));
}

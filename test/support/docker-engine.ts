import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { fromBench } from './bench-env.js';
import { requireBinary } from './debian.js';
import { GiveUp, waitFor } from './ports.js';

const ROOT = '/var/tmp/dozen-test-docker';
export const TEST_DOCKER_SOCKET = `${ROOT}/docker.sock`;
/** A file per process using the engine on our socket (benches, files run on their own): the last to end stops it. */
const USERS = `${ROOT}/users`;

export interface DockerEngine {
  socketPath: string;
  docker: Docker;
  /** Stops dockerd unless another process still uses it (or the bench that gave it does). */
  stop(): Promise<void>;
}

/**
 * A real Docker Engine on a private socket, with no bridge and no iptables
 * changes: containers in tests use host networking or 127.0.0.1 ports only.
 * Reused when one is already up (DOZEN_TEST_DOCKER_SOCKET or our socket); its
 * data root persists across runs so the base image is built once.
 */
export async function startDockerEngine(): Promise<DockerEngine> {
  const fromTheBench = fromBench('DOZEN_TEST_DOCKER_SOCKET', 'the Docker Engine');
  if (fromTheBench && (await answers(fromTheBench))) return { socketPath: fromTheBench, docker: new Docker({ socketPath: fromTheBench }), stop: async () => {} };
  if (await answers(TEST_DOCKER_SOCKET)) {
    // Another bench's: it goes when the last of us ends, not under the other's running files.
    const use = claimUse();
    return { socketPath: TEST_DOCKER_SOCKET, docker: new Docker({ socketPath: TEST_DOCKER_SOCKET }), stop: async () => (use.release() ? undefined : stopByPidFile()) };
  }

  const dockerd = requireBinary('dockerd', 'docker.io');
  mkdirSync(ROOT, { recursive: true });
  const logFile = `${ROOT}/dockerd.log`;
  const log = openSync(logFile, 'w');
  const child = spawn(
    dockerd,
    [
      `--host=unix://${TEST_DOCKER_SOCKET}`,
      `--data-root=${ROOT}/data`,
      `--exec-root=${ROOT}/exec`,
      `--pidfile=${ROOT}/dockerd.pid`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      ...(process.env.DOZEN_TEST_DOCKER_STORAGE ? [`--storage-driver=${process.env.DOZEN_TEST_DOCKER_STORAGE}`] : []),
    ],
    { stdio: ['ignore', log, log], detached: true },
  );
  closeSync(log);
  child.unref();
  const use = claimUse();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  await waitFor(
    'dockerd to answer',
    async () => {
      if (exited !== null) throw new GiveUp(`dockerd exited with ${exited}: ${readFileSync(logFile, 'utf8').split('\n').slice(-5).join(' | ')}`);
      return answers(TEST_DOCKER_SOCKET);
    },
    60_000,
    200,
  );
  return {
    socketPath: TEST_DOCKER_SOCKET,
    docker: new Docker({ socketPath: TEST_DOCKER_SOCKET }),
    stop: async () => {
      if (use.release() || exited !== null) return;
      child.kill('SIGTERM');
      await waitFor('dockerd to stop', async () => exited !== null, 30_000).catch(() => child.kill('SIGKILL'));
    },
  };
}

/** Registers this process as a user; `release()` unregisters it and says whether a live process still uses the engine. */
function claimUse(): { release(): boolean } {
  mkdirSync(USERS, { recursive: true });
  const mine = join(USERS, String(process.pid));
  writeFileSync(mine, '');
  return {
    release: () => {
      rmSync(mine, { force: true });
      return readdirSync(USERS).some((name) => name !== String(process.pid) && alive(Number(name)));
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The engine another process started, stopped by the pid it wrote (that process has ended). */
async function stopByPidFile(): Promise<void> {
  const pid = Number(readFileSync(`${ROOT}/dockerd.pid`, 'utf8').trim());
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  await waitFor('dockerd to stop', async () => !alive(pid), 30_000).catch(() => process.kill(pid, 'SIGKILL'));
}

async function answers(socketPath: string): Promise<boolean> {
  try {
    await new Docker({ socketPath, timeout: 2000 }).ping();
    return true;
  } catch {
    return false;
  }
}

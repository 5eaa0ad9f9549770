import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { fromBench } from './bench-env.js';
import { requireBinary } from './debian.js';
import { GiveUp, waitFor } from './ports.js';

const ROOT = '/var/tmp/dozen-test-docker';
export const TEST_DOCKER_SOCKET = `${ROOT}/docker.sock`;

export interface DockerEngine {
  socketPath: string;
  docker: Docker;
  /** Stops dockerd if this call started it; an engine that was already up is left running. */
  stop(): Promise<void>;
}

/**
 * A real Docker Engine on a private socket, with no bridge and no iptables
 * changes: containers in tests use host networking or 127.0.0.1 ports only.
 * Reused when one is already up (DOZEN_TEST_DOCKER_SOCKET or our socket); its
 * data root persists across runs so the base image is built once.
 */
export async function startDockerEngine(): Promise<DockerEngine> {
  const given = fromBench('DOZEN_TEST_DOCKER_SOCKET', 'the Docker Engine') ?? TEST_DOCKER_SOCKET;
  if (await answers(given)) return { socketPath: given, docker: new Docker({ socketPath: given }), stop: async () => {} };

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
      if (exited !== null) return;
      child.kill('SIGTERM');
      await waitFor('dockerd to stop', async () => exited !== null, 30_000).catch(() => child.kill('SIGKILL'));
    },
  };
}

async function answers(socketPath: string): Promise<boolean> {
  try {
    await new Docker({ socketPath, timeout: 2000 }).ping();
    return true;
  } catch {
    return false;
  }
}

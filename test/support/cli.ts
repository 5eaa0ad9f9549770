import { spawn } from 'node:child_process';
import { CLI } from './dozen-process.js';

export interface CliRun {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs `dozen <args>` to its end with only PATH, HOME and `env` in its environment. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr })));
}

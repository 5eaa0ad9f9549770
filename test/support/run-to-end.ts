import { spawn } from 'node:child_process';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a client (curl, openssl ...) to its end, 10 s at most, feeding it `input`. */
export function runToEnd(command: string, args: string[], input = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    // A client that exits before reading its input (curl reads none) makes the write fail with EPIPE: that is no error of the test's.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

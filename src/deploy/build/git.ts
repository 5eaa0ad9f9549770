import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Fetches one commit of `repository` (a branch, tag or full SHA) into the
 * empty folder `dir`, shallow, with Debian's git; returns the full SHA.
 * `file://`, `https://` and `ssh://` URLs; git never prompts (a missing
 * credential fails the build instead of hanging it).
 */
export async function checkout(repository: string, ref: string, dir: string, signal: AbortSignal): Promise<string> {
  const options = { cwd: dir, signal, env: { PATH: process.env.PATH, HOME: process.env.HOME, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 16 * 1024 * 1024 };
  const git = async (...args: string[]) => (await run('git', args, options)).stdout.trim();
  try {
    await git('init', '-q');
    // `--` ends options, so a ref or URL starting with - cannot become one.
    await git('fetch', '-q', '--depth', '1', '--', repository, ref);
    await git('checkout', '-q', '--detach', 'FETCH_HEAD');
    return await git('rev-parse', 'HEAD');
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`git could not fetch ${ref} from ${repository}${stderr ? `: ${stderr.split('\n').slice(-3).join(' ')}` : ''}`);
  }
}

import { execFile } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { redactUrlCredentials } from '../../common/url-credentials.js';
import { credentialHost, GIT_SECRET, type GitAuth } from './git-credentials.js';

const run = promisify(execFile);

export interface CheckoutOptions {
  /** Credentials from the app's secrets (gitAuth). */
  auth: GitAuth;
  /** CA certificates (PEM) git trusts for https instead of the system's: `deploy.git.caFile`. */
  caFile?: string;
  /** `file://` repositories may be fetched: `deploy.git.allowFile`. */
  allowFile: boolean;
}

/** Said for any file:// URL while they are off, whether the path exists or not. */
export const FILE_REPOSITORIES_OFF = 'file:// repositories are off on this dozen (deploy.git.allowFile): use an https:// or ssh:// URL';

/** A file:// repository URL. */
export function isFileUrl(repository: string): boolean {
  return /^file:/i.test(repository);
}

export interface Checkout {
  /** The full SHA of the commit checked out. */
  commit: string;
  /** The paths of the submodules fetched (nested ones too), in git's order; empty without `.gitmodules`. */
  submodules: string[];
}

/**
 * Fetches one commit of `repository` (a branch, tag or full SHA) into the
 * empty folder `dir`, shallow, with Debian's git, and then its submodules,
 * shallow and recursively, with the same transports and credentials.
 * `https://`, `ssh://`, `http://` (no credentials) and, when allowed,
 * `file://` URLs, authenticated by `options.auth` (from the app's secrets);
 * git never prompts (a missing credential fails the build instead of hanging it).
 */
export async function checkout(repository: string, ref: string, dir: string, signal: AbortSignal, { auth, caFile, allowFile }: CheckoutOptions): Promise<Checkout> {
  if (isFileUrl(repository) && !allowFile) throw new Error(FILE_REPOSITORIES_OFF);
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME,
    // The transports git may use at all, redirects and submodules included.
    GIT_ALLOW_PROTOCOL: allowFile ? 'https:http:ssh:file' : 'https:http:ssh',
    // No prompt at all: not on a terminal, and not through an askpass program (an empty GIT_ASKPASS wins over core.askPass and SSH_ASKPASS).
    GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '',
    ...(caFile ? { GIT_SSL_CAINFO: caFile } : {}),
    ...auth.env,
  };
  const options = { cwd: dir, signal, env, maxBuffer: 16 * 1024 * 1024 };
  const git = async (...args: string[]) => (await run('git', args, options)).stdout.trim();
  try {
    await git('init', '-q');
    // `--` ends options, so a ref or URL starting with - cannot become one.
    await git('fetch', '-q', '--depth', '1', '--', repository, ref);
    await git('checkout', '-q', '--detach', 'FETCH_HEAD');
  } catch (error) {
    if (signal.aborted) throw error;
    // git's words about a path say whether it exists and is a repository: not for whoever may set the URL.
    if (isFileUrl(repository)) throw new Error(`git could not fetch ${ref} from ${repository}: no repository with that ref that dozen can read there`);
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    throw new Error(`git could not fetch ${ref} from ${redactUrlCredentials(repository)}${lastLines(stderr) ? `: ${lastLines(stderr)}` : ''}${credentialHint(repository, stderr, auth)}`);
  }
  const commit = await git('rev-parse', 'HEAD');
  if (!(await hasGitmodules(dir))) return { commit, submodules: [] };
  try {
    // Relative submodule URLs are read against the repository's URL (without a remote, against this folder).
    await git('config', 'remote.origin.url', repository);
    // GIT_ALLOW_PROTOCOL and the credentials are in the env, so they hold for every submodule's fetch too.
    await git('submodule', 'update', '-q', '--init', '--recursive', '--depth', '1');
    const paths = await git('submodule', 'foreach', '-q', '--recursive', 'echo "$displaypath"');
    return { commit, submodules: paths ? paths.split('\n') : [] };
  } catch (error) {
    if (signal.aborted) throw error;
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    const refused = /transport '([^']+)' not allowed/.exec(stderr);
    if (refused) throw new Error(`git could not fetch the submodules of ${ref}: ${refused[0]}${refused[1] === 'file' ? ` (${FILE_REPOSITORIES_OFF})` : ''}`);
    // As for the repository itself: git's words about a local path are not for whoever may write .gitmodules.
    if (allowFile) throw new Error(`git could not fetch the submodules of ${ref}: one is no repository with that commit that dozen can read`);
    throw new Error(`git could not fetch the submodules of ${ref}${lastLines(stderr) ? `: ${lastLines(stderr)}` : ''}${credentialHint(repository, stderr, auth)}`);
  }
}

/** Whether the checkout names submodules (git itself refuses a `.gitmodules` that is a link). */
async function hasGitmodules(dir: string): Promise<boolean> {
  return lstat(join(dir, '.gitmodules')).then(() => true, () => false);
}

/** git's last words, without its blank lines, ssh's notes and the advice it adds to every failed remote read. */
function lastLines(stderr: string): string {
  const boilerplate = /^(Please make sure you have the correct access rights|and the repository exists\.|Warning: Permanently added .*)$/;
  return stderr.split('\n').map((line) => line.trim()).filter((line) => line && !boilerplate.test(line)).slice(-3).join(' ');
}

/** What to do about a refused or missing credential, naming the app secrets that were (or could be) used. */
function credentialHint(repository: string, stderr: string, auth: GitAuth): string {
  const refused = /Authentication failed|could not read (Username|Password)|Permission denied \(publickey|Host key verification failed|returned error: 40[13]/i.test(stderr);
  if (!refused) return '';
  if (auth.withheld.length) return ` (the app's secrets ${auth.withheld.join(', ')} are sent over https:// only: use the repository's https:// URL)`;
  if (auth.using.length) {
    const elsewhere = /could not read Username for '([^']+)'/.exec(stderr)?.[1];
    // Asked by another host than the repository's (a redirect): the credentials are for the repository's host only.
    if (elsewhere && !elsewhere.endsWith(`//${credentialHost(repository)}`)) return ` (${elsewhere} asked for credentials; the app's secrets ${auth.using.join(', ')} go only to ${credentialHost(repository)})`;
    return ` (the credentials from the app's secrets ${auth.using.join(', ')} were refused)`;
  }
  const secrets = repository.startsWith('ssh://') ? GIT_SECRET.sshKey : `${GIT_SECRET.token}, or ${GIT_SECRET.username} and ${GIT_SECRET.password}`;
  return ` (a private repository: set the app's secret ${secrets})`;
}

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The app secrets the build reads to fetch a private repository. */
export const GIT_SECRET = {
  /** https: the user name (default `x-access-token`, what GitHub takes with a token; GitLab takes any, Gitea wants the real one). */
  username: 'GIT_USERNAME',
  /** https: the password. */
  password: 'GIT_PASSWORD',
  /** https: an access token, sent as the password (wins over GIT_PASSWORD). */
  token: 'GIT_TOKEN',
  /** ssh: a private key (OpenSSH or PEM text, without a passphrase). */
  sshKey: 'GIT_SSH_KEY',
  /** ssh: known_hosts lines for the git server; set, the host key must match them. */
  knownHosts: 'GIT_SSH_KNOWN_HOSTS',
} as const;

export interface GitAuth {
  /** Env for the git processes of one fetch. */
  env: Record<string, string>;
  /** The secrets in use, by name, for the log and for error messages. */
  using: string[];
  /** Removes the temporary files (an askpass script, a key); call when the fetch ended. */
  cleanup(): void;
}

// Reads the answers from git's env, so the script itself holds nothing secret. git asks "Username for ..." then "Password for ...".
const ASKPASS = `#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$DOZEN_GIT_USERNAME" ;;
  *) printf '%s\\n' "$DOZEN_GIT_PASSWORD" ;;
esac
`;

/**
 * How git authenticates one fetch of `repository` with the app's (opened)
 * secrets, never through its arguments, so nothing secret shows in the
 * process list or the build log:
 * - http(s): GIT_ASKPASS is a script in a private temp folder that prints
 *   the user name and password from git's own env; credential helpers are
 *   switched off for the fetch, so none stores them;
 * - ssh: GIT_SSH_COMMAND runs ssh in batch mode with the key from a 0600
 *   file in a 0700 temp folder (removed by `cleanup` once the fetch ended)
 *   and only that key. Host keys: with GIT_SSH_KNOWN_HOSTS they must match
 *   it; without, `knownHostsFile` is trusted on first use (accept-new) and a
 *   key that changed later is refused.
 */
export function gitAuth(repository: string, secrets: Record<string, string>, knownHostsFile: string): GitAuth {
  const scheme = /^([a-z]+):\/\//.exec(repository)?.[1];
  const folders: string[] = [];
  const privateFolder = () => {
    const dir = mkdtempSync(join(tmpdir(), 'dozen-git-'));
    chmodSync(dir, 0o700);
    folders.push(dir);
    return dir;
  };
  const cleanup = () => {
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  };
  const env: Record<string, string> = {};
  const using: string[] = [];
  try {
    if ((scheme === 'https' || scheme === 'http') && (secrets[GIT_SECRET.token] !== undefined || secrets[GIT_SECRET.password] !== undefined)) {
      const askpass = join(privateFolder(), 'askpass');
      writeFileSync(askpass, ASKPASS, { mode: 0o700 });
      const password = secrets[GIT_SECRET.token] ?? secrets[GIT_SECRET.password];
      using.push(...[GIT_SECRET.username, secrets[GIT_SECRET.token] !== undefined ? GIT_SECRET.token : GIT_SECRET.password].filter((name) => secrets[name] !== undefined));
      Object.assign(env, {
        GIT_ASKPASS: askpass,
        DOZEN_GIT_USERNAME: secrets[GIT_SECRET.username] ?? 'x-access-token',
        DOZEN_GIT_PASSWORD: password,
        // An empty credential.helper clears any configured helper, so none keeps the password.
        GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'credential.helper', GIT_CONFIG_VALUE_0: '',
      });
    }
    if (scheme === 'ssh') {
      const options = ['-o', 'BatchMode=yes'];
      if (secrets[GIT_SECRET.sshKey] !== undefined || secrets[GIT_SECRET.knownHosts] !== undefined) {
        const dir = privateFolder();
        if (secrets[GIT_SECRET.sshKey] !== undefined) {
          const key = join(dir, 'key');
          writeFileSync(key, secrets[GIT_SECRET.sshKey].replace(/\r\n/g, '\n').replace(/\n*$/, '\n'), { mode: 0o600 });
          options.push('-o', 'IdentitiesOnly=yes', '-i', key);
          using.push(GIT_SECRET.sshKey);
        }
        if (secrets[GIT_SECRET.knownHosts] !== undefined) {
          const known = join(dir, 'known_hosts');
          writeFileSync(known, secrets[GIT_SECRET.knownHosts].replace(/\n*$/, '\n'), { mode: 0o600 });
          options.push('-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=yes');
          using.push(GIT_SECRET.knownHosts);
        }
      }
      // Kept unhashed, so an operator can read which host a key is for and delete its line when the host key changes on purpose.
      if (secrets[GIT_SECRET.knownHosts] === undefined) options.push('-o', `UserKnownHostsFile=${knownHostsFile}`, '-o', 'StrictHostKeyChecking=accept-new', '-o', 'HashKnownHosts=no');
      env.GIT_SSH_COMMAND = ['ssh', ...options].map(shellQuote).join(' ');
    }
  } catch (error) {
    cleanup();
    throw error;
  }
  return { env, using, cleanup };
}

/** The URL with the user info of an http(s) URL (which may be a token) replaced, for logs and messages; an ssh user stays. */
export function redactUrl(url: string): string {
  return url.replace(/^(https?:\/\/)[^/@]*@/, '$1***@');
}

/** git runs GIT_SSH_COMMAND with sh. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:@-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

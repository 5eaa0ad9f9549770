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
  /** The app's http(s) credentials left unused because the URL is plain http:// (the log says so). */
  withheld: string[];
  /** Removes the temporary files (a credential helper, a key); call when the fetch ended. */
  cleanup(): void;
}

// git's credential helper protocol (gitcredentials(7)): `get` with the attributes on stdin, a key=value a line until a
// blank line. It answers only for https and the repository's own host, so a redirect or anything else git is sent to
// never gets them. It reads the answers from git's env, so the script itself holds nothing secret.
const CREDENTIAL_HELPER = `#!/bin/sh
[ "$1" = get ] || exit 0
protocol= host=
while IFS= read -r line && [ -n "$line" ]; do
  case "$line" in
    protocol=*) protocol=\${line#protocol=} ;;
    host=*) host=\${line#host=} ;;
  esac
done
[ "$protocol" = https ] && [ "$host" = "$DOZEN_GIT_HOST" ] || exit 0
printf 'username=%s\npassword=%s\n' "$DOZEN_GIT_USERNAME" "$DOZEN_GIT_PASSWORD"
`;

/**
 * How git authenticates one fetch of `repository` with the app's (opened)
 * secrets, never through its arguments, so nothing secret shows in the
 * process list or the build log:
 * - https: a credential helper (a script in a private temp folder, reading
 *   the user name and password from git's own env) that answers only for
 *   https and the repository URL's own host[:port]; every other helper is
 *   switched off for the fetch, so none stores them. A plain http:// URL gets
 *   no credentials at all (they would cross the network in clear);
 * - ssh: GIT_SSH_COMMAND runs ssh in batch mode with the key from a 0600
 *   file in a 0700 temp folder (removed by `cleanup` once the fetch ended)
 *   and only that key. Host keys: with GIT_SSH_KNOWN_HOSTS they must match
 *   it; without, `knownHostsFile` is trusted on first use (accept-new) and a
 *   key that changed later is refused.
 */
export function gitAuth(repository: string, secrets: Record<string, string>, knownHostsFile: string): GitAuth {
  const scheme = /^([a-z]+):\/\//.exec(repository)?.[1];
  // Stored before such URLs were refused: the app's credentials could go to another host than the one checked.
  const unclear = repositoryUrlProblem(repository);
  if (unclear) throw new Error(`not fetched: ${unclear}`);
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
  const withheld: string[] = [];
  const httpSecrets = [GIT_SECRET.username, secrets[GIT_SECRET.token] !== undefined ? GIT_SECRET.token : GIT_SECRET.password].filter((name) => secrets[name] !== undefined);
  const hasPassword = secrets[GIT_SECRET.token] !== undefined || secrets[GIT_SECRET.password] !== undefined;
  try {
    if (scheme === 'http' && hasPassword) withheld.push(...httpSecrets);
    if (scheme === 'https' && hasPassword) {
      const username = secrets[GIT_SECRET.username] ?? 'x-access-token';
      const password = secrets[GIT_SECRET.token] ?? secrets[GIT_SECRET.password];
      // A line break would end the helper's answer early and start attributes of the secret's choosing.
      for (const [name, value] of [[GIT_SECRET.username, username], [httpSecrets.at(-1)!, password]]) {
        if (/[\r\n\0]/.test(value)) throw new Error(`the app's secret ${name} holds a line break, which git's credential protocol cannot carry`);
      }
      const helper = join(privateFolder(), 'credential-helper');
      writeFileSync(helper, CREDENTIAL_HELPER, { mode: 0o700 });
      using.push(...httpSecrets);
      Object.assign(env, {
        DOZEN_GIT_HOST: credentialHost(repository),
        DOZEN_GIT_USERNAME: username,
        DOZEN_GIT_PASSWORD: password,
        // The empty value clears every configured helper (none keeps the password), then ours is the only one.
        GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: 'credential.helper', GIT_CONFIG_VALUE_0: '',
        GIT_CONFIG_KEY_1: 'credential.helper', GIT_CONFIG_VALUE_1: `!${shellQuote(helper)}`,
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
  return { env, using, withheld, cleanup };
}

/** The names of the app's secrets that are git credentials. */
export function gitSecretNames(secrets: Record<string, unknown>): string[] {
  const names = new Set<string>(Object.values(GIT_SECRET));
  return Object.keys(secrets).filter((name) => names.has(name)).sort();
}

/** A network repository URL's authority, split as git and ssh split it. */
interface Authority {
  scheme: string;
  /** host[:port] as written (git names it so in its credential requests). */
  host: string;
}

/**
 * The authority of an http(s):// or ssh:// `repository` URL, or why dozen cannot tell where it points. git
 * %-decodes an ssh:// URL and takes everything up to the first `/` as the authority, which it hands whole to
 * ssh; OpenSSH splits user from host at the LAST `@`. curl and WHATWG URLs end the authority at `?` or `#`
 * as well. So `ssh://git@github.com#@evil.example/x` is github.com to a naive look and evil.example to ssh:
 * an authority holding `?`, `#`, `%` or more than one `@`, or whose host a WHATWG URL reads otherwise, is
 * refused rather than guessed at. Other URLs (file://) have no host to check: null.
 */
export function repositoryAuthority(repository: string): Authority | { problem: string } | null {
  const match = /^(https?|ssh):\/\/([^/]*)/i.exec(repository);
  if (!match) return null;
  const [, scheme, authority] = match;
  const unclear = (why: string) => ({ problem: `the host of this ${scheme}:// URL is unclear: ${why}` });
  if (/[?#%]/.test(authority)) return unclear('its authority (before the first /) holds ?, # or %, which git, ssh and curl read differently');
  const at = authority.split('@');
  if (at.length > 2) return unclear('its authority (before the first /) holds more than one @ (ssh takes the host after the last)');
  const host = at.at(-1)!;
  const hostname = /^(\[[^\]]*\]|[^:[\]]+)(?::\d*)?$/.exec(host)?.[1].toLowerCase();
  if (!hostname) return unclear(`expected host or host:port before the first /, not ${JSON.stringify(host)}`);
  // ssh reads a host (or user) starting with - as an option (`ssh://-oProxyCommand=...`: a command on the build host);
  // git 2.39 refuses it itself, older gits did not (CVE-2017-1000117).
  if (hostname.startsWith('-') || (at.length === 2 && at[0].startsWith('-'))) return unclear('its host or user starts with -, which ssh reads as an option');
  let parsed: string;
  try {
    parsed = new URL(repository).hostname.toLowerCase();
  } catch {
    return unclear('it is not a valid URL');
  }
  if (parsed !== hostname) return unclear(`it reads as host ${hostname} here and as ${parsed} to a URL parser`);
  return { scheme: scheme.toLowerCase(), host };
}

/** Why git could fetch `repository` from another host than the one dozen's checks see, or null. */
export function repositoryUrlProblem(repository: string): string | null {
  const authority = repositoryAuthority(repository);
  return authority && 'problem' in authority ? authority.problem : null;
}

/** Where the credentials of a fetch of `repository` go: its scheme and host[:port], without user info or path. */
export function credentialsDestination(repository: string | null): string | null {
  if (!repository) return null;
  const authority = repositoryAuthority(repository);
  // file:// sends no credentials anywhere; an unclear URL (stored before they were refused) is its own destination.
  if (!authority) return (/^[a-z]+:\/\//i.exec(repository)?.[0] ?? repository).toLowerCase();
  if ('problem' in authority) return repository.toLowerCase();
  return `${authority.scheme}://${authority.host.toLowerCase()}`;
}

/**
 * The host[:port] git names in its credential requests for an https URL: the URL's authority as written, without
 * user info (git takes it from the same string, so a port or letter case written differently is another host).
 * Empty, so it matches no request, for an unclear URL.
 */
export function credentialHost(repository: string): string {
  const authority = repositoryAuthority(repository);
  return authority && !('problem' in authority) ? authority.host : '';
}

/** git runs GIT_SSH_COMMAND with sh. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:@-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

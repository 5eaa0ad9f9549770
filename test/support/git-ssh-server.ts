import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { join, normalize } from 'node:path';
import ssh2 from 'ssh2';
import { requireBinary } from './debian.js';

export interface GitSshServer {
  /** `ssh://git@127.0.0.1:<port>/<repository>` */
  url(repository: string): string;
  /** The server's host key as a known_hosts line. */
  knownHostsLine: string;
  /** Every authentication attempt: the method and whether it was let in. */
  attempts: { method: string; accepted: boolean }[];
  stop(): Promise<void>;
}

/**
 * Git over SSH on 127.0.0.1 (the `ssh2` package's server): one user key may
 * log in, and the only command is `git-upload-pack '<repository>'`, run with
 * Debian's git on the bare repositories under `root`. The host key is made
 * at start; its known_hosts line is `knownHostsLine`.
 */
export async function startGitSshServer(options: { root: string; authorizedKey: string }): Promise<GitSshServer> {
  const git = requireBinary('git', 'git');
  const hostKey = ed25519KeyPair();
  const allowed = ssh2.utils.parseKey(options.authorizedKey);
  if (allowed instanceof Error) throw allowed;
  const attempts: GitSshServer['attempts'] = [];
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => undefined);
    client.on('authentication', (context) => {
      if (context.method !== 'publickey') {
        attempts.push({ method: context.method, accepted: false });
        return context.reject(['publickey']);
      }
      const same = context.key.algo === allowed.type && context.key.data.length === allowed.getPublicSSH().length && timingSafeEqual(context.key.data, allowed.getPublicSSH());
      // Without a signature the client only asks whether the key would do; with one, it must verify.
      const accepted = same && (!context.signature || allowed.verify(context.blob!, context.signature, context.hashAlgo) === true);
      if (context.signature || !same) attempts.push({ method: 'publickey', accepted });
      return accepted ? context.accept() : context.reject(['publickey']);
    });
    client.on('session', (acceptSession) => {
      const session = acceptSession();
      const env: Record<string, string> = {};
      session.on('env', (accept, _reject, info) => {
        env[info.key] = info.val;
        accept?.();
      });
      session.on('exec', (accept, reject, info) => {
        const match = /^git-upload-pack '([^']+)'$/.exec(info.command);
        const path = match ? normalize(match[1]).replace(/^\/+/, '') : '';
        if (!match || path.startsWith('..')) return reject();
        const channel = accept();
        const child = spawn(git, ['upload-pack', join(options.root, path)], { env: { PATH: process.env.PATH, ...(env.GIT_PROTOCOL ? { GIT_PROTOCOL: env.GIT_PROTOCOL } : {}) } });
        channel.pipe(child.stdin);
        // Not ended by the pipes: the exit status must go before the end of the channel, or git sees none and fails.
        child.stdout.pipe(channel, { end: false });
        child.stderr.pipe(channel.stderr, { end: false });
        child.once('close', (code) => {
          channel.exit(code ?? 1);
          channel.end();
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (repository) => `ssh://git@127.0.0.1:${port}/${repository}`,
    knownHostsLine: `[127.0.0.1]:${port} ${hostKey.public.trim()}`,
    attempts,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generateKeyPairSync drops the leading zero bytes of the
 * public key, so about 1 pair in 256 cannot be parsed (by ssh2's own Server: "Malformed OpenSSH private
 * key", as a fresh-clone CI run met; nor by OpenSSH): mscdex/ssh2 issues 1390 and 1513, open. A pair both
 * halves of which parse is whole, so this makes pairs until one does.
 */
export function ed25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { updateAppSchema } from '../dto/deploy.dto.js';
import { credentialHost, credentialsDestination, gitAuth, repositoryUrlProblem } from './git-credentials.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('git credentials from app secrets', () => {
  it('https: a credential helper in a private folder answers from git env for the repository host only, holds no secret itself, and is removed by cleanup', () => {
    const auth = gitAuth('https://git.example.net:8443/team/shop.git', { GIT_USERNAME: 'deployer', GIT_PASSWORD: 's3cret-pw', OTHER: 'x' }, '/nowhere');
    assert.deepEqual([auth.env.GIT_CONFIG_COUNT, auth.env.GIT_CONFIG_KEY_0, auth.env.GIT_CONFIG_VALUE_0, auth.env.GIT_CONFIG_KEY_1], ['2', 'credential.helper', '', 'credential.helper'], 'every configured helper is cleared first');
    const helper = auth.env.GIT_CONFIG_VALUE_1.replace(/^!/, '');
    assert.equal(mode(helper), 0o700);
    assert.equal(mode(dirname(helper)), 0o700);
    assert.ok(!readFileSync(helper, 'utf8').includes('s3cret-pw'));
    const ask = (request: string, action = 'get') => spawnSync(helper, [action], { env: auth.env, input: request, encoding: 'utf8' }).stdout;
    assert.equal(ask('protocol=https\nhost=git.example.net:8443\npath=team/shop.git\n\n'), 'username=deployer\npassword=s3cret-pw\n');
    for (const other of ['protocol=https\nhost=evil.example.net\n\n', 'protocol=https\nhost=git.example.net\n\n', 'protocol=http\nhost=git.example.net:8443\n\n', 'host=git.example.net:8443\n\n']) {
      assert.equal(ask(other), '', `nothing for ${JSON.stringify(other)}`);
    }
    assert.equal(ask('protocol=https\nhost=git.example.net:8443\n\n', 'store'), '', 'store and erase are no-ops');
    assert.deepEqual(auth.using, ['GIT_USERNAME', 'GIT_PASSWORD']);
    auth.cleanup();
    assert.ok(!existsSync(dirname(helper)));
  });

  it('https: a token is the password, with x-access-token as the user name unless GIT_USERNAME says otherwise; a line break is refused', () => {
    const auth = gitAuth('https://git.example.net/shop.git', { GIT_TOKEN: 'tok-1', GIT_PASSWORD: 'ignored' }, '/nowhere');
    assert.equal(auth.env.DOZEN_GIT_USERNAME, 'x-access-token');
    assert.equal(auth.env.DOZEN_GIT_PASSWORD, 'tok-1');
    assert.equal(auth.env.DOZEN_GIT_HOST, 'git.example.net');
    assert.deepEqual(auth.using, ['GIT_TOKEN']);
    auth.cleanup();
    assert.throws(() => gitAuth('https://git.example.net/shop.git', { GIT_TOKEN: 'tok\nhost=evil' }, '/nowhere'), /GIT_TOKEN holds a line break/);
  });

  it('plain http:// gets no credentials: they are withheld, and named so the log can say so', () => {
    const auth = gitAuth('http://git.example.net/shop.git', { GIT_USERNAME: 'deployer', GIT_TOKEN: 'tok-1' }, '/nowhere');
    assert.deepEqual(auth.env, {});
    assert.deepEqual(auth.using, []);
    assert.deepEqual(auth.withheld, ['GIT_USERNAME', 'GIT_TOKEN']);
  });

  it('credentials go where the scheme and host[:port] say, whatever the path or user info', () => {
    assert.equal(credentialsDestination('https://git.example.net/a.git'), credentialsDestination('https://Git.Example.NET/b/c.git'));
    assert.notEqual(credentialsDestination('https://git.example.net/a.git'), credentialsDestination('https://git.example.net:8443/a.git'));
    assert.notEqual(credentialsDestination('https://git.example.net/a.git'), credentialsDestination('http://git.example.net/a.git'));
    assert.equal(credentialsDestination('ssh://git@git.example.net/a.git'), 'ssh://git.example.net');
    assert.equal(credentialsDestination(null), null);
    assert.equal(credentialHost('https://user:pw@git.example.net:8443/a.git'), 'git.example.net:8443');
  });

  it('a URL whose host git or ssh could read otherwise than dozen is refused (400 repository), not taken for the host a naive look sees', () => {
    const hostile = [
      'ssh://git@github.com#@evil.example/x', // ssh takes the host after the last @: evil.example
      'ssh://git@github.com?@evil.example/x',
      'ssh://a@github.com@evil.example/x',
      'ssh://evil.example%2F@github.com/x', // git %-decodes: evil.example/@github.com
      'https://github.com#@evil.example/x',
      'https://github.com\\@evil.example/x', // WHATWG ends the authority at \\, git at /
      'https://0x7f.1/x', // WHATWG reads 127.0.0.1
      'ssh://git@/x',
      'ssh://-oProxyCommand=touch${IFS}/tmp/pwned/x', // ssh would read the host as an option
      'ssh://-oProxyCommand=id@github.com/x', // and the user too
    ];
    for (const url of hostile) {
      assert.match(repositoryUrlProblem(url) ?? 'accepted', /URL is unclear/, url);
      const parsed = updateAppSchema.safeParse({ repository: url });
      assert.ok(!parsed.success, url);
      assert.deepEqual([parsed.error.issues[0].path.join('.'), parsed.error.issues[0].message], ['repository', repositoryUrlProblem(url)], url);
      assert.throws(() => gitAuth(url, { GIT_SSH_KEY: 'k', GIT_TOKEN: 't' }, '/nowhere'), /not fetched: the host of this .* URL is unclear/, url);
    }
    // Even read the naive way, none of them is github.com any more: moving there is a move.
    assert.notEqual(credentialsDestination('ssh://git@github.com#@evil.example/x'), credentialsDestination('ssh://git@github.com/org/repo.git'));
    assert.equal(credentialHost('https://github.com#@evil.example/x'), '');
    for (const url of ['ssh://git@github.com/org/repo.git', 'ssh://git@github.com:2222/org/repo.git', 'ssh://git@[::1]:22/r.git', 'https://Git.Example.NET:8443/a@b.git?x=1#y', 'file:///srv/a@b', 'https://127.0.0.1/r.git']) {
      assert.equal(repositoryUrlProblem(url), null, url);
      assert.ok(updateAppSchema.safeParse({ repository: url }).success, url);
    }
    assert.equal(credentialsDestination('ssh://git@[::1]:22/r.git'), 'ssh://[::1]:22');
    assert.equal(credentialsDestination('file:///srv/a'), credentialsDestination('file:///srv/b'));
  });

  it('ssh: the key goes to a 0600 file used alone in batch mode; host keys from GIT_SSH_KNOWN_HOSTS strictly, else trusted on first use in the data dir', () => {
    const auth = gitAuth('ssh://git@git.example.net/shop.git', { GIT_SSH_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\r\nabc\r\n-----END OPENSSH PRIVATE KEY-----' }, '/var/lib/dozen/deploy known-hosts');
    const key = /-i (\S+)/.exec(auth.env.GIT_SSH_COMMAND)![1];
    assert.equal(mode(key), 0o600);
    assert.equal(mode(dirname(key)), 0o700);
    assert.equal(readFileSync(key, 'utf8'), '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n');
    assert.match(auth.env.GIT_SSH_COMMAND, /^ssh -o BatchMode=yes -o IdentitiesOnly=yes -i \S+ -o 'UserKnownHostsFile=\/var\/lib\/dozen\/deploy known-hosts' -o StrictHostKeyChecking=accept-new -o HashKnownHosts=no$/);
    assert.ok(!auth.env.GIT_SSH_COMMAND.includes('abc'));
    auth.cleanup();
    assert.ok(!existsSync(key));

    const strict = gitAuth('ssh://git@git.example.net/shop.git', { GIT_SSH_KEY: 'k', GIT_SSH_KNOWN_HOSTS: 'git.example.net ssh-ed25519 AAAA' }, '/nowhere');
    assert.match(strict.env.GIT_SSH_COMMAND, /UserKnownHostsFile=\S+\/known_hosts -o StrictHostKeyChecking=yes$/);
    assert.doesNotMatch(strict.env.GIT_SSH_COMMAND, /nowhere|accept-new/);
    strict.cleanup();
  });

  it('file:// and a repository without credential secrets need nothing', () => {
    assert.deepEqual(gitAuth('file:///srv/repo', { GIT_PASSWORD: 'x' }, '/nowhere').env, {});
    assert.deepEqual(gitAuth('https://git.example.net/open.git', {}, '/nowhere').env, {});
  });
});

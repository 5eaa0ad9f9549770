import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { gitAuth, redactUrl } from './git-credentials.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('git credentials from app secrets', () => {
  it('https: an askpass script in a private folder answers from git env, holds no secret itself, and is removed by cleanup', () => {
    const auth = gitAuth('https://git.example.net/team/shop.git', { GIT_USERNAME: 'deployer', GIT_PASSWORD: 's3cret-pw', OTHER: 'x' }, '/nowhere');
    const script = auth.env.GIT_ASKPASS;
    assert.equal(mode(script), 0o700);
    assert.equal(mode(dirname(script)), 0o700);
    assert.ok(!readFileSync(script, 'utf8').includes('s3cret-pw'));
    const ask = (prompt: string) => spawnSync(script, [prompt], { env: auth.env, encoding: 'utf8' }).stdout;
    assert.equal(ask("Username for 'https://git.example.net': "), 'deployer\n');
    assert.equal(ask("Password for 'https://deployer@git.example.net': "), 's3cret-pw\n');
    assert.deepEqual([auth.env.GIT_CONFIG_KEY_0, auth.env.GIT_CONFIG_VALUE_0], ['credential.helper', ''], 'no credential helper keeps it');
    assert.deepEqual(auth.using, ['GIT_USERNAME', 'GIT_PASSWORD']);
    auth.cleanup();
    assert.ok(!existsSync(dirname(script)));
  });

  it('https: a token is the password, with x-access-token as the user name unless GIT_USERNAME says otherwise', () => {
    const auth = gitAuth('https://git.example.net/shop.git', { GIT_TOKEN: 'tok-1', GIT_PASSWORD: 'ignored' }, '/nowhere');
    assert.equal(auth.env.DOZEN_GIT_USERNAME, 'x-access-token');
    assert.equal(auth.env.DOZEN_GIT_PASSWORD, 'tok-1');
    assert.deepEqual(auth.using, ['GIT_TOKEN']);
    auth.cleanup();
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

  it('file:// and a repository without credential secrets need nothing; URLs lose their user info in logs', () => {
    assert.deepEqual(gitAuth('file:///srv/repo', { GIT_PASSWORD: 'x' }, '/nowhere').env, {});
    assert.deepEqual(gitAuth('https://git.example.net/open.git', {}, '/nowhere').env, {});
    assert.equal(redactUrl('https://user:pw@git.example.net/a.git'), 'https://***@git.example.net/a.git');
    assert.equal(redactUrl('https://git.example.net/a@b.git'), 'https://git.example.net/a@b.git');
    assert.equal(redactUrl('ssh://git@git.example.net/a.git'), 'ssh://git@git.example.net/a.git');
  });
});

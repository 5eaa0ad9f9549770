import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasUrlCredentials, redactUrlCredentials, redactUrlUserInfo } from './url-credentials.js';

describe('credentials in URLs', () => {
  it("hide an http(s) URL's whole user info and another scheme's password, wherever the URL sits in a text", () => {
    assert.equal(redactUrlCredentials('https://ci:ghp_X1@git.example.net/a.git'), 'https://***@git.example.net/a.git');
    assert.equal(redactUrlCredentials('http://ghp_X1@git.example.net/a.git'), 'http://***@git.example.net/a.git');
    assert.equal(redactUrlCredentials('ssh://git:pw@git.example.net/a.git'), 'ssh://git:***@git.example.net/a.git');
    assert.equal(redactUrlCredentials('fetching from HTTPS://u:p@h/x and ssh://git@h/y'), 'fetching from HTTPS://***@h/x and ssh://git@h/y');
  });

  it('hide the user info up to its last @, as WHATWG URLs and ssh read it, so no part of a password with an @ shows', () => {
    assert.equal(redactUrlCredentials('https://u:p@ss@git.example.net/x'), 'https://***@git.example.net/x');
    assert.equal(redactUrlCredentials('https://u:p@ss@git.example.net'), 'https://***@git.example.net');
    assert.equal(redactUrlCredentials('ssh://git:p@ss@git.example.net/x'), 'ssh://git:***@git.example.net/x');
    assert.equal(redactUrlCredentials('https://u:p@ss@h/x and https://h/a@b'), 'https://***@h/x and https://h/a@b', 'an @ after the authority is path');
    assert.equal(hasUrlCredentials('https://u:p@ss@git.example.net/x'), true);
    assert.equal(redactUrlUserInfo('ssh://git:p@ss@git.example.net/x'), 'ssh://***@git.example.net/x');
    assert.equal(redactUrlUserInfo('from ssh://a@b@host/x?y=c@d and https://h/e@f'), 'from ssh://***@host/x?y=c@d and https://h/e@f');
  });

  it('leave URLs without them as they are: an @ in the path, an ssh user name', () => {
    for (const url of ['https://git.example.net/a@b.git', 'ssh://git@git.example.net/a.git', 'file:///srv/a@b', 'https://git.example.net:8443/a.git']) {
      assert.equal(redactUrlCredentials(url), url);
      assert.equal(hasUrlCredentials(url), false);
    }
    assert.equal(hasUrlCredentials('https://ci:ghp_X1@git.example.net/a.git'), true);
  });
});

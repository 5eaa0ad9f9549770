import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { addUser, login } from './people.js';

describe('login limits on two hosts sharing one database', { timeout: 180_000 }, () => {
  let mariadb: MariaDb;
  const hosts: DozenProcess[] = [];
  before(async () => {
    mariadb = await startMariaDb();
    const connection = await mariadb.connect();
    await connection.query('DROP DATABASE IF EXISTS dozen_login_hosts; CREATE DATABASE dozen_login_hosts');
    await connection.end();
    const env = {
      DOZEN_MODULES: 'registry',
      DOZEN_DATABASE_URL: `${mariadb.url}dozen_login_hosts`,
      DOZEN_ACCESS_LOGIN_MAX_FAILURES_PER_USER: '4',
      DOZEN_ACCESS_LOGIN_LOCKOUT_SECONDS: '60',
      DOZEN_ADMIN_TRUSTED_PROXIES: '127.0.0.1',
    };
    // One at a time: both run the migrations.
    hosts.push(await startDozen({ env: { ...env, DOZEN_HOST_NAME: 'door-a' } }));
    hosts.push(await startDozen({ env: { ...env, DOZEN_HOST_NAME: 'door-b' } }));
  });
  after(async () => {
    await Promise.all(hosts.map((host) => host.stop()));
    await mariadb?.stop();
  });

  it('counts a user name\'s failures on every host together: spreading guesses over hosts gains nothing', async () => {
    const [a, b] = hosts;
    await addUser(a, 'shared', 'viewer');
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const host = attempt % 2 === 0 ? a : b;
      statuses.push((await login(host, 'shared', 'wrong-guess', { 'x-forwarded-for': `198.51.100.${attempt + 1}` })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401]);
    for (const host of [a, b]) {
      const refused = await login(host, 'shared', 'shared-password', { 'x-forwarded-for': '198.51.100.99' });
      assert.equal(refused.status, 429, `host ${host.url} refuses the right password during the lockout`);
      assert.match((await refused.json()).message, /^try again in \d+ s$/);
    }
    const reset = await b.api('/users/shared/password', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'shared-password-2' }) });
    assert.equal(reset.status, 200);
    assert.equal((await login(a, 'shared', 'shared-password-2')).status, 200, 'a reset on one host lifts the lockout on the other');
  });

  it('counts concurrent failures on both hosts without losing any', async () => {
    const [a, b] = hosts;
    await addUser(a, 'raced', 'viewer');
    const attempts = [a, b, a, b].map((host, index) => login(host, 'raced', 'wrong-guess', { 'x-forwarded-for': `203.0.113.${index + 1}` }));
    assert.deepEqual((await Promise.all(attempts)).map((response) => response.status), [401, 401, 401, 401]);
    assert.equal((await login(b, 'raced', 'raced-password', { 'x-forwarded-for': '203.0.113.99' })).status, 429);
  });
});

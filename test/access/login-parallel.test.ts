import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { addUser, login } from './people.js';

/** The statuses of logins sent all at once, counted: {401: n, 429: m, ...}. */
async function burst(dozen: DozenProcess, attempts: { username: string; password: string; address: string }[]): Promise<Record<number, number>> {
  const statuses = await Promise.all(attempts.map(async ({ username, password, address }) => (await login(dozen, username, password, { 'x-forwarded-for': address })).status));
  const counted: Record<number, number> = {};
  for (const status of statuses) counted[status] = (counted[status] ?? 0) + 1;
  return counted;
}

describe('login limits hold for guesses sent in parallel', { timeout: 180_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    // The documented limits: 5 failures per name, 20 per address, 300 s lockout.
    dozen = await startDozen({ env: { DOZEN_MODULES: 'registry', DOZEN_ADMIN_TRUSTED_PROXIES: '127.0.0.1' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  it('200 wrong passwords for one name at once: at most 5 are checked, the rest get 429, and then so does the right one', async () => {
    await addUser(dozen, 'target', 'viewer');
    const counted = await burst(dozen, Array.from({ length: 200 }, (_, index) => ({ username: 'target', password: `guess-${index}`, address: `198.51.100.${index % 200}` })));
    assert.ok((counted[401] ?? 0) >= 1 && (counted[401] ?? 0) <= 5, `checked: ${JSON.stringify(counted)}`);
    assert.equal((counted[401] ?? 0) + (counted[429] ?? 0), 200, JSON.stringify(counted));
    assert.equal((await login(dozen, 'target', 'target-password', { 'x-forwarded-for': '198.51.100.250' })).status, 429, 'locked out');
  });

  it('60 at once with the right password last: it is refused, and the lockout stays', async () => {
    await addUser(dozen, 'second', 'viewer');
    const attempts = Array.from({ length: 60 }, (_, index) => ({ username: 'second', password: index === 59 ? 'second-password' : `guess-${index}`, address: `203.0.113.${index}` }));
    const counted = await burst(dozen, attempts);
    assert.equal(counted[200], undefined, `a guess past the limit got in: ${JSON.stringify(counted)}`);
    assert.ok((counted[401] ?? 0) <= 5, JSON.stringify(counted));
    assert.equal((await login(dozen, 'second', 'second-password', { 'x-forwarded-for': '203.0.113.200' })).status, 429, 'no success cleared the count');
  });

  it('100 names at once from one address: at most 20 are checked', async () => {
    const counted = await burst(dozen, Array.from({ length: 100 }, (_, index) => ({ username: `sprayed${index}`, password: 'Winter2025!', address: '192.0.2.77' })));
    assert.ok((counted[401] ?? 0) >= 1 && (counted[401] ?? 0) <= 20, JSON.stringify(counted));
    assert.equal((counted[401] ?? 0) + (counted[429] ?? 0), 100, JSON.stringify(counted));
  });
});

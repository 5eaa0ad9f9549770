import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dueAt, orderable, plan, wantedDomains } from './renewal-plan.js';

const DAY = 86_400_000;
const rules = { renewBeforeMs: 30 * DAY };

describe('which domains get an ACME certificate', () => {
  it('only exact names of tls:auto apps; never a wildcard, an IP, a one-label name or a name a certificate file covers', () => {
    const apps = [
      { app: 'shop', domains: ['shop.example.net', 'www.shop.example.net', '*.shop.example.net'] },
      { app: 'intranet', domains: ['intranet.example.net'] },
      { app: 'odd', domains: ['localhost', '10.0.0.1', 'Files.Example.net'] },
    ];
    const tls = (app: string) => (app === 'intranet' ? 'off' : 'auto');
    assert.deepEqual(wantedDomains(apps, tls, new Set(['files.example.net'])), ['shop.example.net', 'www.shop.example.net']);
  });

  it('orderable names', () => {
    for (const name of ['a.example.net', 'xn--bcher-kva.example', 'a-b.c']) assert.ok(orderable(name), name);
    for (const name of ['*.example.net', 'example', '127.0.0.1', '-a.example.net', 'a..b', 'A.example.net']) assert.ok(!orderable(name), name);
  });
});

describe('when a certificate is ordered', () => {
  const now = Date.UTC(2026, 10, 29);
  it('at once without a certificate, unless backing off', () => {
    assert.equal(dueAt(undefined, rules), 0);
    assert.equal(dueAt({ domain: 'a.example.net', notBefore: null, notAfter: null, nextAttemptAt: now + 5000 }, rules), now + 5000);
  });

  it('30 days before expiry for a 90-day certificate; a third of the lifetime ahead for a short one', () => {
    assert.equal(dueAt({ domain: 'a', notBefore: now, notAfter: now + 90 * DAY, nextAttemptAt: null }, rules), now + 60 * DAY);
    assert.equal(dueAt({ domain: 'a', notBefore: now, notAfter: now + 6 * DAY, nextAttemptAt: null }, rules), now + 4 * DAY);
    assert.equal(dueAt({ domain: 'a', notBefore: now, notAfter: now + 90_000, nextAttemptAt: null }, rules), now + 60_000);
  });

  it('a failed renewal waits for its backoff even when the certificate is due', () => {
    assert.equal(dueAt({ domain: 'a', notBefore: now - 80 * DAY, notAfter: now + 10 * DAY, nextAttemptAt: now + 600_000 }, rules), now + 600_000);
  });

  it('plan: the due domains, most overdue first, and when the next falls due', () => {
    const states = new Map([
      ['new.example.net', undefined],
      ['old.example.net', { domain: 'old.example.net', notBefore: now - 89 * DAY, notAfter: now + DAY, nextAttemptAt: null }],
      ['fresh.example.net', { domain: 'fresh.example.net', notBefore: now, notAfter: now + 90 * DAY, nextAttemptAt: null }],
    ].filter(([, state]) => state) as [string, NonNullable<Parameters<typeof dueAt>[0]>][]);
    const result = plan(['fresh.example.net', 'new.example.net', 'old.example.net'], states, rules, now);
    assert.deepEqual(result.due, ['new.example.net', 'old.example.net']);
    assert.equal(result.nextAt, now + 60 * DAY);
  });
});

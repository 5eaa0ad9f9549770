import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Load } from '../../registry/routes.js';
import { hashString, type Target } from './balancer.js';
import { ipHash } from './ip-hash.js';
import { leastLoad } from './least-load.js';
import { random } from './random.js';
import { urlHash } from './url-hash.js';

function targets(count: number, load: (index: number) => Partial<Load> | null = () => null): Target[] {
  return Array.from({ length: count }, (_, index) => {
    const reported = load(index);
    return {
      id: `instance-${index}`,
      hash: hashString(`instance-${index}`),
      load: reported ? { cpu: 0, memory: 0, processes: 1, inflight: 0, at: Date.now(), ...reported } : null,
      upstream: { inflight: 0 },
    };
  });
}

function counts(picks: number[], size: number): number[] {
  const result = new Array<number>(size).fill(0);
  for (const pick of picks) result[pick]++;
  return result;
}

describe('balancers', () => {
  it('random spreads evenly and never returns a skipped index', () => {
    const four = targets(4);
    const picks = counts(Array.from({ length: 8000 }, () => random(four, { clientIp: '', path: '/' }, null)), 4);
    for (const count of picks) assert.ok(count > 1700 && count < 2300, `uneven: ${picks}`);
    const skip = new Set([0, 2]);
    for (let index = 0; index < 200; index++) assert.ok([1, 3].includes(random(four, { clientIp: '', path: '/' }, skip)));
    assert.equal(random(four, { clientIp: '', path: '/' }, new Set([0, 1, 2, 3])), -1);
    assert.equal(random([], { clientIp: '', path: '/' }, null), -1);
  });

  it('ip-hash keeps a client on one backend and moves only the clients of a removed backend', () => {
    const five = targets(5);
    const clients = Array.from({ length: 5000 }, (_, index) => `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`);
    const before = clients.map((clientIp) => five[ipHash(five, { clientIp, path: '/' }, null)].id);
    assert.deepEqual(clients.map((clientIp) => five[ipHash(five, { clientIp, path: '/' }, null)].id), before, 'not stable');
    const spread = counts(before.map((id) => Number(id.split('-')[1])), 5);
    for (const count of spread) assert.ok(count > 800 && count < 1200, `uneven: ${spread}`);
    const four = five.filter((target) => target.id !== 'instance-2');
    const afterRemoval = clients.map((clientIp) => four[ipHash(four, { clientIp, path: '/' }, null)].id);
    let moved = 0;
    for (let index = 0; index < clients.length; index++) {
      if (before[index] === 'instance-2') continue;
      if (afterRemoval[index] !== before[index]) moved++;
    }
    assert.equal(moved, 0, 'clients of the remaining backends moved');
    const six = targets(6);
    const afterAdding = clients.map((clientIp) => six[ipHash(six, { clientIp, path: '/' }, null)].id);
    const changed = afterAdding.filter((id, index) => id !== before[index]).length;
    assert.ok(changed > clients.length / 6 - 200 && changed < clients.length / 6 + 200, `adding a sixth moved ${changed} of ${clients.length}`);
    assert.ok(afterAdding.every((id, index) => id === before[index] || id === 'instance-5'), 'a client moved between old backends');
  });

  it('ip-hash with a skipped backend falls back to the next-highest score, the same for every retry', () => {
    const three = targets(3);
    const first = ipHash(three, { clientIp: '192.0.2.7', path: '/' }, null);
    const second = ipHash(three, { clientIp: '192.0.2.7', path: '/' }, new Set([first]));
    assert.notEqual(second, first);
    assert.equal(ipHash(three, { clientIp: '192.0.2.7', path: '/' }, new Set([first])), second);
  });

  it('url-hash keys on the path', () => {
    const four = targets(4);
    const paths = Array.from({ length: 400 }, (_, index) => `/images/${index}.png`);
    const picks = paths.map((path) => urlHash(four, { clientIp: 'x', path }, null));
    assert.deepEqual(paths.map((path) => urlHash(four, { clientIp: 'y', path }, null)), picks, 'the client changed the pick');
    assert.equal(new Set(picks).size, 4);
  });

  it('least-load prefers the less loaded without starving the busiest', () => {
    const three = targets(3, (index) => ({ cpu: [10, 50, 90][index], inflight: [0, 2, 6][index] }));
    const picks = counts(Array.from({ length: 9000 }, () => leastLoad(three, { clientIp: '', path: '/' }, null)), 3);
    // Two independent draws, lower score wins: 5/9, 3/9, 1/9.
    assert.ok(picks[0] > picks[1] && picks[1] > picks[2], `not ordered by load: ${picks}`);
    assert.ok(picks[0] > 4500 && picks[0] < 5500, `${picks}`);
    assert.ok(picks[2] > 700 && picks[2] < 1300, `the busiest starved: ${picks}`);
  });

  it('least-load counts this worker\'s in-flight requests and treats unknown load as average', () => {
    const two = targets(2, (index) => (index === 0 ? { inflight: 1 } : null));
    (two[0].upstream as { inflight: number }).inflight = 5;
    const picks = counts(Array.from({ length: 2000 }, () => leastLoad(two, { clientIp: '', path: '/' }, null)), 2);
    assert.ok(picks[1] > picks[0] * 2, `in-flight not counted: ${picks}`);
    const stale = targets(2, (index) => ({ inflight: index === 0 ? 50 : 0, at: Date.now() - 10_000 }));
    const even = counts(Array.from({ length: 4000 }, () => leastLoad(stale, { clientIp: '', path: '/' }, null)), 2);
    assert.ok(Math.abs(even[0] - even[1]) < 400, `stale load was trusted: ${even}`);
  });
});

import type { Load } from '../../registry/routes.js';

/** One backend as a balancer sees it. */
export interface Target {
  /** Stable identity (the instance id); hashing strategies hash it with the request key. */
  readonly id: string;
  /** `hashString(id)`, computed once when the route table is built. */
  readonly hash: number;
  /** Latest reported load, or null when none arrived recently. */
  readonly load: Load | null;
  /** This worker's requests in flight to the backend (changes as requests run). */
  readonly upstream: { readonly inflight: number };
}

/** What a strategy may look at in a request. */
export interface BalanceRequest {
  readonly clientIp: string;
  /** The path, with or without the query as the app's policy says. */
  readonly path: string;
}

/**
 * A strategy: picks the index of one target, never one in `skip` (the backends
 * already tried, or known down); -1 when none is left. Pure apart from
 * Math.random and the targets' in-flight counts.
 */
export type Balancer = (targets: readonly Target[], request: BalanceRequest, skip: ReadonlySet<number> | null) => number;

/** FNV-1a over UTF-16 code units, then murmur3's finaliser so close keys spread. */
export function hashString(value: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < value.length; index++) {
    hash ^= value.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return mix(hash);
}

/** murmur3 fmix32: a bijection on 32-bit integers that spreads every input bit. */
export function mix(value: number): number {
  let hash = value ^ (value >>> 16);
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * Rendezvous (highest random weight) hashing: every target gets a score from
 * (key, target) and the highest wins. Removing a target only moves the keys it
 * had won (~1/n of them); adding one only takes ~1/(n+1) from the others.
 */
export function rendezvous(targets: readonly Target[], key: string, skip: ReadonlySet<number> | null): number {
  const keyHash = hashString(key);
  let best = -1;
  let bestScore = -1;
  for (let index = 0; index < targets.length; index++) {
    if (skip?.has(index)) continue;
    const score = mix(keyHash ^ targets[index].hash);
    if (score > bestScore) {
      bestScore = score;
      best = index;
    }
  }
  return best;
}

/** A uniformly random index not in `skip`; -1 when all are skipped. */
export function randomIndex(count: number, skip: ReadonlySet<number> | null): number {
  if (!skip || skip.size === 0) return count === 0 ? -1 : Math.floor(Math.random() * count);
  const left = count - countSkipped(count, skip);
  if (left <= 0) return -1;
  let nth = Math.floor(Math.random() * left);
  for (let index = 0; index < count; index++) {
    if (skip.has(index)) continue;
    if (nth-- === 0) return index;
  }
  return -1;
}

function countSkipped(count: number, skip: ReadonlySet<number>): number {
  let skipped = 0;
  for (const index of skip) if (index >= 0 && index < count) skipped++;
  return skipped;
}

/** Random mutations of protocol bytes for differential and fuzz specs, repeatable from a seed. */

/** A small deterministic generator (mulberry32), so a failure repeats. */
export function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One to three edits of `bytes`: a byte replaced, inserted or removed, or the rest cut off. Seven in
 * ten new bytes come from `interesting` (the protocol's delimiters and edge values), the others at random.
 */
export function mutateBytes(bytes: Buffer, next: () => number, interesting: readonly number[]): Buffer {
  const out = [...bytes];
  for (let edits = 1 + Math.floor(next() * 3); edits > 0; edits--) {
    const at = Math.floor(next() * out.length);
    const byte = next() < 0.7 ? interesting[Math.floor(next() * interesting.length)] : Math.floor(next() * 256);
    const op = next();
    if (op < 0.4) out[at] = byte;
    else if (op < 0.7) out.splice(at, 0, byte);
    else if (op < 0.9) out.splice(at, 1);
    else out.length = at;
  }
  return Buffer.from(out);
}

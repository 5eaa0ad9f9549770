/**
 * CRC-64/ECMA-182 as OSS computes it (`x-oss-hash-crc64ecma`: the CRC-64/XZ
 * variant, reflected polynomial 0xC96C5795D7870F42, init and final xor all
 * ones, shown as a decimal unsigned 64-bit string).
 *
 * This runs over every byte dozen stores, on the uploading client and again in
 * the server, so the loop is a WebAssembly kernel (`crc64-kernel.ts`, ~3x the
 * JavaScript table loop it replaced). `combine` joins the CRCs of two adjacent
 * pieces without reading them again, as zlib's crc32_combine does, so
 * multipart uploads are checked end to end in one pass.
 */
import { createCrc64Kernel, STAGING_BYTES, STAGING_OFFSET } from './crc64-kernel.js';

const kernel = createCrc64Kernel();

/** A running CRC64: `update` every chunk in order, read `value` at the end. */
export class Crc64 {
  private crc = 0n;

  update(data: Uint8Array): this {
    // The kernel reads only its own memory: copy in slices that stay in cache while they are hashed.
    let crc = this.crc;
    for (let start = 0; start < data.length; start += STAGING_BYTES) {
      const slice = data.subarray(start, start + STAGING_BYTES);
      kernel.memory.set(slice, STAGING_OFFSET);
      crc = kernel.update(crc, STAGING_OFFSET, slice.length);
    }
    this.crc = BigInt.asUintN(64, crc);
    return this;
  }

  get value(): string {
    return this.crc.toString();
  }

  /** Continues from a CRC already known for the bytes before (an append). */
  static continuing(previous: string): Crc64 {
    const running = new Crc64();
    running.crc = BigInt(previous);
    return running;
  }
}

export function crc64Of(data: Uint8Array): string {
  return new Crc64().update(data).value;
}

const POLY = 0xc96c5795d7870f42n;
/** The operator "append n zero bytes" as 64 columns, cached by n (parts of one upload share their size). */
const shifts = new Map<number, bigint[]>();

function times(matrix: bigint[], vector: bigint): bigint {
  let sum = 0n;
  for (let row = 0; vector; row++, vector >>= 1n) if (vector & 1n) sum ^= matrix[row];
  return sum;
}

function compose(outer: bigint[], inner: bigint[]): bigint[] {
  return inner.map((column) => times(outer, column));
}

function shiftFor(length: number): bigint[] {
  const cached = shifts.get(length);
  if (cached) return cached;
  // One zero bit, then squared: 2, 4, 8 bits ... = 1, 2, 4 ... bytes at each set bit of `length`.
  let operator: bigint[] = [POLY, ...Array.from({ length: 63 }, (_, row) => 1n << BigInt(row))];
  for (let bits = 0; bits < 3; bits++) operator = compose(operator, operator);
  let result: bigint[] | null = null;
  for (let rest = length; rest > 0; rest = Math.floor(rest / 2)) {
    if (rest % 2) result = result ? compose(operator, result) : operator;
    if (rest > 1) operator = compose(operator, operator);
  }
  const shift = result ?? Array.from({ length: 64 }, (_, row) => 1n << BigInt(row));
  if (shifts.size > 64) shifts.clear();
  shifts.set(length, shift);
  return shift;
}

/** The CRC64 of A followed by B, from crc(A), crc(B) and B's length. */
export function combineCrc64(first: string, second: string, secondLength: number): string {
  if (secondLength === 0) return first;
  return (times(shiftFor(secondLength), BigInt(first)) ^ BigInt(second)).toString();
}

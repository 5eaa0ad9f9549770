/**
 * CRC-64/ECMA-182 as OSS computes it (`x-oss-hash-crc64ecma`: the CRC-64/XZ
 * variant, reflected polynomial 0xC96C5795D7870F42, init and final xor all
 * ones, shown as a decimal unsigned 64-bit string).
 *
 * Table-driven, eight bytes per step ("slicing-by-8") on two 32-bit halves,
 * because this runs over every byte dozen stores and the WebAssembly package
 * crc64-ecma182.js (kept as the test oracle) is slower and works in 16 MB
 * slices. `combine` joins the CRCs of two adjacent pieces without reading them
 * again, as zlib's crc32_combine does, so multipart uploads are checked end to
 * end in one pass.
 */
const POLY_LOW = 0xd7870f42;
const POLY_HIGH = 0xc96c5795;

/** TABLE[(slice * 256 + byte) * 2] = low half, +1 = high half: the CRC of `byte` followed by `slice` zero bytes. */
const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(8 * 256 * 2);
  for (let byte = 0; byte < 256; byte++) {
    let low = byte;
    let high = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = low & 1;
      low = ((low >>> 1) | (high << 31)) >>> 0;
      high >>>= 1;
      if (carry) {
        low = (low ^ POLY_LOW) >>> 0;
        high = (high ^ POLY_HIGH) >>> 0;
      }
    }
    table[byte * 2] = low;
    table[byte * 2 + 1] = high;
  }
  for (let slice = 1; slice < 8; slice++) {
    for (let byte = 0; byte < 256; byte++) {
      const previous = ((slice - 1) * 256 + byte) * 2;
      const low = table[previous];
      const high = table[previous + 1];
      const index = (low & 0xff) * 2;
      table[(slice * 256 + byte) * 2] = (((low >>> 8) | (high << 24)) ^ table[index]) >>> 0;
      table[(slice * 256 + byte) * 2 + 1] = ((high >>> 8) ^ table[index + 1]) >>> 0;
    }
  }
  return table;
}

/** A running CRC64: `update` every chunk in order, read `value` at the end. */
export class Crc64 {
  private low = 0;
  private high = 0;

  update(data: Uint8Array): this {
    const table = TABLE;
    let low = ~this.low >>> 0;
    let high = ~this.high >>> 0;
    const length = data.length;
    const whole = length - (length % 8);
    let index = 0;
    for (; index < whole; index += 8) {
      const a = (low ^ (data[index] | (data[index + 1] << 8) | (data[index + 2] << 16) | (data[index + 3] << 24))) >>> 0;
      const b = (high ^ (data[index + 4] | (data[index + 5] << 8) | (data[index + 6] << 16) | (data[index + 7] << 24))) >>> 0;
      const s7 = (1792 + (a & 0xff)) * 2;
      const s6 = (1536 + ((a >>> 8) & 0xff)) * 2;
      const s5 = (1280 + ((a >>> 16) & 0xff)) * 2;
      const s4 = (1024 + (a >>> 24)) * 2;
      const s3 = (768 + (b & 0xff)) * 2;
      const s2 = (512 + ((b >>> 8) & 0xff)) * 2;
      const s1 = (256 + ((b >>> 16) & 0xff)) * 2;
      const s0 = (b >>> 24) * 2;
      low = table[s7] ^ table[s6] ^ table[s5] ^ table[s4] ^ table[s3] ^ table[s2] ^ table[s1] ^ table[s0];
      high = table[s7 + 1] ^ table[s6 + 1] ^ table[s5 + 1] ^ table[s4 + 1] ^ table[s3 + 1] ^ table[s2 + 1] ^ table[s1 + 1] ^ table[s0 + 1];
    }
    for (; index < length; index++) {
      const slot = ((low ^ data[index]) & 0xff) * 2;
      low = (((low >>> 8) | (high << 24)) ^ table[slot]) >>> 0;
      high = ((high >>> 8) ^ table[slot + 1]) >>> 0;
    }
    this.low = ~low >>> 0;
    this.high = ~high >>> 0;
    return this;
  }

  get value(): string {
    return ((BigInt(this.high) << 32n) | BigInt(this.low)).toString();
  }

  /** Continues from a CRC already known for the bytes before (an append). */
  static continuing(previous: string): Crc64 {
    const running = new Crc64();
    const value = BigInt(previous);
    running.low = Number(value & 0xffffffffn);
    running.high = Number(value >> 32n);
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

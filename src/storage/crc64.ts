import { createRequire } from 'node:module';

/**
 * CRC-64/ECMA-182 as OSS computes it (`x-oss-hash-crc64ecma`, a decimal
 * unsigned 64-bit string). crc64-ecma182.js is a WebAssembly build with a
 * fixed 16 MB heap, so input is fed in slices well below that.
 */
const crc = createRequire(import.meta.url)('crc64-ecma182.js') as { crc64(data: Buffer, previous?: string): string };
const SLICE = 1024 * 1024;

/** A running CRC64: `update` every chunk in order, read `value` at the end. */
export class Crc64 {
  private current = '0';

  update(data: Buffer): this {
    for (let start = 0; start < data.length; start += SLICE) {
      this.current = crc.crc64(data.subarray(start, Math.min(start + SLICE, data.length)), this.current);
    }
    return this;
  }

  get value(): string {
    return this.current;
  }

  /** Continues from a CRC already known for the bytes before (an append). */
  static continuing(previous: string): Crc64 {
    const running = new Crc64();
    running.current = previous;
    return running;
  }
}

export function crc64Of(data: Buffer): string {
  return new Crc64().update(data).value;
}

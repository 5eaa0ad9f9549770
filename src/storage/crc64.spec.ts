import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { combineCrc64, Crc64, crc64Of } from './crc64.js';

/** The reference: the crc64-ecma182.js package (a WebAssembly build of the ECMA-182 CRC OSS uses). */
const reference = createRequire(import.meta.url)('crc64-ecma182.js') as { crc64(data: Buffer): string };

function bytes(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size);
  let state = seed;
  for (let index = 0; index < size; index++) buffer[index] = (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
  return buffer;
}

describe('CRC-64/ECMA-182', () => {
  it('gives the check value for "123456789" and 0 for nothing', () => {
    assert.equal(crc64Of(Buffer.from('123456789')), '11051210869376104954');
    assert.equal(crc64Of(Buffer.alloc(0)), '0');
  });

  it('matches the reference package for odd sizes and any chunking', () => {
    for (const size of [1, 7, 8, 9, 1000, 65_537, 1_000_003]) {
      const data = bytes(size, size);
      const expected = reference.crc64(data);
      assert.equal(crc64Of(data), expected, `size ${size}`);
      const running = new Crc64();
      for (let start = 0; start < size; start += 4093) running.update(data.subarray(start, start + 4093));
      assert.equal(running.value, expected, `size ${size} in chunks`);
      const half = Math.floor(size / 2);
      assert.equal(Crc64.continuing(crc64Of(data.subarray(0, half))).update(data.subarray(half)).value, expected);
    }
  });

  it('combines the CRCs of adjacent pieces into the CRC of the whole', () => {
    const data = bytes(3_000_017, 5);
    for (const cut of [0, 1, 8, 65_536, 1_048_576, 2_999_999]) {
      const combined = combineCrc64(crc64Of(data.subarray(0, cut)), crc64Of(data.subarray(cut)), data.length - cut);
      assert.equal(combined, reference.crc64(data), `cut at ${cut}`);
    }
  });
});

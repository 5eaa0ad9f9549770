import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byteOrder } from './local.listing.js';

describe('listing order', () => {
  it('compares as UTF-8 bytes do, also where UTF-16 code units disagree (above U+FFFF against U+E000-U+FFFF)', () => {
    const characters = ['a', '/', '-', '.', '0', '\u007f', 'é', '\u0800', '\ud7ff', '\ue000', '\uff01', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}'];
    const strings = characters.flatMap((first) => characters.flatMap((second) => [first + second, first, second + 'x']));
    for (const left of strings) {
      for (const right of strings) {
        assert.equal(Math.sign(byteOrder(left, right)), Math.sign(Buffer.compare(Buffer.from(left), Buffer.from(right))), `${JSON.stringify(left)} against ${JSON.stringify(right)}`);
      }
    }
  });

  it('puts a folder (name and /) between names that differ from it by a byte either side of /', () => {
    assert.deepEqual(['a0', 'a/', 'a.b', 'a-b', 'a'].sort(byteOrder), ['a', 'a-b', 'a.b', 'a/', 'a0']);
  });
});

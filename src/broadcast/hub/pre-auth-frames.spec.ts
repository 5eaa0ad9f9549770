import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreAuthFrames } from './pre-auth-frames.js';

describe('PreAuthFrames', () => {
  it('keeps frames in order up to the limits, then refuses and keeps nothing', () => {
    const pending = new PreAuthFrames({ frames: 3, bytes: 10 });
    assert.equal(pending.hold(Buffer.from('aaaa'), false), true);
    assert.equal(pending.hold(Buffer.from('bbbbbb'), true), true, '10 bytes: the limit itself fits');
    assert.deepEqual(pending.take(), [
      [Buffer.from('aaaa'), false],
      [Buffer.from('bbbbbb'), true],
    ]);
    assert.deepEqual(pending.take(), [], 'taken once');
    const tooMany = new PreAuthFrames({ frames: 2, bytes: 1000 });
    for (const frame of ['a', 'b']) assert.equal(tooMany.hold(Buffer.from(frame), false), true);
    assert.equal(tooMany.hold(Buffer.from('c'), false), false);
    assert.equal(tooMany.hold(Buffer.from('d'), false), false, 'stays refused');
    assert.deepEqual(tooMany.take(), []);
    assert.deepEqual({ frames: tooMany.frames, bytes: tooMany.bytes }, { frames: 4, bytes: 4 });
  });

  it('refuses a frame that brings the bytes past the limit', () => {
    const pending = new PreAuthFrames({ frames: 32, bytes: 10 });
    assert.equal(pending.hold(Buffer.alloc(6), false), true);
    assert.equal(pending.hold(Buffer.alloc(5), false), false);
    assert.deepEqual(pending.take(), []);
  });
});

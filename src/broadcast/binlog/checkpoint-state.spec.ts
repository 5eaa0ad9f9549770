import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CheckpointState, POSITION_SAVE_BYTES } from './checkpoint-state.js';

describe('CheckpointState', () => {
  it('writes after every published change, and a resume point that only moved when it is far, in another file, or at shutdown', () => {
    const state = new CheckpointState();
    assert.equal(state.cut('db:3306', false), null, 'nothing read yet');
    state.resumeAt = { file: 'binlog.000001', pos: 1000 };
    assert.equal(state.cut('db:3306', false)?.resumePosition, 1000, 'the first position read');
    state.resumeAt = { file: 'binlog.000001', pos: 1500 };
    assert.equal(state.cut('db:3306', false), null, 'a small move past unpublished changes (dozen\'s own save, say) waits');
    state.roomSeqs.set('db.shop.orders', 4);
    state.publishedUpTo({ file: 'binlog.000001', pos: 1400, row: 0 });
    const row = state.cut('db:3306', false);
    assert.deepEqual([row?.resumePosition, row?.lastPosition, row?.roomSeqs], [1500, 1400, '{"db.shop.orders":4}']);
    state.resumeAt = { file: 'binlog.000001', pos: 1500 + POSITION_SAVE_BYTES };
    assert.ok(state.cut('db:3306', false), '1 MiB further');
    state.resumeAt = { file: 'binlog.000002', pos: 4 };
    assert.ok(state.cut('db:3306', false), 'another file');
    state.resumeAt = { file: 'binlog.000002', pos: 90 };
    assert.equal(state.cut('db:3306', false), null);
    assert.ok(state.cut('db:3306', true), 'any move at shutdown');
    assert.equal(state.cut('db:3306', true), null, 'nothing moved since');
    state.unsaved();
    assert.ok(state.cut('db:3306', false), 'a write that failed is cut again');
  });
});

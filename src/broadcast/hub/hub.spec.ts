import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hub } from './hub.js';
import { roomPattern } from './room-access.js';
import type { Subscriber } from './room.js';

function recorder(): Subscriber & { frames: { seq: number; data: unknown }[] } {
  const frames: { seq: number; data: unknown }[] = [];
  return { frames, deliver: (frame) => (frames.push(JSON.parse(frame.toString())), true) };
}

describe('Hub', () => {
  it('numbers each room on its own and hands every subscriber the same frames in order', () => {
    const hub = new Hub({ messages: 10, seconds: 60 });
    const [first, second] = [recorder(), recorder()];
    hub.join(first, 'a');
    hub.join(second, 'a');
    hub.publish('a', 1);
    hub.publish('b', 'other');
    hub.publish('a', 2);
    assert.deepEqual(first.frames.map((frame) => [frame.seq, frame.data]), [[1, 1], [2, 2]]);
    assert.deepEqual(second.frames, first.frames);
    assert.equal(hub.seq('b'), 1);
  });

  it('replays after since, reports a gap before the kept history, and trims by count and age', () => {
    const hub = new Hub({ messages: 3, seconds: 60 });
    for (let index = 1; index <= 5; index++) hub.publish('a', index, 1000);
    const late = recorder();
    assert.deepEqual(hub.join(late, 'a', 1, 1000), { gap: true, oldest: 2, seq: 5 });
    const result = hub.join(late, 'a', 3, 1000);
    assert.ok(!('gap' in result));
    assert.deepEqual(result.backlog.map((message) => message.seq), [4, 5]);
    assert.deepEqual(hub.history('a', 0, 1000 + 61_000).messages, [], 'older than 60 s is gone');
  });

  it('skips messages up to a since that is ahead of the room (a room rebuilt after a restart)', () => {
    const hub = new Hub({ messages: 10, seconds: 60 });
    hub.restoreSeq('a', 10);
    const client = recorder();
    hub.join(client, 'a', 12);
    for (let index = 11; index <= 13; index++) hub.publish('a', index);
    assert.deepEqual(client.frames.map((frame) => frame.seq), [13]);
  });
});

describe('room patterns', () => {
  it('lets * stand for any run of characters and keeps dots literal', () => {
    assert.ok(roomPattern('db.shop.*').test('db.shop.orders'));
    assert.ok(!roomPattern('db.shop.*').test('db.shopping.orders'));
    assert.ok(!roomPattern('db.shop').test('dbxshop'));
    assert.ok(roomPattern('*').test('anything'));
  });
});

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
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
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
    const hub = new Hub({ messages: 3, seconds: 60, bytes: 1 << 20 });
    for (let index = 1; index <= 5; index++) hub.publish('a', index, 1000);
    const late = recorder();
    const gap = hub.join(late, 'a', 1, undefined, 1000);
    assert.ok('gap' in gap && /after seq 1 are no longer kept \(history starts after 2/.test(gap.gap));
    const result = hub.join(late, 'a', 3, undefined, 1000);
    assert.ok(!('gap' in result));
    assert.deepEqual(result.backlog.map((message) => message.seq), [4, 5]);
    assert.equal(hub.history('a', 0, undefined, 1000 + 61_000)!.gap !== null, true, 'older than 60 s is gone');
  });

  it('trims the history by frame bytes', () => {
    const hub = new Hub({ messages: 1000, seconds: 60, bytes: 1000 });
    for (let index = 1; index <= 20; index++) hub.publish('a', 'x'.repeat(100), 1000);
    const kept = hub.history('a', 0, undefined, 1000)!;
    assert.ok(kept.gap, 'the oldest went');
    const oldest = hub.history('a', 15, undefined, 1000)!;
    assert.deepEqual(oldest.messages.map((message) => message.seq), [16, 17, 18, 19, 20]);
  });

  it('skips messages up to a since that is ahead of a binlog room (replayed with the same seqs after a restart)', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
    hub.restoreSeq('a', 10);
    hub.markReplayable('a');
    const client = recorder();
    hub.join(client, 'a', 12);
    for (let index = 11; index <= 13; index++) hub.publish('a', index);
    assert.deepEqual(client.frames.map((frame) => frame.seq), [13]);
  });

  it('answers a gap to a since ahead of any other room, and to another epoch', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
    hub.publish('a', 1);
    const joined = hub.join(recorder(), 'a');
    assert.ok(!('gap' in joined) && /^[0-9a-f]{8}$/.test(joined.epoch));
    assert.ok('gap' in hub.join(recorder(), 'a', 5), 'ahead of the room');
    assert.ok('gap' in hub.join(recorder(), 'a', 0, 'other'), 'another epoch');
    assert.ok(!('gap' in hub.join(recorder(), 'a', 0, joined.epoch)));
  });

  it('keeps the previous epoch valid up to where a loss may start, and none of it after a break', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
    hub.publish('a', 1);
    hub.publish('a', 2);
    const before = hub.list()[0].epoch;
    hub.continueAfterLoss('a');
    hub.publish('a', 3);
    const resumed = hub.join(recorder(), 'a', 2, before);
    assert.ok(!('gap' in resumed) && resumed.epoch !== before && resumed.backlog.length === 1);
    const subscriber = recorder();
    hub.join(subscriber, 'a');
    const current = hub.list()[0].epoch;
    hub.breakRoom('a', 'changes were lost');
    assert.equal((subscriber.frames[0] as unknown as { code: string }).code, 'history_gap', 'joined clients are told');
    assert.ok('gap' in hub.join(recorder(), 'a', 3, current), 'no resume across the break');
  });
});

describe('Hub changes', () => {
  it('tells its change listeners of every join, leave and message, until unwatched', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
    const seen: string[] = [];
    const unwatch = hub.onChange(() => seen.push(hub.list().map((room) => `${room.name}:${room.subscribers}:${room.seq}`).join(',')));
    const subscriber = recorder();
    hub.join(subscriber, 'a');
    hub.publish('a', 1);
    hub.leave(subscriber, 'a');
    hub.leave(subscriber, 'a'); // not joined any more: nothing changed
    unwatch();
    hub.publish('a', 2);
    assert.deepEqual(seen, ['a:1:0', 'a:1:1', 'a:0:1']);
  });
});

describe('Hub room lifetime', () => {
  it('drops a room nobody is in once it keeps no message, and tells its listener', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
    const dropped: string[] = [];
    hub.listen({ appended: () => undefined, moved: () => undefined, dropped: (room) => dropped.push(room.name) });
    const subscriber = recorder();
    hub.join(subscriber, 'quiet');
    hub.join(subscriber, 'busy');
    const now = Date.now();
    hub.publish('busy', 1, now);
    hub.leave(subscriber, 'quiet');
    hub.leave(subscriber, 'busy');
    assert.deepEqual(hub.names(), ['busy'], 'a room with a kept message stays');
    assert.equal(hub.history('quiet', 0), null, 'a history read does not create a room');
    assert.ok('gap' in hub.join(recorder(), 'made-up', 5));
    assert.deepEqual(hub.names(), ['busy'], 'a join answered with a gap leaves nothing behind');
    assert.equal(hub.dropIdle(now + 59_000), 0);
    assert.equal(hub.dropIdle(now + 61_000), 1, 'its message aged out');
    assert.deepEqual(dropped, ['quiet', 'made-up', 'busy']);
    const again = hub.publish('busy', 2);
    assert.equal(again.seq, 1, 'a room of the same name starts afresh');
  });

  it('never drops a room the binlog source feeds', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 });
    hub.restoreSeq('db.shop.orders', 7);
    const subscriber = recorder();
    hub.join(subscriber, 'db.shop.orders');
    hub.leave(subscriber, 'db.shop.orders');
    assert.equal(hub.dropIdle(Date.now() + 3_600_000), 0);
    assert.equal(hub.seq('db.shop.orders'), 7);
  });

  it('lets clients open at most maxRooms rooms, and existing ones always', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 }, 2);
    hub.publish('a', 1);
    hub.publish('b', 1);
    assert.equal(hub.canOpen('c'), false);
    assert.equal(hub.canOpen('a'), true);
  });

  it('counts rooms reserved for actions under way against maxRooms, until they are released or opened', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 }, 2);
    const first = hub.reserve('a')!;
    const second = hub.reserve('b')!;
    assert.ok(first && second);
    assert.equal(hub.reserve('c'), null, 'two places held, none left');
    assert.equal(hub.canOpen('c'), false);
    const again = hub.reserve('a');
    assert.ok(again, 'a name already reserved shares its place');
    again.release();
    first.release();
    const third = hub.reserve('c')!;
    assert.ok(third, 'released by every holder: its place is free again');
    assert.equal(hub.reserve('d'), null);
    second.open();
    assert.deepEqual(hub.names(), ['b'], 'opened in the place it held');
    assert.equal(hub.canOpen('d'), false, 'b is open and c reserved');
    third.release();
    assert.equal(hub.canOpen('d'), true);
  });

  it('keeps the place of a reserved room that was dropped meanwhile', () => {
    const hub = new Hub({ messages: 10, seconds: 60, bytes: 1 << 20 }, 1);
    const subscriber = recorder();
    hub.join(subscriber, 'a');
    const held = hub.reserve('a')!;
    hub.leave(subscriber, 'a');
    assert.deepEqual(hub.names(), [], 'dropped: nobody in it, no message');
    assert.equal(hub.canOpen('b'), false, 'a is still reserved');
    held.open();
    assert.deepEqual(hub.names(), ['a']);
    assert.equal(hub.canOpen('b'), false);
  });

  it('does not drop a room while handing out its message, even when the last subscriber goes meanwhile', () => {
    const hub = new Hub({ messages: 0, seconds: 60, bytes: 1 << 20 });
    const leaving: Subscriber = { deliver: () => (hub.leave(leaving, 'a'), false) };
    hub.join(leaving, 'a');
    hub.publish('a', 1);
    assert.deepEqual(hub.names(), ['a']);
    assert.equal(hub.dropIdle(), 1, 'the sweep takes it afterwards');
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

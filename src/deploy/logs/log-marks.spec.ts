import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalTimestamp, LogFrames, sinceArgument, type LogMessage } from './log-frames.js';
import { advance, NO_MARKS, ResumeFilter, type Marks } from './log-marks.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

const message = (stream: LogMessage['stream'], at: string, text: string): LogMessage => ({ stream, at, text: Buffer.from(text) });

describe('Docker log frames', () => {
  it('splits frames cut anywhere into timestamped messages of their stream', () => {
    const bytes = Buffer.concat([frame(1, '2026-11-29T17:15:29.943635048Z a0\n'), frame(2, '2026-11-29T17:15:29.948221741Z e0\n'), frame(1, '2026-11-29T17:15:29.948221741Z part')]);
    const frames = new LogFrames();
    const messages = [...frames.push(bytes.subarray(0, 5)), ...frames.push(bytes.subarray(5, 50)), ...frames.push(bytes.subarray(50))];
    assert.deepEqual(messages.map((entry) => [entry.stream, entry.at, entry.text.toString()]), [
      ['stdout', '2026-11-29T17:15:29.943635048Z', 'a0\n'],
      ['stderr', '2026-11-29T17:15:29.948221741Z', 'e0\n'],
      ['stdout', '2026-11-29T17:15:29.948221741Z', 'part'],
    ]);
  });

  it('makes timestamps canonical (UTC, nine digits) and turns them into the since argument', () => {
    assert.equal(canonicalTimestamp('2026-11-29T17:15:29.9Z'), '2026-11-29T17:15:29.900000000Z');
    assert.equal(canonicalTimestamp('2026-11-29T19:15:29.000000001+02:00'), '2026-11-29T17:15:29.000000001Z');
    assert.equal(sinceArgument('1970-01-01T00:00:10.000000123Z'), '10.000000123');
    assert.throws(() => canonicalTimestamp('yesterday'), /not a Docker timestamp/);
  });
});

describe('resuming container output', () => {
  // A log as the Engine may write it: stderr's copier stamped .002 but wrote after stdout's .003; two pieces share .005.
  const log = [
    message('stdout', '2026-01-01T00:00:00.000000001Z', 'a'),
    message('stdout', '2026-01-01T00:00:00.000000003Z', 'b'),
    message('stderr', '2026-01-01T00:00:00.000000002Z', 'x'),
    message('stdout', '2026-01-01T00:00:00.000000005Z', 'c1'),
    message('stdout', '2026-01-01T00:00:00.000000005Z', 'c2'),
    message('stderr', '2026-01-01T00:00:00.000000006Z', 'y'),
    message('stdout', '2026-01-01T00:00:00.000000007Z', 'd'),
  ];

  it('after any prefix is shipped, a re-read yields exactly the rest, in order', () => {
    for (let shipped = 0; shipped <= log.length; shipped++) {
      const marks = log.slice(0, shipped).reduce<Marks>(advance, NO_MARKS);
      const filter = new ResumeFilter(marks);
      const since = filter.since();
      // The Engine keeps messages at or after `since`.
      const reread = since ? log.filter((entry) => sinceArgument(entry.at) >= since) : log;
      const rest = reread.filter((entry) => !filter.shipped(entry));
      assert.deepEqual(rest.map((entry) => entry.text.toString()), log.slice(shipped).map((entry) => entry.text.toString()), `after ${shipped} shipped`);
    }
  });

  it('reads from the start while a stream has shipped nothing (its first message may be the oldest)', () => {
    const marks = advance(NO_MARKS, log[0]);
    assert.equal(new ResumeFilter(marks).since(), undefined);
    assert.equal(new ResumeFilter(advance(marks, log[2])).since(), sinceArgument(log[0].at));
  });
});

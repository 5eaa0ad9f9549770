import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_PENDING_CHARS, StreamLines } from './stream-lines.js';

describe('stream lines', () => {
  const collect = () => {
    const lines: string[] = [];
    return { lines, stream: new StreamLines((line) => lines.push(line)) };
  };

  it('are whole lines however the chunks cut them', () => {
    const { lines, stream } = collect();
    for (const chunk of ['Step 1/2 : FR', 'OM node\n ---> abc\nline 0', '0001 xx', 'x\n', '\n', 'no newline at the end']) stream.push(chunk);
    assert.deepEqual(lines, ['Step 1/2 : FROM node', ' ---> abc', 'line 00001 xxx', '']);
    stream.end();
    assert.equal(lines.at(-1), 'no newline at the end');
    stream.end();
    assert.equal(lines.length, 5, 'nothing is passed on twice');
  });

  it('pass on a line without end in parts of at most MAX_PENDING_CHARS plus a chunk', () => {
    const { lines, stream } = collect();
    for (let i = 0; i < 100; i++) stream.push('z'.repeat(4096));
    stream.end();
    assert.equal(lines.join(''), 'z'.repeat(409600));
    assert.ok(lines.every((line) => line.length <= MAX_PENDING_CHARS + 4096));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BuildLog, HEAD_BYTES, MAX_LINE_CHARS, TAIL_BYTES } from './build-log.js';

describe('a build log', () => {
  it('is kept whole while it is short', () => {
    const log = new BuildLog();
    assert.equal(log.text(), '');
    for (const line of ['fetching main from file:///repo', 'commit abc', 'Step 1/2 : FROM node']) log.append(line);
    assert.equal(log.text(), 'fetching main from file:///repo\ncommit abc\nStep 1/2 : FROM node\n');
    assert.deepEqual(log.lastLines(2), ['commit abc', 'Step 1/2 : FROM node']);
  });

  it('past its size keeps its head and its tail, and says between them how much was left out', () => {
    const log = new BuildLog();
    log.append('fetching main from file:///repo');
    log.append('commit abc');
    const printed = 200_000;
    const line = (n: number) => `${String(n).padStart(8, '0')} ${'x'.repeat(191)}`; // 200 bytes and its newline
    for (let n = 0; n < printed; n++) log.append(line(n));
    log.append('error: the step failed');

    const text = log.text();
    assert.ok(Buffer.byteLength(text) <= HEAD_BYTES + TAIL_BYTES + 100, `${Buffer.byteLength(text)} bytes kept`);
    const lines = text.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['fetching main from file:///repo', 'commit abc', line(0)]);
    assert.equal(lines.at(-1), 'error: the step failed');
    assert.equal(lines.at(-2), line(printed - 1));
    const note = lines.findIndex((kept) => kept.startsWith('… '));
    const [, leftOut, bytes] = /^… (\d+) lines \((\d+) bytes\) left out …$/.exec(lines[note]) ?? assert.fail(lines[note]);
    // Every line printed is either kept or counted, in order, none twice.
    const kept = lines.filter((kept) => /^\d{8} /.test(kept)).map((kept) => Number(kept.slice(0, 8)));
    assert.equal(kept.length + Number(leftOut), printed);
    assert.deepEqual(kept, [...kept].sort((a, b) => a - b));
    assert.equal(Number(bytes), Number(leftOut) * 201);
    assert.equal(Number(lines[note + 1].slice(0, 8)), Number(lines[note - 1].slice(0, 8)) + Number(leftOut) + 1);
    assert.deepEqual(log.lastLines(2), [line(printed - 1), 'error: the step failed']);
  });

  it('costs the length of each line to append, not the length of what it keeps: a million lines take moments, not hours', () => {
    // Copying the kept 256 KiB at every line, as the log did, made this 256 GB of copying; here it takes about a second.
    const log = new BuildLog();
    const started = performance.now();
    for (let n = 0; n < 1_000_000; n++) log.append(`${n} ${'y'.repeat(200)}`);
    const ms = performance.now() - started;
    assert.ok(ms < 20_000, `a million appends took ${Math.round(ms)} ms`);
    assert.match(log.text(), /… \d+ lines \(\d+ bytes\) left out …\n/);
  });

  it('cuts a line longer than MAX_LINE_CHARS, so one line cannot push out the whole tail', () => {
    const log = new BuildLog();
    log.append('a'.repeat(MAX_LINE_CHARS + 5));
    assert.equal(log.text(), `${'a'.repeat(MAX_LINE_CHARS)}… (5 more characters)\n`);
  });

  it('says whether lines came since it was last saved', () => {
    const log = new BuildLog();
    assert.equal(log.unsaved, false);
    log.append('one');
    assert.equal(log.unsaved, true);
    log.text();
    assert.equal(log.unsaved, false);
  });
});

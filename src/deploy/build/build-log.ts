/** The part of a long build log kept from its start: where the code came from, its commit, which Dockerfile. */
export const HEAD_BYTES = 32 * 1024;
/** The part kept from its end: the last steps and the error. */
export const TAIL_BYTES = 224 * 1024;
/** Longer lines are cut, so that one line cannot take the whole tail. */
export const MAX_LINE_CHARS = 8 * 1024;

/**
 * A build's log while it is written, kept within HEAD_BYTES + TAIL_BYTES: its first lines, its last lines,
 * and between them one line saying how much was left out. Each append costs the length of its line (the
 * text is joined only when asked for: when the log is saved), so a build printing millions of lines does
 * not hold the event loop, as copying the whole kept text at every line did.
 */
export class BuildLog {
  private readonly head: string[] = [];
  private headBytes = 0;
  /** The tail is `tail[tailStart..]`: dropping its oldest line only moves tailStart (compacted now and then). */
  private tail: string[] = [];
  private tailStart = 0;
  private tailBytes = 0;
  private leftOutLines = 0;
  private leftOutBytes = 0;
  /** Lines appended since text() was last asked for. */
  private changed = false;

  append(line: string): void {
    const kept = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… (${line.length - MAX_LINE_CHARS} more characters)` : line;
    const bytes = Buffer.byteLength(kept) + 1;
    this.changed = true;
    if (this.tail.length === 0 && this.headBytes + bytes <= HEAD_BYTES) {
      this.head.push(kept);
      this.headBytes += bytes;
      return;
    }
    this.tail.push(kept);
    this.tailBytes += bytes;
    while (this.tailBytes > TAIL_BYTES) {
      const dropped = this.tail[this.tailStart];
      this.tail[this.tailStart++] = '';
      const droppedBytes = Buffer.byteLength(dropped) + 1;
      this.tailBytes -= droppedBytes;
      this.leftOutLines++;
      this.leftOutBytes += droppedBytes;
    }
    if (this.tailStart > 1024 && this.tailStart * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.tailStart);
      this.tailStart = 0;
    }
  }

  /** The log as kept: one line each, the note of what was left out between head and tail. */
  text(): string {
    this.changed = false;
    const lines = [...this.head];
    if (this.leftOutLines) lines.push(`… ${this.leftOutLines} lines (${this.leftOutBytes} bytes) left out …`);
    for (let i = this.tailStart; i < this.tail.length; i++) lines.push(this.tail[i]);
    return lines.length ? lines.join('\n') + '\n' : '';
  }

  /** Whether lines came since the last text(): a save with nothing new can be skipped. */
  get unsaved(): boolean {
    return this.changed;
  }

  /** The last `count` lines (the release's error on a failure). */
  lastLines(count: number): string[] {
    const fromTail = this.tail.slice(Math.max(this.tailStart, this.tail.length - count));
    if (fromTail.length >= count || this.leftOutLines) return fromTail;
    return [...this.head.slice(-(count - fromTail.length)), ...fromTail];
  }
}

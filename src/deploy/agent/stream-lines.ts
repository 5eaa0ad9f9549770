/** A line longer than this is passed on in parts: holding it whole would make each chunk copy all of it. */
export const MAX_PENDING_CHARS = 64 * 1024;

/**
 * Text that comes in chunks cut anywhere (the Engine's build stream cuts a step's output where its
 * writes end, often mid-line) passed on one whole line at a time.
 */
export class StreamLines {
  /** The line begun and not ended yet, in its chunks (joined once, when it ends). */
  private pending: string[] = [];
  private pendingChars = 0;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const lines = chunk.split('\n');
    const last = lines.pop()!;
    if (lines.length) {
      this.pending.push(lines[0]);
      lines[0] = this.pending.join('');
      this.pending = [];
      this.pendingChars = 0;
      for (const line of lines) this.onLine(line);
    }
    if (last) {
      this.pending.push(last);
      this.pendingChars += last.length;
    }
    if (this.pendingChars > MAX_PENDING_CHARS) this.end();
  }

  /** Passes on the last line when it had no newline. */
  end(): void {
    if (this.pending.length) this.onLine(this.pending.join(''));
    this.pending = [];
    this.pendingChars = 0;
  }
}

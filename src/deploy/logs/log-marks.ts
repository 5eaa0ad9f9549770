import { sinceArgument, type LogMessage } from './log-frames.js';

/** How far one stream is shipped: every message before `at`, and the first `count` messages stamped `at`. */
export interface StreamMark {
  at: string;
  count: number;
}

export type Marks = Record<LogMessage['stream'], StreamMark>;

export const NO_MARKS: Marks = { stdout: { at: '', count: 0 }, stderr: { at: '', count: 0 } };

/**
 * The resume rule. The Engine stamps each message when its stream's copier
 * reads it (one goroutine per stream), so within a stream the timestamps never
 * go down, but stdout and stderr can interleave out of time order in the log,
 * and several messages can share a timestamp (the pieces of a long line do).
 * A mark per stream, with a count at its timestamp, therefore says exactly
 * which messages are shipped. Re-reading from the earlier of the two marks
 * (`since` keeps messages at or after it) and dropping what the marks cover
 * yields exactly the messages not shipped, in the log's order.
 */
export class ResumeFilter {
  private readonly seenAtMark = { stdout: 0, stderr: 0 };

  constructor(private readonly marks: Marks) {}

  /** The `since` argument for the logs API, or undefined to read from the start. */
  since(): string | undefined {
    const ats = [this.marks.stdout.at, this.marks.stderr.at].filter(Boolean).sort();
    if (ats.length < 2) return undefined; // a stream with no mark may have messages from the very start
    return sinceArgument(ats[0]);
  }

  /** True when the message was shipped before (call once per message, in the log's order). */
  shipped(message: LogMessage): boolean {
    const mark = this.marks[message.stream];
    if (message.at < mark.at) return true;
    if (message.at > mark.at) return false;
    return ++this.seenAtMark[message.stream] <= mark.count;
  }
}

/** The marks after `message` is shipped too. */
export function advance(marks: Marks, message: LogMessage): Marks {
  const mark = marks[message.stream];
  return { ...marks, [message.stream]: message.at === mark.at ? { at: mark.at, count: mark.count + 1 } : { at: message.at, count: 1 } };
}

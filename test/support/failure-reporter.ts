/**
 * A `node --test` reporter the bench adds beside `spec`: one line per failed test (file, the test's
 * path through its suites, the first line of its error), written to a file the bench prints at the very
 * end. CI keeps only the tail of a run's output, where there had been just "1 run(s) failed".
 */
import { relative } from 'node:path';

interface TestEvent {
  type: string;
  data: { name: string; nesting: number; file?: string; details?: { error?: unknown } };
}

/** The first lines of what a failed test threw (its cause's, when the runner wrapped it), on one line. */
function summary(error: unknown): string {
  const inner = (error as { cause?: unknown } | undefined)?.cause ?? error;
  const text = inner instanceof Error ? inner.message : String(inner);
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.slice(0, 3).join(' / ').slice(0, 400);
}

export default async function* failureReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  // Per file, the names of the tests now open at each nesting level: files run side by side interleave.
  const open = new Map<string, string[]>();
  for await (const event of source) {
    const file = event.data.file ? relative(process.cwd(), event.data.file) : '(no file)';
    if (event.type === 'test:start') {
      const path = open.get(file) ?? [];
      path.length = event.data.nesting;
      path.push(event.data.name);
      open.set(file, path);
    } else if (event.type === 'test:fail') {
      const path = (open.get(file) ?? []).slice(0, event.data.nesting);
      // A suite fails because a test in it did; that test already has its line.
      const error = event.data.details?.error as { failureType?: string } | undefined;
      if (error?.failureType === 'subtestsFailed') continue;
      yield `${file}: ${[...path, event.data.name].join(' › ')}: ${summary(error)}\n`;
    }
  }
}

import type { DestinationStream } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has, or that the line shows in its own column. */
const SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'module', 'component']);

/** A pino destination that writes each JSON line as a line a person reads (see formatLine). */
export function prettyLines(destination: DestinationStream, options: { colors: boolean }): DestinationStream {
  return { write: (line: string) => destination.write(formatLine(line, options.colors)) };
}

/**
 * One pino JSON line made readable: `14:02:03.120 INFO  proxy  listening port=80`,
 * the module (or component) in its own column, other fields as key=value, an
 * error's stack on the lines below. A line that is not JSON passes unchanged.
 */
export function formatLine(line: string, colors = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = Number(entry.level);
  const date = new Date(Number(entry.time));
  const time = `${date.toTimeString().slice(0, 8)}.${String(date.getMilliseconds()).padStart(3, '0')}`;
  const label = (LEVELS[level] ?? String(entry.level)).padEnd(5);
  const source = String(entry.module ?? entry.component ?? 'dozen').padEnd(9);
  const fields: string[] = [];
  const below: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (SHOWN.has(key) || value === undefined || value === null) continue;
    const stack = (value as { stack?: unknown }).stack;
    if (typeof stack === 'string') below.push(stack);
    else if (key === 'trace' && typeof value === 'string') below.push(value);
    else fields.push(`${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  const paint = (code: string | undefined, text: string) => (colors && code ? `\x1b[${code}m${text}\x1b[0m` : text);
  const head = [paint('90', time), paint(LEVEL_COLORS[level], label), paint('1', source), String(entry.msg ?? ''), ...fields.map((field) => paint('90', field))].join(' ');
  return [head, ...below.map((text) => text.replace(/^/gm, '    '))].join('\n') + '\n';
}

import type { DestinationStream } from 'pino';
import { prettyFactory, type PrettyOptions } from 'pino-pretty';

/** How a line a person reads looks: `14:02:03.120 INFO: proxy listening port=80`, other fields below it. */
function options(colors: boolean): PrettyOptions {
  return {
    colorize: colors,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,module,component',
    messageFormat: '{if module}{module} {end}{if component}{component} {end}{msg}',
    singleLine: true,
  };
}

/** A pino destination that writes each JSON line as lines a person reads (pino-pretty's formatter, in this thread, synchronously). */
export function prettyLines(destination: DestinationStream, { colors }: { colors: boolean }): DestinationStream {
  const format = prettyFactory(options(colors));
  return { write: (line: string) => destination.write(format(line)) };
}

/** One pino JSON line made readable, as prettyLines writes it; a line that is not JSON passes unchanged. */
export function formatLine(line: string, colors = false): string {
  return prettyFactory(options(colors))(line);
}

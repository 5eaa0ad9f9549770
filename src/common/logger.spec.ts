import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, PinoNestLogger } from './logger.js';
import { formatLine } from './pretty-log.js';

/** A logger writing into an array, as it would on a terminal (`terminal`) or a pipe. */
function capture(format: 'auto' | 'pretty' | 'json', terminal: boolean, level = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ level, format }, terminal, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

describe('log format', () => {
  it('is readable lines on a terminal and JSON lines on a pipe when auto', () => {
    const onTerminal = capture('auto', true);
    onTerminal.logger.child({ module: 'proxy' }).info({ port: 8080 }, 'listening');
    assert.match(onTerminal.lines[0], /^\[\d\d:\d\d:\d\d\.\d{3}\] \x1b\[32mINFO\x1b\[39m: \x1b\[36mproxy listening\x1b\[39m \x1b\[90m\{"port":8080\}\x1b\[39m\n$/);
    const onPipe = capture('auto', false);
    onPipe.logger.child({ module: 'proxy' }).info({ port: 8080 }, 'listening');
    assert.deepEqual(pick(JSON.parse(onPipe.lines[0])), { level: 30, module: 'proxy', port: 8080, msg: 'listening' });
  });

  it('follows log.format over the terminal check', () => {
    const json = capture('json', true);
    json.logger.info('started');
    assert.equal(JSON.parse(json.lines[0]).msg, 'started');
    const pretty = capture('pretty', false);
    pretty.logger.warn({ app: 'web page' }, 'slow');
    assert.match(pretty.lines[0], /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: slow \{"app":"web page"\}\n$/, 'no colors off a terminal');
  });

  it('puts an error stack on the lines below its message', () => {
    const text = formatLine(JSON.stringify({ level: 50, time: 0, pid: 1, module: 'storage', err: { message: 'boom', stack: 'Error: boom\n    at here' }, msg: 'upload failed' }));
    assert.match(text, /ERROR: storage upload failed *\n[^]*\n +Error: boom\n +at here\n/);
    assert.equal(formatLine('not json'), 'not json\n');
  });

  it("keeps Nest's wiring lines at debug and its warnings and errors as they are", () => {
    const { logger, lines } = capture('json', false, 'debug');
    const nest = new PinoNestLogger(logger.child({ component: 'nest' }));
    nest.log('AppModule dependencies initialized', 'InstanceLoader');
    nest.warn('odd', 'RoutesResolver');
    nest.error('broken', 'trace', 'ExceptionHandler');
    assert.deepEqual(lines.map((line) => [JSON.parse(line).level, JSON.parse(line).context]), [[20, 'InstanceLoader'], [40, 'RoutesResolver'], [50, 'ExceptionHandler']]);
  });
});

function pick(entry: Record<string, unknown>): Record<string, unknown> {
  const { level, module, port, msg } = entry;
  return { level, module, port, msg };
}

import { Inject, type LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyLines } from './pretty-log.js';

/** The process's pino logger, as CoreModule provides it. */
export const LOGGER = Symbol('LOGGER');

/** Injects the process's pino logger; take a child with your module's name. */
export const InjectLogger = () => Inject(LOGGER);

export interface LogOptions {
  level: string;
  /** `auto`: human-readable lines on a terminal, JSON lines otherwise. */
  format: 'auto' | 'pretty' | 'json';
}

/** Whether `format` means human-readable lines on this output. */
export function isPretty(format: LogOptions['format'], terminal: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && terminal);
}

/**
 * One pino logger per process; modules take children of it (`logger.child({module: 'storage'})`).
 * Writes JSON lines to stdout, or readable lines when `isPretty` says so.
 */
export function createLogger(options: LogOptions, terminal = Boolean(process.stdout.isTTY), destination: DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.token', '*.password', '*.secret'], censor: '[redacted]' },
    },
    isPretty(options.format, terminal) ? prettyLines(destination, { colors: terminal }) : destination,
  );
}

/**
 * Sends Nest's own log lines through pino, so one process writes one log format.
 * Nest's info lines are its wiring (`InstanceLoader ... dependencies
 * initialized`, every route mapped): debug here, so a start shows dozen's own lines.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}

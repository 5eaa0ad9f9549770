import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';

/** One pino logger per process; modules take children of it (`logger.child({module: 'storage'})`). */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.token', '*.password', '*.secret'], censor: '[redacted]' },
  });
}

/** Sends Nest's own log lines through pino, so one process writes one log format. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
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

import { Command } from 'commander';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load-config.js';

/** A command-line failure the user can fix: printed as one line, exit code `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

/** Loads config for a command from the global `--config` option, turning ConfigError into exit code 2. */
export function configFor(command: Command): LoadedConfig {
  const path = command.optsWithGlobals<{ config?: string }>().config;
  try {
    return loadConfig({ path });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }
}

/** Runs an action; any error ends the process with one readable line and a non-zero code. */
export function run<A extends unknown[]>(action: (...args: A) => Promise<void> | void) {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      const code = error instanceof CliError ? error.code : 1;
      process.stderr.write(`dozen: ${(error as Error).message.split('\n')[0]}\n`);
      process.exit(code);
    }
  };
}

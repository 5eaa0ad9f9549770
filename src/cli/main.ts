#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { VERSION } from '../common/version.js';
import { redact } from '../config/load-config.js';
import { addDeployCommands } from '../deploy/deploy.cli.js';
import { addRegistryCommands } from '../registry/registry.cli.js';
import { CliError, configFor, run } from './program.js';
import { addProxyCommands } from '../proxy/proxy.cli.js';
import { addStorageCommands } from '../storage/storage.cli.js';
import { addTokenCommands } from '../tokens/tokens.cli.js';
import { addUserCommands } from '../access/user.cli.js';

const program = new Command('dozen')
  .description('the platform server of a small team: proxy, registry, deploy, storage, broadcast')
  .version(VERSION, '-V, --version')
  .option('-c, --config <path>', 'YAML config file (default: /etc/dozen/dozen.yaml when it exists)')
  // A usage error is one line, as every other failure: commander's first line, with where to look.
  .configureOutput({ outputError: (text, write) => write(`dozen: ${text.split('\n')[0].replace(/^error: /, '')} (--help for usage)\n`) });

program
  .command('serve', { isDefault: true })
  .description('run dozen on this host with the modules the config turns on')
  // As the default command, serve gets whatever no other command took: `dozen frobnicate` is an unknown
  // command, not "too many arguments for 'serve'".
  .allowExcessArguments()
  .allowUnknownOption()
  .action(
    run(async (_options: unknown, command: Command) => {
      const [stray] = command.args;
      if (stray !== undefined) throw new CliError(stray.startsWith('-') ? `unknown option '${stray}' (--help for usage)` : `unknown command '${stray}' (dozen --help lists them)`);
      const { config, file } = configFor(command);
      const { serve } = await import('../server.js');
      await serve(config, file);
    }),
  );

const configCommand = program.command('config').description('inspect the configuration');
configCommand
  .command('check')
  .description('validate the config (file + DOZEN_* env) and print it with secrets redacted')
  .option('-q, --quiet', 'print nothing when the config is good (exit 0); a bad one still gets its one error line on stderr (exit 2)')
  .action(
    run((options: { quiet?: boolean }, command: Command) => {
      const { config, file } = configFor(command);
      if (!options.quiet) process.stdout.write(JSON.stringify({ file, config: redact(config) }, null, 2) + '\n');
    }),
  );

program
  .command('migrate')
  .description("apply pending migrations to dozen's database, then exit")
  .action(
    run(async (_options: unknown, command: Command) => {
      const { config } = configFor(command);
      // Loaded here, not at the top: TypeORM alone would add ~0.1 s to every client command's start.
      const { migrate } = await import('../database/data-source.js');
      const applied = await migrate(config);
      process.stdout.write(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}\n` : 'database is up to date\n');
    }),
  );

addRegistryCommands(program);
addProxyCommands(program);
addStorageCommands(program);
addTokenCommands(program);
addUserCommands(program);
addDeployCommands(program);

await program.parseAsync(process.argv);

import type { Command } from 'commander';
import { addServerOptions, DozenClient } from '../cli/client.js';
import { CliError, run } from '../cli/program.js';
import { SCOPE_NAMES } from './scopes.js';
import type { TokenView } from './tokens.service.js';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `dozen token create|list|revoke`: API tokens, through the admin REST API (needs the admin token). */
export function addTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens for programs: an app gets a storage token, never the admin token');

  addServerOptions(token.command('create').description('make a token; prints it this once (stdout), never again'))
    .requiredOption('--name <name>', 'what the token is for')
    .option('--scope <scope>', `${SCOPE_NAMES.join(', ')} (storage = read and write); repeat for several`, (value: string, previous: string[] | undefined) => [...(previous ?? []), ...value.split(',')])
    .option('--prefix <prefix>', 'reach only object keys starting with this, e.g. logs/app1/')
    .option('--expires <when>', 'a duration (90m, 12h, 30d, 4w) or an ISO 8601 date-time; default: never')
    .option('--json', 'print the whole answer as JSON instead of the token alone')
    .action(
      run(async (options: { name: string; scope?: string[]; prefix?: string; expires?: string; json?: boolean }, command: Command) => {
        if (!options.scope?.length) throw new CliError(`--scope: give at least one of ${SCOPE_NAMES.join(', ')}`, 2);
        const body = { name: options.name, scopes: options.scope, prefix: options.prefix ?? null, expiresAt: options.expires ? expiryOf(options.expires) : null };
        const created = await DozenClient.fromCommand(command).json<TokenView & { token: string }>('POST', '/tokens', body);
        if (options.json) return print(created);
        process.stdout.write(created.token + '\n');
        const reach = created.prefix === null ? 'every key' : `keys under ${created.prefix}`;
        process.stderr.write(`token ${created.id} (${created.name}): ${created.scopes.join(' ')} on ${reach}, expires ${created.expiresAt ?? 'never'}. It is not shown again.\n`);
      }),
    );

  addServerOptions(token.command('list').description('the tokens, with their last use (never their secrets)')).action(
    run(async (_options: unknown, command: Command) => print((await DozenClient.fromCommand(command).json<{ tokens: TokenView[] }>('GET', '/tokens')).tokens)),
  );

  addServerOptions(token.command('revoke <id>').description('refuse the token from now on')).action(
    run(async (id: string, _options: unknown, command: Command) => print(await DozenClient.fromCommand(command).json('DELETE', `/tokens/${encodeURIComponent(id)}`))),
  );
}

/** `30d` → that long from now; an ISO date-time as is. The server refuses a time in the past. */
function expiryOf(when: string): string {
  const duration = /^(\d+)([mhdw])$/.exec(when.trim());
  if (duration) return new Date(Date.now() + Number(duration[1]) * UNIT_MS[duration[2]]).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(when) && !Number.isNaN(Date.parse(when))) return new Date(when).toISOString();
  throw new CliError('--expires: expected a duration (90m, 12h, 30d, 4w) or an ISO 8601 date-time', 2);
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

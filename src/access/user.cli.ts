import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { addServerOptions, DozenClient } from '../cli/client.js';
import { CliError, run } from '../cli/program.js';
import { ROLES } from '../common/principal.js';
import type { UserView } from './users.service.js';

/** `dozen user add|list|disable|enable|passwd`: users of the console, through the admin REST API (admin token). */
export function addUserCommands(program: Command): void {
  const user = program.command('user').description('people who log in to the console: admin, deployer or viewer');

  addServerOptions(user.command('add <name>').description('create a user; asks for the password (or reads --password-file)'))
    .requiredOption('--role <role>', ROLES.join(' | '))
    .option('--password-file <file>', 'read the password from this file (its first line) instead of asking')
    .action(
      run(async (name: string, options: { role: string; passwordFile?: string }, command: Command) => {
        if (!(ROLES as readonly string[]).includes(options.role)) throw new CliError(`--role: expected one of ${ROLES.join(', ')}`, 2);
        const password = await passwordFrom(options.passwordFile, true);
        const created = await DozenClient.fromCommand(command).json<UserView>('POST', '/users', { name, role: options.role, password });
        process.stdout.write(`user ${created.name} created with role ${created.role}\n`);
      }),
    );

  addServerOptions(user.command('list').description('the users, their roles and whether they are disabled')).action(
    run(async (_options: unknown, command: Command) => {
      const { users } = await DozenClient.fromCommand(command).json<{ users: UserView[] }>('GET', '/users');
      process.stdout.write(JSON.stringify(users, null, 2) + '\n');
    }),
  );

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    addServerOptions(user.command(`${verb} <name>`).description(disabled ? 'refuse its logins and tokens; ends its sessions' : 'allow it again (and lift a login lockout)')).action(
      run(async (name: string, _options: unknown, command: Command) => {
        await DozenClient.fromCommand(command).json('PATCH', `/users/${encodeURIComponent(name)}`, { disabled });
        process.stdout.write(`user ${name} ${verb}d\n`);
      }),
    );
  }

  addServerOptions(user.command('passwd <name>').description("set a user's password (asks for it, or reads --password-file); ends its sessions"))
    .option('--password-file <file>', 'read the password from this file (its first line) instead of asking')
    .action(
      run(async (name: string, options: { passwordFile?: string }, command: Command) => {
        const password = await passwordFrom(options.passwordFile, true);
        await DozenClient.fromCommand(command).json('PUT', `/users/${encodeURIComponent(name)}/password`, { password });
        process.stdout.write(`password of ${name} changed\n`);
      }),
    );
}

/** The first line of `file`; else asked on the terminal without echo (twice); else the first line of stdin (scripts). */
async function passwordFrom(file: string | undefined, confirm: boolean): Promise<string> {
  if (file) {
    try {
      return readFileSync(file, 'utf8').split(/\r?\n/)[0];
    } catch (error) {
      throw new CliError(`--password-file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 2);
    }
  }
  if (!process.stdin.isTTY) return (await readLine(null)) ?? '';
  const password = (await readLine('password: ')) ?? '';
  if (confirm && (await readLine('again: ')) !== password) throw new CliError('the two passwords differ', 2);
  return password;
}

/** One line of stdin; on a terminal the typed characters are not echoed. */
function readLine(prompt: string | null): Promise<string | null> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const lines = createInterface({ input: process.stdin, output, terminal: process.stdin.isTTY === true });
  return new Promise((resolve) => {
    let answered = false;
    lines.once('line', (line) => {
      answered = true;
      lines.close();
      if (prompt) process.stderr.write('\n');
      resolve(line);
    });
    lines.once('close', () => answered || resolve(null));
    if (prompt) {
      process.stderr.write(prompt);
      muted = true;
    }
  });
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, configFor, run } from '../cli/program.js';

interface ClientOptions {
  server?: string;
  token?: string;
}

/** `dozen proxy ...`: an app's balancer and auth policy, and its API keys, through the admin REST API. */
export function addProxyCommands(program: Command): void {
  const proxy = program.command('proxy').description("the public proxy: apps' balancer, auth and API keys");
  const client = (command: Command) =>
    command
      .option('--server <url>', 'the dozen admin API (default: env DOZEN_URL, else http://127.0.0.1:7700)')
      .option('--token <token>', 'the admin token (default: env DOZEN_TOKEN, else <dataDir>/admin-token)');

  client(proxy.command('policy <app>').description("show an app's policy, or change it with the options"))
    .option('--balancer <name>', 'random, ip-hash, url-hash or least-load')
    .option('--hash-query', 'url-hash: include the query string')
    .option('--auth <kind>', 'none, api-key or jwt')
    .option('--jwt <json>', 'the jwt settings as JSON, e.g. {"jwksUrl":"https://...","audience":"x"}')
    .action(
      run(async (app: string, options: ClientOptions & { balancer?: string; hashQuery?: boolean; auth?: string; jwt?: string }, command: Command) => {
        const changing = options.balancer || options.hashQuery || options.auth || options.jwt;
        if (!changing) return print(await call(command, options, 'GET', `/proxy/apps/${app}/policy`));
        const current = (await call(command, options, 'GET', `/proxy/apps/${app}/policy`)) as { balancer: string; hashQuery: boolean; auth: string };
        let jwt: unknown;
        if (options.jwt) {
          try {
            jwt = JSON.parse(options.jwt);
          } catch {
            throw new CliError('--jwt: expected JSON', 2);
          }
        }
        const body = { balancer: options.balancer ?? current.balancer, hashQuery: options.hashQuery ?? current.hashQuery, auth: options.auth ?? current.auth, ...(jwt ? { jwt } : {}) };
        print(await call(command, options, 'PUT', `/proxy/apps/${app}/policy`, body));
      }),
    );

  const key = proxy.command('key').description("an app's API keys");
  client(key.command('create <app>').description('make a key; it is printed this once and never again'))
    .option('--name <name>', 'what the key is for', 'key')
    .action(run(async (app: string, options: ClientOptions & { name: string }, command: Command) => print(await call(command, options, 'POST', `/proxy/apps/${app}/keys`, { name: options.name }))));
  client(key.command('list <app>').description('the keys (without their values)')).action(
    run(async (app: string, options: ClientOptions, command: Command) => print(await call(command, options, 'GET', `/proxy/apps/${app}/keys`))),
  );
  client(key.command('revoke <app> <id>').description('refuse the key from now on')).action(
    run(async (app: string, id: string, options: ClientOptions, command: Command) => print(await call(command, options, 'DELETE', `/proxy/apps/${app}/keys/${id}`))),
  );
}

async function call(command: Command, options: ClientOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const server = (options.server ?? process.env.DOZEN_URL ?? 'http://127.0.0.1:7700').replace(/\/$/, '');
  const token = options.token ?? process.env.DOZEN_TOKEN ?? tokenFromDataDir(command);
  let response: Response;
  try {
    response = await fetch(server + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (error) {
    throw new CliError(`cannot reach dozen at ${server}: ${((error as Error).cause as Error)?.message ?? (error as Error).message}`);
  }
  const text = await response.text();
  const json = text ? (JSON.parse(text) as { message?: string }) : null;
  if (!response.ok) throw new CliError(`${response.status} ${json?.message ?? text}`);
  return json;
}

function tokenFromDataDir(command: Command): string | undefined {
  const file = join(configFor(command).config.dataDir, 'admin-token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

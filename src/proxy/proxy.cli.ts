import type { Command } from 'commander';
import { addServerOptions, DozenClient } from '../cli/client.js';
import { CliError, run } from '../cli/program.js';

/** `dozen proxy ...`: an app's balancer, auth and HTTPS policy, and its API keys, through the admin REST API. */
export function addProxyCommands(program: Command): void {
  const proxy = program.command('proxy').description("the public proxy: apps' balancer, auth and API keys");

  addServerOptions(proxy.command('policy <app>').description("show an app's policy, or change it with the options"))
    .option('--balancer <name>', 'random, ip-hash, url-hash or least-load')
    .option('--hash-query', 'url-hash: include the query string')
    .option('--auth <kind>', 'none, api-key or jwt')
    .option('--jwt <json>', 'the jwt settings as JSON, e.g. {"jwksUrl":"https://...","audience":"x"}')
    .option('--tls <mode>', 'auto (ACME unless a certificate file covers the domain), files or off')
    .option('--redirect-http', 'answer plain HTTP with 301 to https')
    .option('--no-redirect-http', 'serve plain HTTP as it comes')
    .option('--hsts <json>', 'Strict-Transport-Security as JSON, e.g. {"maxAge":31536000,"includeSubDomains":true}; null for none')
    .action(
      run(async (app: string, options: { balancer?: string; hashQuery?: boolean; auth?: string; jwt?: string; tls?: string; redirectHttp?: boolean; hsts?: string }, command: Command) => {
        const changing = options.balancer || options.hashQuery || options.auth || options.jwt || options.tls || options.redirectHttp !== undefined || options.hsts;
        if (!changing) return print(await call(command, 'GET', `/proxy/apps/${app}/policy`));
        const current = (await call(command, 'GET', `/proxy/apps/${app}/policy`)) as { balancer: string; hashQuery: boolean; auth: string; tls: string; redirectHttp: boolean; hsts: unknown };
        let hsts: unknown = current.hsts;
        if (options.hsts) {
          try {
            hsts = JSON.parse(options.hsts);
          } catch {
            throw new CliError('--hsts: expected JSON', 2);
          }
        }
        let jwt: unknown;
        if (options.jwt) {
          try {
            jwt = JSON.parse(options.jwt);
          } catch {
            throw new CliError('--jwt: expected JSON', 2);
          }
        }
        const body = {
          balancer: options.balancer ?? current.balancer,
          hashQuery: options.hashQuery ?? current.hashQuery,
          auth: options.auth ?? current.auth,
          ...(jwt ? { jwt } : {}),
          tls: options.tls ?? current.tls,
          redirectHttp: options.redirectHttp ?? current.redirectHttp,
          ...(hsts ? { hsts } : {}),
        };
        print(await call(command, 'PUT', `/proxy/apps/${app}/policy`, body));
      }),
    );

  const key = proxy.command('key').description("an app's API keys");
  addServerOptions(key.command('create <app>').description('make a key; it is printed this once and never again'))
    .option('--name <name>', 'what the key is for', 'key')
    .action(run(async (app: string, options: { name: string }, command: Command) => print(await call(command, 'POST', `/proxy/apps/${app}/keys`, { name: options.name }))));
  addServerOptions(key.command('list <app>').description('the keys (without their values)')).action(
    run(async (app: string, _options: unknown, command: Command) => print(await call(command, 'GET', `/proxy/apps/${app}/keys`))),
  );
  addServerOptions(key.command('revoke <app> <id>').description('refuse the key from now on')).action(
    run(async (app: string, id: string, _options: unknown, command: Command) => print(await call(command, 'DELETE', `/proxy/apps/${app}/keys/${id}`))),
  );
}

function call(command: Command, method: string, path: string, body?: unknown): Promise<unknown> {
  return DozenClient.fromCommand(command).json(method, path, body);
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

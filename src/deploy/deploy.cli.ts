import type { Command } from 'commander';
import { request } from 'undici';
import { addServerOptions, DozenClient, serverOf } from '../cli/client.js';
import { CliError, run } from '../cli/program.js';

interface CreateOptions {
  repository?: string;
  ref?: string;
  runtime?: string;
  image?: string;
  port?: string;
  health?: string;
  domain: string[];
  env: string[];
  memory?: string;
  cpus?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];
const print = (value: unknown): void => void process.stdout.write(JSON.stringify(value, null, 2) + '\n');
const path = (...parts: string[]) => parts.map(encodeURIComponent).join('/');

/** `KEY=value` pairs to a map; a pair without `=` is a usage error (exit 2). */
function pairs(list: string[], option: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of list) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`${option}: expected NAME=value, got ${JSON.stringify(pair)}`, 2);
    map[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return map;
}

function integer(value: string, option: string): number {
  if (!/^\d+$/.test(value)) throw new CliError(`${option}: expected a whole number, got ${JSON.stringify(value)}`, 2);
  return Number(value);
}

/** `dozen app|instance|scale`: the deploy module's REST API from the command line (admin token), as Dokku and Kamal users expect. */
export function addDeployCommands(program: Command): void {
  const app = program.command('app').description('apps: create, deploy a git ref, roll back, env, secrets, domains');

  addServerOptions(app.command('create <name>').description('register an app'))
    .option('--repository <url>', 'git URL (file://, https://, ssh://)')
    .option('--ref <ref>', 'default branch, tag or commit to deploy', 'main')
    .option('--runtime <runtime>', 'nodejs or php-laravel (built from git), or image (a ready image)', 'nodejs')
    .option('--image <image>', 'the image of runtime image')
    .option('--port <port>', 'the port the app listens on (default: it reads PORT)')
    .option('--health <path>', 'health path answering 2xx-3xx when ready', '/')
    .option('--domain <name>', 'a domain it serves (repeat)', collect, [])
    .option('--env <NAME=value>', 'an env variable (repeat)', collect, [])
    .option('--memory <mb>', 'memory limit in MB')
    .option('--cpus <n>', 'CPU limit, e.g. 0.5')
    .action(run(async (name: string, options: CreateOptions, command: Command) => {
      const body = {
        name, repository: options.repository ?? null, defaultRef: options.ref, runtime: options.runtime, image: options.image ?? null,
        port: options.port ? integer(options.port, '--port') : null, healthPath: options.health, domains: options.domain, env: pairs(options.env, '--env'),
        memoryMb: options.memory ? integer(options.memory, '--memory') : null, cpus: options.cpus ? Number(options.cpus) : null,
      };
      print(await DozenClient.fromCommand(command).json('POST', '/deploy/apps', body));
    }));

  addServerOptions(app.command('list').description('every app')).action(run(async (_options: unknown, command: Command) => {
    const { apps } = await DozenClient.fromCommand(command).json<{ apps: { name: string; release: string | null; domains: string[]; runtime: string }[] }>('GET', '/deploy/apps');
    for (const entry of apps) process.stdout.write(`${entry.name}\t${entry.runtime}\t${entry.release ?? '-'}\t${entry.domains.join(',')}\n`);
  }));

  addServerOptions(app.command('show <name>').description('one app, its releases and instances')).action(run(async (name: string, _options: unknown, command: Command) => {
    const client = DozenClient.fromCommand(command);
    const shown = await client.json<Record<string, unknown>>('GET', `/deploy/apps/${path(name)}`);
    const { releases } = await client.json<{ releases: unknown[] }>('GET', `/deploy/apps/${path(name)}/releases`);
    const { instances } = await client.json<{ instances: unknown[] }>('GET', `/deploy/instances?app=${encodeURIComponent(name)}`);
    print({ ...shown, releases: releases.slice(0, 5), instances });
  }));

  addServerOptions(app.command('delete <name>').description('remove the app, its instances and its proxy policy')).action(run(async (name: string, _options: unknown, command: Command) => {
    await DozenClient.fromCommand(command).json('DELETE', `/deploy/apps/${path(name)}`);
    process.stderr.write(`app ${name} deleted\n`);
  }));

  addServerOptions(app.command('deploy <name>').description('build a ref and move the instances to it; follows the build log, exits non-zero when it fails'))
    .option('--ref <ref>', 'branch, tag or commit (default: the app default ref)')
    .option('--no-follow', 'return at once with the queued release')
    .action(run(async (name: string, options: { ref?: string; follow: boolean }, command: Command) => {
      const client = DozenClient.fromCommand(command);
      const release = await client.json<{ id: string }>('POST', `/deploy/apps/${path(name)}/deploy`, options.ref ? { ref: options.ref } : {});
      process.stderr.write(`release ${release.id} queued\n`);
      if (!options.follow) return print(release);
      await followBuildLog(command, release.id);
      const ended = await client.json<{ id: string; status: string; commit: string | null; error: string | null }>('GET', `/deploy/releases/${release.id}`);
      if (ended.status !== 'ready') throw new CliError(`release ${ended.id} ${ended.status}: ${(ended.error ?? '').split('\n').pop()}`);
      process.stderr.write(`release ${ended.id} ready (${ended.commit?.slice(0, 12) ?? 'image'}); instances are moving to it\n`);
    }));

  addServerOptions(app.command('cancel <release>').description('cancel a queued or running build (its release ends cancelled)'))
    .action(run(async (release: string, _options: unknown, command: Command) => {
      print(await DozenClient.fromCommand(command).json('POST', `/deploy/releases/${path(release)}/cancel`));
    }));

  addServerOptions(app.command('rollback <name>').description('move the instances back to an earlier built release (no build)'))
    .option('--release <id>', 'the release (default: the one before the current)')
    .action(run(async (name: string, options: { release?: string }, command: Command) => {
      print(await DozenClient.fromCommand(command).json('POST', `/deploy/apps/${path(name)}/rollback`, options.release ? { release: options.release } : {}));
    }));

  addServerOptions(app.command('env <name> <action> [pairs...]').description('env set NAME=value... | env unset NAME (restart or deploy to apply)'))
    .action(run(async (name: string, action: string, list: string[], _options: unknown, command: Command) => {
      const client = DozenClient.fromCommand(command);
      if (action === 'set') return print(await client.json('PUT', `/deploy/apps/${path(name)}/env`, { env: pairs(list, 'env set') }));
      if (action === 'unset' && list.length === 1) return print(await client.json('DELETE', `/deploy/apps/${path(name)}/env/${path(list[0])}`));
      throw new CliError('usage: dozen app env <app> set NAME=value... | unset NAME', 2);
    }));

  addServerOptions(app.command('secret <name> <action> [pairs...]').description('secret set NAME=value... | secret unset NAME (values are never shown again)'))
    .action(run(async (name: string, action: string, list: string[], _options: unknown, command: Command) => {
      const client = DozenClient.fromCommand(command);
      if (action === 'set') return print(await client.json('PUT', `/deploy/apps/${path(name)}/secrets`, { secrets: pairs(list, 'secret set') }));
      if (action === 'unset' && list.length === 1) return print(await client.json('DELETE', `/deploy/apps/${path(name)}/secrets/${path(list[0])}`));
      throw new CliError('usage: dozen app secret <app> set NAME=value... | unset NAME', 2);
    }));

  addServerOptions(app.command('domain <name> <action> <domain>').description('domain add|remove DOMAIN'))
    .action(run(async (name: string, action: string, domain: string, _options: unknown, command: Command) => {
      const client = DozenClient.fromCommand(command);
      if (action === 'add') return print(await client.json('POST', `/deploy/apps/${path(name)}/domains`, { domain }));
      if (action === 'remove') return print(await client.json('DELETE', `/deploy/apps/${path(name)}/domains/${path(domain)}`));
      throw new CliError('usage: dozen app domain <app> add|remove DOMAIN', 2);
    }));

  addServerOptions(app.command('webhook <name> [action]').description('webhook show | rotate (create, or a new secret: shown once) | delete; point GitHub, Gitea or GitLab push events at its URL'))
    .action(run(async (name: string, action: string | undefined, _options: unknown, command: Command) => {
      const client = DozenClient.fromCommand(command);
      const url = `/deploy/apps/${path(name)}/webhook`;
      if (action === undefined || action === 'show') return print(await client.json('GET', url));
      if (action === 'rotate') {
        const hook = await client.json<{ url: string; secret: string }>('POST', url);
        process.stderr.write('the secret is shown this once: give it to the git host with the URL (content type application/json)\n');
        return print(hook);
      }
      if (action === 'delete') {
        await client.json('DELETE', url);
        return void process.stderr.write(`webhook of ${name} deleted\n`);
      }
      throw new CliError('usage: dozen app webhook <app> [show | rotate | delete]', 2);
    }));

  const instance = program.command('instance').description('instances of apps on hosts');
  addServerOptions(instance.command('create <app> <host>').description('run one more instance of the app on the host')).action(run(async (appName: string, host: string, _options: unknown, command: Command) => {
    print(await DozenClient.fromCommand(command).json('POST', '/deploy/instances', { app: appName, host }));
  }));
  addServerOptions(instance.command('list').description('instances with their desired and observed state'))
    .option('--app <app>', 'only this app')
    .option('--host <host>', 'only this host')
    .action(run(async (options: { app?: string; host?: string }, command: Command) => {
      const query = new URLSearchParams({ ...(options.app ? { app: options.app } : {}), ...(options.host ? { host: options.host } : {}) }).toString();
      const { instances } = await DozenClient.fromCommand(command).json<{ instances: { id: string; app: string; host: string; release: string; desired: string; state: string; port: number | null }[] }>('GET', `/deploy/instances${query ? '?' + query : ''}`);
      for (const entry of instances) process.stdout.write(`${entry.id}\t${entry.app}\t${entry.host}\t${entry.release}\t${entry.desired}\t${entry.state}\t${entry.port ?? '-'}\n`);
    }));
  for (const [verb, description] of [['start', 'run it again'], ['stop', 'stop its container'], ['restart', 'a fresh container, started before the old one stops']] as const) {
    addServerOptions(instance.command(`${verb} <id>`).description(description)).action(run(async (id: string, _options: unknown, command: Command) => {
      print(await DozenClient.fromCommand(command).json('POST', `/deploy/instances/${path(id)}/${verb}`));
    }));
  }
  addServerOptions(instance.command('rm <id>').description('remove the instance and its container')).action(run(async (id: string, _options: unknown, command: Command) => {
    await DozenClient.fromCommand(command).json('DELETE', `/deploy/instances/${path(id)}`);
    process.stderr.write(`instance ${id} removed\n`);
  }));
  addServerOptions(instance.command('logs <id>').description("the container's output (ask the instance's host)"))
    .option('--tail <n>', 'lines from the end', '200')
    .option('-f, --follow', 'keep streaming')
    .action(run(async (id: string, options: { tail: string; follow?: boolean }, command: Command) => {
      await stream(command, `/deploy/instances/${path(id)}/logs?tail=${integer(options.tail, '--tail')}&follow=${options.follow ? 1 : 0}`);
    }));

  addServerOptions(program.command('scale <app> <host> <count>').description('run exactly COUNT instances of the app on the host')).action(run(async (appName: string, host: string, count: string, _options: unknown, command: Command) => {
    const { instances } = await DozenClient.fromCommand(command).json<{ instances: unknown[] }>('POST', `/deploy/apps/${path(appName)}/scale`, { host, count: integer(count, 'count') });
    process.stderr.write(`${appName} on ${host}: ${instances.length} instance(s)\n`);
  }));
}

/** Streams the build log to stderr with a progress line per step, until the build ends. */
async function followBuildLog(command: Command, release: string): Promise<void> {
  let step = '';
  await stream(command, `/deploy/releases/${release}/log?follow=1`, (line) => {
    const match = /^Step (\d+\/\d+)/.exec(line);
    if (match) step = match[1];
    process.stderr.write(`${step ? `[${step}] ` : ''}${line}\n`);
  });
}

/** GETs a text stream; each line to `onLine` (stdout by default). */
async function stream(command: Command, url: string, onLine: (line: string) => void = (line) => process.stdout.write(line + '\n')): Promise<void> {
  const { server, token } = serverOf(command);
  const response = await request(server + url, { headers: token ? { authorization: `Bearer ${token}` } : {}, bodyTimeout: 0 });
  if (response.statusCode >= 300) {
    const text = await response.body.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { message: string }).message;
    } catch {
      // not JSON: the text is the message
    }
    throw new CliError(`${response.statusCode} ${message}`);
  }
  let pending = '';
  for await (const chunk of response.body) {
    pending += String(chunk);
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  }
  if (pending) onLine(pending);
}

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { request } from 'undici';
import { CliError, configFor } from './program.js';

/** Where a client command finds this host's dozen: `--server`/`--token`, else DOZEN_URL/DOZEN_TOKEN, else defaults. */
export interface ServerOptions {
  server?: string;
  token?: string;
}

export function addServerOptions(command: Command): Command {
  return command
    .option('--server <url>', 'dozen on this host (default: env DOZEN_URL, else http://127.0.0.1:7700)')
    .option('--token <token>', 'admin token, or an API token where one is accepted (default: env DOZEN_TOKEN, else <dataDir>/admin-token)');
}

/** The server URL and token (admin or API) a client command uses; the token is undefined when none is found. */
export function serverOf(command: Command): { server: string; token: string | undefined } {
  const options = command.optsWithGlobals<ServerOptions>();
  const server = (options.server ?? process.env.DOZEN_URL ?? 'http://127.0.0.1:7700').replace(/\/+$/, '');
  let token = options.token ?? process.env.DOZEN_TOKEN;
  if (!token) {
    const { config } = configFor(command);
    try {
      token = readFileSync(join(resolve(config.dataDir), 'admin-token'), 'utf8').trim();
    } catch {
      token = undefined;
    }
  }
  return { server, token };
}

/**
 * A client command's way to the server's REST API, with retries on network errors only: those are
 * between this command and dozen. An error answer (4xx, or 5xx such as `store_unavailable`, after dozen's
 * own retries against the store) is final: retrying it would only multiply the wait before the same line.
 */
export class DozenClient {
  constructor(
    readonly server: string,
    private readonly token: string | undefined,
    private readonly retries = 5,
  ) {}

  static fromCommand(command: Command): DozenClient {
    const { server, token } = serverOf(command);
    return new DozenClient(server, token);
  }

  /** A JSON request without retries: for commands whose effect is not idempotent. */
  json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.call<T>(method, path, {
      retry: false,
      ...(body === undefined ? {} : { body: () => JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
  }

  /**
   * One request; `body` is a function so a retry can open the bytes again.
   * Resolves with the parsed JSON answer; throws CliError with the server's message on an error answer, or after the last retry.
   */
  async call<T>(method: string, path: string, options: { body?: () => Readable | Buffer | string; headers?: Record<string, string>; retry?: boolean } = {}): Promise<T> {
    const attempts = options.retry === false ? 1 : this.retries + 1;
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(Math.min(250 * 2 ** (attempt - 2), 5000));
      let response;
      try {
        response = await request(this.server + path, {
          method: method as 'GET',
          body: options.body?.(),
          headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...options.headers },
          headersTimeout: 300_000,
          bodyTimeout: 300_000,
        });
      } catch (error) {
        lastProblem = `cannot reach dozen at ${this.server}: ${whyUnreachable(error)}`;
        // A handshake that failed fails the same way again: only the connection's own troubles are retried.
        if (isTlsFailure(error)) throw new CliError(lastProblem);
        continue;
      }
      const text = await response.body.text();
      if (response.statusCode < 300) return (text ? JSON.parse(text) : undefined) as T;
      throw new CliError(describeError(response.statusCode, text));
    }
    throw new CliError(`${lastProblem} (gave up after ${attempts} attempts)`);
  }
}

/**
 * Why a request never reached the server, in one line. A TLS failure is OpenSSL's text otherwise
 * ("error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/..."); the usual
 * one, an https:// URL for a plain-HTTP port, says what to try.
 */
export function whyUnreachable(error: unknown): string {
  const failure = causeOf(error);
  if (failure.code === 'ERR_SSL_WRONG_VERSION_NUMBER') return 'TLS handshake failed (wrong version number: is it plain HTTP? try http://)';
  if (isTlsFailure(failure)) return `TLS handshake failed (${failure.reason ?? failure.code})`;
  return failure.message;
}

/** An error OpenSSL raised in the handshake (a certificate check's own message reads well, and is not one). */
function isTlsFailure(error: unknown): boolean {
  return causeOf(error).code?.startsWith('ERR_SSL_') ?? false;
}

/** fetch() says only "fetch failed", with the reason as its cause; undici's request() throws the reason itself. */
function causeOf(error: unknown): NodeJS.ErrnoException & { reason?: string } {
  return (error instanceof TypeError && error.cause instanceof Error ? error.cause : error) as NodeJS.ErrnoException & { reason?: string };
}

function describeError(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { message?: string };
    return `${status} ${body.message ?? text}`;
  } catch {
    return `${status} ${text.slice(0, 200)}`;
  }
}

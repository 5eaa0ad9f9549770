import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { redactUrlCredentials } from '../common/url-credentials.js';
import { configSchema, type DozenConfig } from './config.schema.js';
import { isSecret, unwrap } from './secret.js';

export const DEFAULT_CONFIG_PATH = '/etc/dozen/dozen.yaml';

/** A config value dozen cannot start with; `key` is the dotted path, or the env variable it came from. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`bad config: ${key} = ${formatValue(value)}: ${allowed}`);
  }
}

export interface LoadedConfig {
  config: DozenConfig;
  /** The YAML file that was read, or null when only defaults and env were used. */
  file: string | null;
}

/**
 * Reads the YAML file (explicit path, else /etc/dozen/dozen.yaml when it exists),
 * lays `DOZEN_*` environment variables over it, resolves secret files and
 * validates the result once. Throws ConfigError naming the first bad key.
 */
export function loadConfig(options: { path?: string; env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.path ?? env.DOZEN_CONFIG ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null);
  // An error about the file names where its path came from.
  const source = options.path === undefined && env.DOZEN_CONFIG !== undefined ? 'DOZEN_CONFIG' : '--config';
  const raw = file ? readYaml(file, source) : {};
  applyEnv(configSchema, raw, [], env);
  resolveSecretFiles(configSchema, raw, []);
  const result = configSchema.safeParse(raw);
  if (!result.success) throw toConfigError(result.error, raw);
  return { config: result.data, file };
}

/**
 * The env variable that overrides a config path: dataDir -> DOZEN_DATA_DIR, admin.listen.port -> DOZEN_ADMIN_LISTEN_PORT,
 * deploy.runtimes.php-laravel.baseImage -> DOZEN_DEPLOY_RUNTIMES_PHP_LARAVEL_BASE_IMAGE.
 */
export function envName(path: string[]): string {
  return 'DOZEN_' + path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toUpperCase()).join('_');
}

/** A copy of the config with every secret and every URL's password replaced, safe to print or return. */
export function redact(config: DozenConfig): unknown {
  return redactWith(configSchema, structuredClone(config));
}

/** Reads the config file; `source` is the option or variable that named it. */
function readYaml(file: string, source: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(source, file, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text) ?? {};
  } catch (error) {
    // The yaml library's message goes on with a code frame after "at line L, column C:"; the frame
    // stays out, as it may show a secret written on that line.
    throw new ConfigError(source, file, `not valid YAML: ${(error as Error).message.split('\n')[0].replace(/:$/, '')}`);
  }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(source, file, 'expected a YAML mapping at the top');
  return parsed as Record<string, unknown>;
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | null {
  const inner = unwrap(schema);
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodType>) : null;
}

function child(raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = raw[key];
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  const created: Record<string, unknown> = {};
  raw[key] = created;
  return created;
}

function applyEnv(schema: z.ZodType, raw: Record<string, unknown>, path: string[], env: NodeJS.ProcessEnv): void {
  const shape = objectShape(schema);
  if (!shape) return;
  for (const [key, field] of Object.entries(shape)) {
    const fieldPath = [...path, key];
    if (objectShape(field)) {
      const hasAny = Object.keys(env).some((name) => name.startsWith(envName(fieldPath) + '_'));
      if (hasAny) applyEnv(field, child(raw, key), fieldPath, env);
      continue;
    }
    const name = envName(fieldPath);
    const value = env[name];
    if (value !== undefined) raw[key] = fromEnv(field, value);
    if (isSecret(field) && env[`${name}_FILE`] !== undefined) raw[key] = readSecretFile(`${name}_FILE`, env[`${name}_FILE`]!);
  }
}

function resolveSecretFiles(schema: z.ZodType, raw: Record<string, unknown>, path: string[]): void {
  const shape = objectShape(schema);
  if (!shape) return;
  for (const [key, field] of Object.entries(shape)) {
    const value = raw[key];
    if (objectShape(field) && value && typeof value === 'object') resolveSecretFiles(field, value as Record<string, unknown>, [...path, key]);
    const fileKey = `${key}File`;
    if (isSecret(field) && fileKey in raw) {
      if (typeof raw[fileKey] !== 'string') throw new ConfigError([...path, fileKey].join('.'), raw[fileKey], 'expected a file path');
      if (raw[key] === undefined) raw[key] = readSecretFile([...path, fileKey].join('.'), raw[fileKey] as string);
      delete raw[fileKey];
    }
  }
}

function readSecretFile(key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError(key, file, `cannot read the secret file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Env values are strings; turn them into what the schema expects so its messages speak of the value given. */
function fromEnv(field: z.ZodType, value: string): unknown {
  const inner = unwrap(field);
  if (inner instanceof z.ZodNumber) return value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  if (inner instanceof z.ZodBoolean) return value === 'true' ? true : value === 'false' ? false : value;
  if (inner instanceof z.ZodArray) {
    if (value.trim().startsWith('[')) {
      try {
        return JSON.parse(value);
      } catch {
        return value;
      }
    }
    return value.split(',').map((part) => part.trim()).filter(Boolean);
  }
  return value;
}

function toConfigError(error: z.ZodError, raw: Record<string, unknown>): ConfigError {
  const issue = error.issues[0];
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const key = [...path, issue.keys[0]].join('.');
    return new ConfigError(key, valueAt(raw, [...path, issue.keys[0]]), 'unknown key');
  }
  // A check across keys may name one left at its default, so not in `raw`: it gives the value itself.
  let value = valueAt(raw, path) ?? (issue.code === 'custom' ? issue.params?.value : undefined);
  // An array-element issue names the list, since that is the key a person wrote.
  const listPath = path.length && /^\d+$/.test(path[path.length - 1]) ? path.slice(0, -1) : path;
  if (listPath !== path) value = valueAt(raw, listPath);
  const schemaAtKey = fieldAt(configSchema, listPath);
  if (schemaAtKey && isSecret(schemaAtKey) && value !== undefined) value = '[redacted]';
  return new ConfigError(listPath.join('.') || '(root)', value, issue.message);
}

function valueAt(raw: unknown, path: string[]): unknown {
  let current = raw;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function fieldAt(schema: z.ZodType, path: string[]): z.ZodType | null {
  let current: z.ZodType | null = schema;
  for (const part of path) {
    const shape: Record<string, z.ZodType> | null = current ? objectShape(current) : null;
    current = shape?.[part] ?? null;
  }
  return current;
}

function redactWith(schema: z.ZodType, value: unknown): unknown {
  // A password in a URL (database.url: mysql://dozen:…@db/dozen) is as secret as a password key.
  if (typeof value === 'string') return redactUrlCredentials(value);
  // Lists of objects (notify.channels) may hold secrets too.
  const inner = unwrap(schema);
  if (inner instanceof z.ZodArray && Array.isArray(value)) return value.map((item) => redactWith(inner.element as z.ZodType, item));
  // A list of several kinds (notify.channels: webhooks, email): each kind's secrets are redacted.
  if (inner instanceof z.ZodUnion) return (inner.options as z.ZodType[]).reduce((redacted, option) => redactWith(option, redacted), value);
  const shape = objectShape(schema);
  if (!shape || !value || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  for (const [key, field] of Object.entries(shape)) {
    if (record[key] === undefined) continue;
    record[key] = isSecret(field) ? '[redacted]' : redactWith(field, record[key]);
  }
  return record;
}

function formatValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = redactUrlCredentials(JSON.stringify(value) ?? String(value));
  return text.length > 120 ? text.slice(0, 117) + '...' : text;
}

import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { objectKeyProblem } from '../../common/object-keys.js';

export interface KeyFields {
  host: string;
  app: string;
  file: string;
  date: string;
}

const FIELD_NAMES = ['host', 'app', 'file', 'date'] as const;

/** Fills `{host}`, `{app}`, `{file}`, `{date}` in a key template; a field value never brings its own `/`. */
export function renderKey(template: string, fields: KeyFields): string {
  return template.replace(/\{(host|app|file|date)\}/g, (_match, name: keyof KeyFields) => fields[name].replaceAll('/', '_') || '_');
}

/**
 * Why `template` can never give a key the store takes, or null. Checked where a template is given
 * (config, `dozen tail --key`): the store refuses a bad key on every try, so the tailer would retry it for ever.
 */
export function keyTemplateProblem(template: string): string | null {
  const unknown = [...template.matchAll(/\{([^{}]*)\}/g)].map((match) => match[1]).find((name) => !(FIELD_NAMES as readonly string[]).includes(name));
  if (unknown !== undefined) return `unknown placeholder {${unknown}}: use ${FIELD_NAMES.map((name) => `{${name}}`).join(', ')}`;
  const sample = renderKey(template, { host: 'web-1', app: 'shop', file: 'access.log', date: '2026-03-04' });
  const problem = objectKeyProblem(sample);
  return problem && `gives keys such as ${JSON.stringify(sample)}, which ${problem}`;
}

/**
 * The `n`th key that continues `key` once its object takes no more appends (OSS's 5 GB limit, or a PUT
 * over it): `logs/h/app.log/2026-12-01.log` goes on in `…/2026-12-01.1.log`, then `.2.log`; `.n` goes
 * before the last segment's extension, or at its end when it has none.
 */
export function continuationKey(key: string, n: number): string {
  const dot = key.lastIndexOf('.');
  return dot > key.lastIndexOf('/') + 1 ? `${key.slice(0, dot)}.${n}${key.slice(dot)}` : `${key}.${n}`;
}

export function utcDate(at = new Date()): string {
  return at.toISOString().slice(0, 10);
}

/**
 * The app a log file belongs to. Docker's json-file logs live in
 * `<containers>/<id>/<id>-json.log` beside `config.v2.json`; the deploy agent
 * labels its containers `dozen.app`, so that label (or the container name) is the app.
 */
export async function appOf(path: string, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  if (!path.endsWith('-json.log')) return basename(dirname(path));
  try {
    const config = JSON.parse(await readFile(join(dirname(path), 'config.v2.json'), 'utf8')) as { Name?: string; Config?: { Labels?: Record<string, string> } };
    return config.Config?.Labels?.['dozen.app'] ?? config.Name?.replace(/^\//, '') ?? basename(dirname(path)).slice(0, 12);
  } catch {
    return basename(dirname(path)).slice(0, 12);
  }
}

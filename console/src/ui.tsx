import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, gql } from './api.js';
import { useT } from './i18n.js';
import { can, session } from './session.js';
import { store, useStore } from './state.js';

export interface Query<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload(): void;
}

/** One GraphQL query for a component: loading, failing, and reload after a mutation. */
export function useQuery<T>(query: string, variables: Record<string, unknown> = {}, enabled = true): Query<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({ data: null, error: null, loading: enabled });
  const [round, setRound] = useState(0);
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (!enabled) return;
    let current = true;
    setState((old) => ({ ...old, loading: true }));
    gql<T>(query, variables).then(
      (data) => current && setState({ data, error: null, loading: false }),
      (error: ApiError) => current && setState({ data: null, error, loading: false }),
    );
    return () => (current = false);
  }, [query, key, round, enabled]);
  return { ...state, reload: useCallback(() => setRound((value) => value + 1), []) };
}

/** A form's submit: busy while it runs, the error kept to show next to its field. */
export function useAction<A extends unknown[]>(run: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (...args: A): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await run(...args);
      return true;
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(String(caught), null, 0));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit, setError };
}

export function Loading() {
  const t = useT();
  return <p class="muted" role="status">{t('state.loading')}</p>;
}

export function Failed({ error }: { error: { message: string } | string }) {
  const t = useT();
  return (
    <p class="error" role="alert">
      {t('state.failed')}: {typeof error === 'string' ? error : error.message}
    </p>
  );
}

export function Empty({ children }: { children?: ComponentChildren }) {
  const t = useT();
  return <p class="muted empty">{children ?? t('state.empty')}</p>;
}

/** Renders loading / failing / empty states, or the children with the data. */
export function Loaded<T>({ query, empty, children }: { query: Query<T>; empty?: (data: T) => boolean; children: (data: T) => ComponentChildren }) {
  if (query.error) return <Failed error={query.error} />;
  if (!query.data) return <Loading />;
  if (empty?.(query.data)) return <Empty />;
  return <>{children(query.data)}</>;
}

/** A labelled input with the API's error for it beneath. */
export function Field({ label, name, error, children }: { label: string; name: string; error: ApiError | null; children: ComponentChildren }) {
  const mine = error !== null && fieldIs(error.field, name);
  return (
    <label class={`field${mine ? ' invalid' : ''}`} data-field={name}>
      <span>{label}</span>
      {children}
      {mine ? <small class="error" role="alert">{error.message}</small> : null}
    </label>
  );
}

/** Whether an error's field path names the input `name`: `to`, `input.to`, `input.to.0` (REST or GraphQL). */
function fieldIs(field: string | null, name: string): boolean {
  return field !== null && field.split('.').includes(name);
}

/** The error of a form that belongs to no one field. */
export function FormError({ error, fields }: { error: ApiError | null; fields: string[] }) {
  if (!error) return null;
  if (fields.some((name) => fieldIs(error.field, name))) return null;
  return <p class="error" role="alert">{error.message}</p>;
}

/** A button for a mutation: disabled, with the reason as its title, when the user lacks the permission. */
export function Act({ perm, busy, children, ...rest }: { perm: string; busy?: boolean } & JSX.IntrinsicElements['button']) {
  const t = useT();
  useStore(session);
  const allowed = can(perm);
  return (
    <button {...rest} data-perm={perm} disabled={!allowed || busy || Boolean(rest.disabled)} title={allowed ? (rest.title as string | undefined) : t('perm.missing', { perm })}>
      {children}
    </button>
  );
}

// --- which modules run on this host ------------------------------------------

export interface NodeInfo {
  host: string;
  version: string;
  modules: string[];
  status: string;
  health: { name: string; status: string; reason: string | null }[];
}

export const NODE_QUERY = '{ node { host version modules status health { name status reason } } }';
export const nodeInfo = store<NodeInfo | null>(null);

export async function loadNode(): Promise<void> {
  nodeInfo.set((await gql<{ node: NodeInfo }>(NODE_QUERY)).node);
}

/** Renders the children only when `module` runs on this host; otherwise says so. */
export function NeedsModule({ module, children }: { module: string; children: ComponentChildren }) {
  const t = useT();
  const node = useStore(nodeInfo);
  if (!node) return <Loading />;
  if (!node.modules.includes(module)) return <p class="off" data-module-off={module}>{t('module.off', { module, host: node.host })}</p>;
  return <>{children}</>;
}

export function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let scaled = value / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${scaled.toFixed(scaled < 10 ? 1 : 0)} ${units[unit]}`;
}

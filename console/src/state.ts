import { useEffect, useState } from 'preact/hooks';

/** A value the whole app reads and components re-render on. */
export interface Store<T> {
  get(): T;
  set(value: T): void;
  watch(listener: (value: T) => void): () => void;
}

export function store<T>(initial: T): Store<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  return {
    get: () => value,
    set(next) {
      value = next;
      for (const listener of listeners) listener(value);
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useStore<T>(source: Store<T>): T {
  const [value, setValue] = useState(source.get());
  useEffect(() => {
    setValue(source.get());
    return source.watch(setValue);
  }, [source]);
  return value;
}

// --- route: the path under /console (what the address bar shows) ---------------------------

export const PREFIX = '/console';
export const route = store<string>(currentRoute());

function currentRoute(): string {
  const path = location.pathname.startsWith(PREFIX) ? location.pathname.slice(PREFIX.length) : '';
  return path === '' || path === '/' ? '/overview' : path;
}

addEventListener('popstate', () => route.set(currentRoute()));

export function go(path: string): void {
  history.pushState(null, '', PREFIX + path);
  route.set(path);
}

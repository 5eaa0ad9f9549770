/**
 * An AsyncIterator over a stream of snapshots that keeps only the newest one
 * not yet read: a slow subscriber skips stale states instead of queueing them.
 * What GraphQL subscriptions return (graphql-js iterates it).
 */
export function latestIterator<T>(watch: (push: (value: T) => void) => () => void, initial?: T): AsyncIterableIterator<T> {
  let pending: { value: T } | null = initial === undefined ? null : { value: initial };
  let wake: ((result: IteratorResult<T>) => void) | null = null;
  let done = false;
  const stop = watch((value) => {
    if (done) return;
    if (wake) {
      const resolve = wake;
      wake = null;
      resolve({ value, done: false });
    } else {
      pending = { value };
    }
  });
  const finish = (): Promise<IteratorResult<T>> => {
    if (!done) {
      done = true;
      stop();
      wake?.({ value: undefined, done: true });
      wake = null;
    }
    return Promise.resolve({ value: undefined, done: true });
  };
  return {
    next(): Promise<IteratorResult<T>> {
      if (done) return Promise.resolve({ value: undefined, done: true });
      if (pending) {
        const { value } = pending;
        pending = null;
        return Promise.resolve({ value, done: false });
      }
      return new Promise((resolve) => (wake = resolve));
    },
    return: finish,
    throw: finish,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * An AsyncIterator over every value pushed, in order (for streams where each
 * value counts, like log lines), ending when `end` is called. Bounded by what
 * the source produces: use it for finite streams only.
 */
export function queueIterator<T>(watch: (push: (value: T) => void, end: () => void) => () => void): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  let stopped = false;
  const stop = watch(
    (value) => {
      if (ended) return;
      queue.push(value);
      wake?.();
    },
    () => {
      ended = true;
      wake?.();
    },
  );
  const finish = (): Promise<IteratorResult<T>> => {
    if (!stopped) {
      stopped = true;
      ended = true;
      queue.length = 0;
      stop();
      wake?.();
    }
    return Promise.resolve({ value: undefined, done: true });
  };
  return {
    async next(): Promise<IteratorResult<T>> {
      while (queue.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      if (queue.length) return { value: queue.shift()!, done: false };
      return finish();
    },
    return: finish,
    throw: finish,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

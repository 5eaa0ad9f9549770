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

/** What a `batchIterator` read gives: the values pushed since the last read, and how many were dropped for a slow reader. */
export interface Batch<T> {
  values: T[];
  dropped: number;
}

/**
 * An AsyncIterator over batches of pushed values, for endless streams where
 * each value counts (a container's output): a read takes everything pushed
 * since the last read, at most one batch per `everyMs` (the first at once), so
 * a chatty source reaches a client at most 1000/everyMs times a second. A slow
 * reader holds at most `max` values: the oldest go, counted in `dropped`.
 * Ends after `end` once the last values are read.
 */
export function batchIterator<T>(
  watch: (push: (value: T) => void, end: () => void) => () => void,
  options: { max: number; everyMs: number },
): AsyncIterableIterator<Batch<T>> {
  let values: T[] = [];
  let dropped = 0;
  let wake: (() => void) | null = null;
  let ended = false;
  let stopped = false;
  let lastRead = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = watch(
    (value) => {
      if (ended) return;
      values.push(value);
      if (values.length > options.max) {
        values.shift();
        dropped++;
      }
      wake?.();
    },
    () => {
      ended = true;
      wake?.();
    },
  );
  const sleep = (ms: number) => new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const finish = (): Promise<IteratorResult<Batch<T>>> => {
    if (!stopped) {
      stopped = true;
      ended = true;
      values = [];
      clearTimeout(timer);
      stop();
      wake?.();
    }
    return Promise.resolve({ value: undefined, done: true });
  };
  return {
    async next(): Promise<IteratorResult<Batch<T>>> {
      while (values.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      // Values pushed during the wait join this batch; an end cuts the wait short.
      while (!ended && Date.now() - lastRead < options.everyMs) await sleep(options.everyMs - (Date.now() - lastRead));
      wake = null;
      if (stopped || values.length === 0) return finish();
      const batch = { values, dropped };
      values = [];
      dropped = 0;
      lastRead = Date.now();
      return { value: batch, done: false };
    },
    return: finish,
    throw: finish,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Runs `run` at most once per `everyMs`: at once when the last run is that
 * long ago, else once at the end of the interval for every trigger in between
 * (so the last change is never lost). For sources that change in bursts.
 */
export function throttled(run: () => void, everyMs: number): { trigger(): void; cancel(): void } {
  let lastRun = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    timer = undefined;
    lastRun = Date.now();
    run();
  };
  return {
    trigger() {
      if (timer) return;
      const wait = lastRun + everyMs - Date.now();
      if (wait <= 0) fire();
      else timer = setTimeout(fire, wait);
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

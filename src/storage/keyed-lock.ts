/** Runs the actions given for one key one at a time, in the order they came (a queue per key). */
export class KeyedLock {
  private readonly queues = new Map<string, Promise<unknown>>();

  async run<T>(key: string, action: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(action, action);
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    try {
      return await next;
    } finally {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    }
  }
}

/**
 * Per key, actions that may run side by side (`shared`) and actions that run alone (`exclusive`): an exclusive
 * one waits for every action on the key that came before it, and every action that comes after it waits for it.
 */
export class KeyedSharedLock {
  private readonly keys = new Map<string, { exclusive: Promise<unknown>; shared: Set<Promise<unknown>>; pending: number }>();

  shared<T>(key: string, action: () => Promise<T>): Promise<T> {
    const state = this.state(key);
    const run = state.exclusive.then(action);
    const settled = this.settle(key, state, run);
    state.shared.add(settled);
    void settled.then(() => state.shared.delete(settled));
    return run;
  }

  exclusive<T>(key: string, action: () => Promise<T>): Promise<T> {
    const state = this.state(key);
    const run = Promise.all([state.exclusive, ...state.shared]).then(action);
    state.exclusive = this.settle(key, state, run);
    state.shared.clear();
    return run;
  }

  private state(key: string) {
    let state = this.keys.get(key);
    if (!state) {
      state = { exclusive: Promise.resolve(), shared: new Set(), pending: 0 };
      this.keys.set(key, state);
    }
    state.pending++;
    return state;
  }

  /** `run`, settled either way; the key is forgotten once nothing waits on it. */
  private settle(key: string, state: { pending: number }, run: Promise<unknown>): Promise<void> {
    return run.then(
      () => this.done(key, state),
      () => this.done(key, state),
    );
  }

  private done(key: string, state: { pending: number }): void {
    if (--state.pending === 0 && this.keys.get(key) === state) this.keys.delete(key);
  }
}

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

/**
 * A coarse clock and a periodic check of what it watches: timeouts kept as
 * deadlines read against `now`, instead of socket timers that Node re-arms at
 * every read and write. The timer runs only while something is watched; while
 * it does not, `now` is the real time, so a deadline set after a quiet spell
 * is not measured from when the last sweep ran.
 */
export class Sweep<Item> {
  private sweptAt = Date.now();
  private readonly items = new Set<Item>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly intervalMs: number,
    private readonly check: (item: Item, now: number) => void,
  ) {}

  /** Milliseconds since the epoch, at most one interval behind. */
  get now(): number {
    return this.timer ? this.sweptAt : Date.now();
  }

  watch(item: Item): void {
    this.items.add(item);
    if (this.timer) return;
    this.sweptAt = Date.now();
    this.timer = setInterval(() => this.run(), this.intervalMs).unref();
  }

  unwatch(item: Item): void {
    this.items.delete(item);
    if (this.items.size || !this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  get size(): number {
    return this.items.size;
  }

  watched(): IterableIterator<Item> {
    return this.items.values();
  }

  private run(): void {
    const now = (this.sweptAt = Date.now());
    for (const item of this.items) this.check(item, now);
  }
}

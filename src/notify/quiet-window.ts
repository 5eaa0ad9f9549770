/**
 * At most one message per key (channel, event, subject) per window: a crash loop sends one message,
 * not a thousand. The ones held back are counted and told in the next message that goes out.
 */
export class QuietWindow {
  private readonly last = new Map<string, { sentAt: number; heldBack: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** null: hold this one back; else send it, telling how many were held back since the last one. */
  admit(key: string): { heldBack: number } | null {
    const now = this.now();
    const entry = this.last.get(key);
    if (entry && now - entry.sentAt < this.windowMs) {
      entry.heldBack++;
      return null;
    }
    this.last.set(key, { sentAt: now, heldBack: 0 });
    return { heldBack: entry?.heldBack ?? 0 };
  }
}

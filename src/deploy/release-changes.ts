import { Injectable } from '@nestjs/common';

/**
 * Tells the live views of this process that an app's releases changed: a
 * deploy queued, a build's state (building, ready, failed, cancelled), a
 * rollback or promotion, images pruned. Only what this host does is seen here.
 */
@Injectable()
export class ReleaseChanges {
  private readonly listeners = new Set<(app: string) => void>();

  changed(app: string): void {
    for (const listener of this.listeners) listener(app);
  }

  /** Calls `listener` with the app after each change; returns the unwatch. */
  watch(listener: (app: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

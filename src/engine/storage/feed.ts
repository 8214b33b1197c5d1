/**
 * The live half of a `ChangeFeed`, shared by storages: the subscribers, the
 * head (highest announced sync id) and the announcement of one durable batch.
 * A storage pairs it with its own change-log reads (`after`, `afterInGroups`)
 * and calls `announce` once a transaction's changes are durable.
 */
import type { ChangeBatch, ChangeFeed, ChangeRecord, FeedGap } from './types.js';

export interface ChangeLogReads {
  after(afterSyncId: number, limit: number): Promise<ChangeRecord[]>;
  afterInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]>;
}

export class FeedHub implements ChangeFeed {
  private listeners: Array<(batch: ChangeBatch) => void> = [];
  private last = 0;

  constructor(private readonly reads: ChangeLogReads) {}

  head(): number {
    return this.last;
  }

  /** Set the head without announcing anything (the storage opened an existing log). */
  reset(head: number): void {
    this.last = head;
  }

  after(afterSyncId: number, limit: number): Promise<ChangeRecord[]> {
    return this.reads.after(afterSyncId, limit);
  }

  afterInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]> {
    return this.reads.afterInGroups(groups, afterSyncId, upToSyncId, limit);
  }

  subscribe(listener: (batch: ChangeBatch) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /**
   * `changes` (in sync-id order) are durable: move the head, then tell every
   * subscriber. A subscriber that throws does not stop the others. `gap`
   * flags changes that do not follow the head (`ChangeBatch.gap`).
   */
  announce(changes: readonly ChangeRecord[], gap?: FeedGap): void {
    if (changes.length === 0) return;
    const lastSyncId = changes[changes.length - 1]!.syncId;
    if (lastSyncId > this.last) this.last = lastSyncId;
    const batch: ChangeBatch = gap ? { changes, lastSyncId, gap } : { changes, lastSyncId };
    // A subscribe or unsubscribe during the announcement applies from the next batch.
    for (const listener of this.listeners) {
      try {
        listener(batch);
      } catch {
        // Fanout problems never undo a durable commit.
      }
    }
  }
}

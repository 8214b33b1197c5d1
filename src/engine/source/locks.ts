/**
 * Row locks for Data Source commits, held in this process from the moment a
 * commit is planned until the source's answer is applied (across the HTTP
 * round trip, outside any storage transaction). Two commits that name the
 * same row, or the same client transaction, never interleave: the second one
 * is planned against the first one's canonical rows. Events from the source
 * take the rows they touch too, so an event waits for a commit in flight.
 *
 * A holder takes all its keys at once (no deadlock: nothing waits while
 * holding). `'*'` is a lock on the whole source (a commit with a group read
 * dependency: its premise is any row of the group). Grants are FIFO: a
 * waiter is not passed by a later one that conflicts with it.
 */
export const WHOLE_SOURCE = '*';

interface Waiter {
  keys: ReadonlySet<string>;
  grant: () => void;
}

export class RowLocks {
  private readonly held = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  /** Resolves with the release function once every key is free. */
  acquire(keys: Iterable<string>): Promise<() => void> {
    const set = new Set(keys);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        keys: set,
        grant: () => {
          this.take(set);
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.give(set);
          });
        },
      };
      this.waiting.push(waiter);
      this.pump();
    });
  }

  /** Keys held now (tests, diagnostics). */
  get size(): number {
    return this.held.size;
  }

  private conflicts(keys: ReadonlySet<string>, against: (key: string) => boolean, anyHeld: boolean): boolean {
    if (keys.has(WHOLE_SOURCE)) return anyHeld;
    if (against(WHOLE_SOURCE)) return true;
    for (const k of keys) if (against(k)) return true;
    return false;
  }

  private pump(): void {
    const blocked = new Set<string>();
    let blockedAll = false;
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      const busy =
        this.conflicts(w.keys, (k) => this.held.has(k), this.held.size > 0) ||
        blockedAll ||
        this.conflicts(w.keys, (k) => blocked.has(k), blocked.size > 0);
      if (busy) {
        // Later waiters may not pass this one on its keys (FIFO per key).
        if (w.keys.has(WHOLE_SOURCE)) blockedAll = true;
        for (const k of w.keys) blocked.add(k);
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      w.grant();
    }
  }

  private take(keys: ReadonlySet<string>): void {
    for (const k of keys) this.held.set(k, (this.held.get(k) ?? 0) + 1);
  }

  private give(keys: ReadonlySet<string>): void {
    for (const k of keys) {
      const n = (this.held.get(k) ?? 1) - 1;
      if (n <= 0) this.held.delete(k);
      else this.held.set(k, n);
    }
    this.pump();
  }
}

export function rowKey(model: string, id: string): string {
  return `row\u0000${model}\u0000${id}`;
}

export function txKey(clientTxId: string): string {
  return `tx\u0000${clientTxId}`;
}

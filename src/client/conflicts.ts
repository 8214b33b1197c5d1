/**
 * `ablo.conflicts`: this client's writes the engine held (`onStale: 'notify'`, undo and redo included), with
 * what each tried to write and what the row holds now, until a person resolves or dismisses them.
 */
import type { CommitReceipt, CommitRequest, Operation } from '../protocol/commit.js';
import type { RowData } from './store.js';
import type { Conflict, ConflictsApi } from './types.js';

export interface ConflictHost {
  /** The row from the local pool. */
  get(model: string, id: string): RowData | undefined;
  /** Queue a commit as any write. */
  submit(operations: Operation[], options: { label?: string }): { confirmed: Promise<CommitReceipt> };
  /** The list changed: re-run subscriptions. */
  changed(): void;
}

interface Held {
  conflict: Conflict;
  /** The held operation's kind, to write "mine" again the same way. */
  op: Operation['op'];
}

export class ConflictList implements ConflictsApi {
  private readonly held = new Map<string, Held>();
  /** Frozen, and the same array until the list changes (selectors compare it cheaply). */
  private snapshot: readonly Conflict[] = Object.freeze([]);
  private readonly listeners = new Set<(conflicts: readonly Conflict[]) => void>();

  constructor(private readonly host: ConflictHost) {
    // Methods work detached too (`const { resolve } = ablo.conflicts`).
    this.list = this.list.bind(this);
    this.resolve = this.resolve.bind(this);
    this.dismiss = this.dismiss.bind(this);
    this.subscribe = this.subscribe.bind(this);
  }

  /** A receipt of one of this client's commits: each notification for one of its operations is a conflict. */
  fromReceipt(request: CommitRequest, receipt: CommitReceipt): void {
    const notifications = receipt.notifications ?? [];
    if (notifications.length === 0) return;
    let added = false;
    for (const n of notifications) {
      const op = request.operations.find((o) => o.model === n.model && o.id === n.id);
      // A notification for a row the commit only read (a group read dependency): nothing of this client's to write back.
      if (!op) continue;
      const id = `${receipt.clientTxId}:${n.model}:${n.id}`;
      if (this.held.has(id)) continue;
      const conflict: Conflict = {
        id,
        clientTxId: receipt.clientTxId,
        model: n.model,
        rowId: n.id,
        fields: [...n.conflictingFields],
        mine: op.op === 'delete' ? null : { ...op.data },
        theirs: { ...n.currentValues },
        notification: n,
        at: new Date().toISOString(),
      };
      this.held.set(id, { conflict, op: op.op });
      added = true;
    }
    if (added) this.publish();
  }

  list(): readonly Conflict[] {
    return this.snapshot;
  }

  async resolve(id: string, choice: 'mine' | 'theirs'): Promise<void> {
    const held = this.held.get(id);
    if (!held) return;
    // Deleting a row that is already gone: nothing left to write.
    const done = held.op === 'delete' && !this.host.get(held.conflict.model, held.conflict.rowId);
    if (choice === 'mine' && !done) {
      // If the write fails (the row is gone, someone holds a claim…) the conflict stays and the error is thrown.
      await this.host.submit([this.writeMine(held)], { label: 'resolve conflict' }).confirmed;
    }
    if (this.held.delete(id)) this.publish();
  }

  dismiss(id: string): void {
    if (this.held.delete(id)) this.publish();
  }

  subscribe(listener: (conflicts: readonly Conflict[]) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** This client's values again, over the current ones. */
  private writeMine(held: Held): Operation {
    const { model, rowId, mine } = held.conflict;
    if (held.op === 'delete') return { op: 'delete', model, id: rowId };
    // A held re-create (undo of a delete): create when the row is still gone, else write the values over it.
    if (held.op === 'create' && !this.host.get(model, rowId)) return { op: 'create', model, id: rowId, data: { ...mine } };
    return { op: 'update', model, id: rowId, data: { ...mine }, onStale: 'overwrite' };
  }

  private publish(): void {
    this.snapshot = Object.freeze([...this.held.values()].map((h) => h.conflict));
    for (const l of [...this.listeners]) {
      try {
        l(this.snapshot);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.host.changed();
  }
}

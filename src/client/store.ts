/**
 * The client's local pool. Two layers:
 *
 * - confirmed: rows as the engine last told us (bootstrap + change stream),
 *   applied only when a change's sync id is newer than the row's;
 * - pending: this client's commits that have no receipt yet, replayed in
 *   order over the confirmed rows they touch.
 *
 * What reads see (`visible`) is confirmed + pending, kept materialized per
 * row so `get` is a map lookup. A receipt or a rejection drops the commit
 * from pending and recomputes only the rows it touched.
 */
import type { Change, Operation, Row } from '../protocol/commit.js';

export type RowData = Row;

export interface PendingCommit {
  clientTxId: string;
  operations: Operation[];
  /** Ids of created rows, resolved before the commit is queued. */
  ids: string[];
  at: string;
}

type Listener = (models: Set<string>) => void;

function key(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

export class LocalStore {
  private confirmed = new Map<string, Map<string, RowData>>();
  private visible = new Map<string, Map<string, RowData>>();
  private pending: PendingCommit[] = [];
  /** row key → pending commits touching it, in order. */
  private pendingByRow = new Map<string, PendingCommit[]>();
  private listeners = new Set<Listener>();
  private dirty = new Set<string>();
  private flushScheduled = false;
  private bootstrapBuffer: Map<string, Map<string, RowData>> | null = null;
  /** Highest sync id applied: everything up to it in our groups is reflected in `confirmed`. */
  lastSyncId = 0;

  /** `fields`: every model's field names (a created row shows null for fields left out). */
  constructor(
    private readonly models: readonly string[],
    private readonly fields: (model: string) => readonly string[],
  ) {
    for (const m of models) {
      this.confirmed.set(m, new Map());
      this.visible.set(m, new Map());
    }
  }

  // ---- reads -------------------------------------------------------------

  get(model: string, id: string): RowData | undefined {
    return this.visible.get(model)?.get(id);
  }

  rows(model: string): IterableIterator<RowData> {
    return (this.visible.get(model) ?? new Map<string, RowData>()).values();
  }

  size(model: string): number {
    return this.visible.get(model)?.size ?? 0;
  }

  confirmedRow(model: string, id: string): RowData | undefined {
    return this.confirmed.get(model)?.get(id);
  }

  pendingCommits(): readonly PendingCommit[] {
    return this.pending;
  }

  // ---- change notification ----------------------------------------------

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private touch(model: string): void {
    this.dirty.add(model);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const models = this.dirty;
      this.dirty = new Set();
      for (const l of this.listeners) l(models);
    });
  }

  // ---- confirmed state from the engine -------------------------------------

  /** Start collecting a fresh bootstrap; reads keep seeing the old state until it completes. */
  beginBootstrap(): void {
    this.bootstrapBuffer = new Map(this.models.map((m) => [m, new Map<string, RowData>()]));
  }

  addBootstrapRows(model: string, rows: RowData[]): void {
    const target = this.bootstrapBuffer?.get(model);
    if (!target) return;
    for (const r of rows) target.set(r.id, r);
  }

  /** Swap in the collected bootstrap as the confirmed state. */
  finishBootstrap(watermark: number): void {
    if (!this.bootstrapBuffer) return;
    this.confirmed = this.bootstrapBuffer;
    this.bootstrapBuffer = null;
    this.lastSyncId = Math.max(watermark, 0);
    for (const m of this.models) this.recomputeModel(m);
  }

  /** Apply confirmed changes in sync-id order. `groups`: the client's subscriptions. */
  applyChanges(changes: Change[], groups: ReadonlySet<string>): void {
    for (const c of changes) {
      if (c.syncId > this.lastSyncId) this.lastSyncId = c.syncId;
      const rows = this.confirmed.get(c.model);
      if (!rows) continue; // a model this client's schema does not know
      const current = rows.get(c.id);
      if (current && current.syncId >= c.syncId) continue; // already newer (bootstrap overlap)
      const stillOurs = c.groups.some((g) => groups.has(g));
      if (c.action === 'delete' || !c.data || !stillOurs) rows.delete(c.id);
      else rows.set(c.id, c.data);
      this.recomputeRow(c.model, c.id);
    }
  }

  markCaughtUp(watermark: number): void {
    if (watermark > this.lastSyncId) this.lastSyncId = watermark;
  }

  // ---- optimistic layer ------------------------------------------------------

  addPending(commit: PendingCommit): void {
    this.pending.push(commit);
    for (const k of this.rowKeys(commit)) {
      const list = this.pendingByRow.get(k) ?? [];
      list.push(commit);
      this.pendingByRow.set(k, list);
    }
    this.recomputeCommit(commit);
  }

  /** Drop a commit from the optimistic layer (confirmed, rejected or held). */
  removePending(clientTxId: string): PendingCommit | undefined {
    const i = this.pending.findIndex((p) => p.clientTxId === clientTxId);
    if (i < 0) return undefined;
    const [commit] = this.pending.splice(i, 1);
    for (const k of this.rowKeys(commit!)) {
      const list = (this.pendingByRow.get(k) ?? []).filter((p) => p !== commit);
      if (list.length) this.pendingByRow.set(k, list);
      else this.pendingByRow.delete(k);
    }
    this.recomputeCommit(commit!);
    return commit;
  }

  private rowKeys(commit: PendingCommit): Set<string> {
    const out = new Set<string>();
    commit.operations.forEach((op, i) => out.add(key(op.model, op.op === 'create' ? commit.ids[i]! : op.id)));
    return out;
  }

  private recomputeCommit(commit: PendingCommit): void {
    commit.operations.forEach((op, i) => this.recomputeRow(op.model, op.op === 'create' ? commit.ids[i]! : op.id));
  }

  private recomputeModel(model: string): void {
    const visible = new Map(this.confirmed.get(model));
    this.visible.set(model, visible);
    for (const k of this.pendingByRow.keys()) {
      const [m, id] = k.split('\u0000') as [string, string];
      if (m === model) this.recomputeRow(model, id, false);
    }
    this.touch(model);
  }

  /** visible[row] = confirmed[row] with this client's pending ops for it replayed in order. */
  private recomputeRow(model: string, id: string, notify = true): void {
    const visible = this.visible.get(model);
    if (!visible) return;
    let row: RowData | undefined = this.confirmed.get(model)?.get(id);
    for (const commit of this.pendingByRow.get(key(model, id)) ?? []) {
      commit.operations.forEach((op, i) => {
        if (op.model !== model) return;
        const opId = op.op === 'create' ? commit.ids[i]! : op.id;
        if (opId !== id) return;
        if (op.op === 'delete') row = undefined;
        else if (op.op === 'create') {
          if (row) row = { ...row, ...op.data };
          else {
            const created: RowData = { id, createdAt: commit.at, updatedAt: commit.at, syncId: 0 };
            for (const f of this.fields(model)) created[f] = op.data[f] ?? null;
            row = created;
          }
        } else if (row) row = { ...row, ...op.data, updatedAt: commit.at };
      });
    }
    const prev = visible.get(id);
    if (row === prev) return;
    if (row) visible.set(id, row);
    else visible.delete(id);
    if (notify) this.touch(model);
  }
}

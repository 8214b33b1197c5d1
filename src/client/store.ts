/**
 * The client's local pool. Two layers:
 *
 * - confirmed: rows as the engine last told us (bootstrap + change stream),
 *   applied only when a change's sync id is newer than the row's;
 * - pending: this client's commits that have no receipt yet, replayed in
 *   order over the confirmed rows they touch.
 *
 * Reads see confirmed + pending. Only rows that pending commits touch are
 * materialized in an overlay (a row, or DELETED); every other read goes
 * straight to the confirmed map, so the pool holds each row once. A receipt
 * or a rejection drops the commit and recomputes only the rows it touched.
 */
import type { Change, Operation, Row } from '../protocol/commit.js';

export type RowData = Row;

export interface PendingCommit {
  clientTxId: string;
  operations: Operation[];
  /** Ids of the rows each operation touches (created ids resolved before queueing). */
  ids: string[];
  at: string;
}

type Listener = (models: Set<string>) => void;

/** Overlay marker: a pending delete hides the confirmed row. */
const DELETED = Symbol('deleted');
type OverlayEntry = RowData | typeof DELETED;

function key(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

export class LocalStore {
  private confirmed = new Map<string, Map<string, RowData>>();
  private overlay = new Map<string, Map<string, OverlayEntry>>();
  /** Pending commits by clientTxId, in the order they were made. */
  private pending = new Map<string, PendingCommit>();
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
      this.overlay.set(m, new Map());
    }
  }

  // ---- reads -------------------------------------------------------------

  get(model: string, id: string): RowData | undefined {
    const o = this.overlay.get(model)?.get(id);
    if (o !== undefined) return o === DELETED ? undefined : o;
    return this.confirmed.get(model)?.get(id);
  }

  rows(model: string): IterableIterator<RowData> {
    const confirmed = this.confirmed.get(model);
    const overlay = this.overlay.get(model);
    if (!confirmed || !overlay) return [][Symbol.iterator]();
    // Common case: nothing pending for this model, iterate the map itself (no generator per row).
    if (overlay.size === 0) return confirmed.values();
    return this.mergedRows(confirmed, overlay);
  }

  private *mergedRows(confirmed: Map<string, RowData>, overlay: Map<string, OverlayEntry>): IterableIterator<RowData> {
    for (const [id, row] of confirmed) {
      const o = overlay.get(id);
      if (o === undefined) yield row;
      else if (o !== DELETED) yield o;
    }
    // Rows that exist only optimistically (pending creates).
    for (const [id, o] of overlay) if (o !== DELETED && !confirmed.has(id)) yield o;
  }

  size(model: string): number {
    let n = this.confirmed.get(model)?.size ?? 0;
    const confirmed = this.confirmed.get(model);
    for (const [id, o] of this.overlay.get(model) ?? []) {
      const has = confirmed?.has(id) ?? false;
      if (o === DELETED && has) n--;
      else if (o !== DELETED && !has) n++;
    }
    return n;
  }

  confirmedRow(model: string, id: string): RowData | undefined {
    return this.confirmed.get(model)?.get(id);
  }

  pendingCommits(): PendingCommit[] {
    return [...this.pending.values()];
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
    // Pending overlays are relative to confirmed rows: rebuild them over the new state.
    for (const k of this.pendingByRow.keys()) {
      const [m, id] = k.split('\u0000') as [string, string];
      this.recomputeRow(m, id, false);
    }
    for (const m of this.models) this.touch(m);
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
      if (this.pendingByRow.has(key(c.model, c.id))) this.recomputeRow(c.model, c.id);
      else this.touch(c.model);
    }
  }

  markCaughtUp(watermark: number): void {
    if (watermark > this.lastSyncId) this.lastSyncId = watermark;
  }

  // ---- optimistic layer ------------------------------------------------------

  addPending(commit: PendingCommit): void {
    this.pending.set(commit.clientTxId, commit);
    for (const k of this.rowKeys(commit)) {
      const list = this.pendingByRow.get(k) ?? [];
      list.push(commit);
      this.pendingByRow.set(k, list);
    }
    this.recomputeCommit(commit);
  }

  /** Drop a commit from the optimistic layer (confirmed, rejected or held). */
  removePending(clientTxId: string): PendingCommit | undefined {
    const commit = this.pending.get(clientTxId);
    if (!commit) return undefined;
    this.pending.delete(clientTxId);
    for (const k of this.rowKeys(commit)) {
      const list = this.pendingByRow.get(k);
      if (!list) continue;
      // Receipts usually arrive in order, so the commit is almost always first.
      const i = list[0] === commit ? 0 : list.indexOf(commit);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.pendingByRow.delete(k);
    }
    this.recomputeCommit(commit);
    return commit;
  }

  private rowKeys(commit: PendingCommit): Set<string> {
    const out = new Set<string>();
    commit.operations.forEach((op, i) => out.add(key(op.model, commit.ids[i]!)));
    return out;
  }

  private recomputeCommit(commit: PendingCommit): void {
    commit.operations.forEach((op, i) => this.recomputeRow(op.model, commit.ids[i]!));
  }

  /** overlay[row] = confirmed[row] with this client's pending ops for it replayed in order. */
  private recomputeRow(model: string, id: string, notify = true): void {
    const overlay = this.overlay.get(model);
    if (!overlay) return;
    const commits = this.pendingByRow.get(key(model, id));
    if (!commits || commits.length === 0) {
      if (overlay.delete(id) && notify) this.touch(model);
      return;
    }
    const confirmed = this.confirmed.get(model)?.get(id);
    let row: RowData | undefined = confirmed;
    for (const commit of commits) {
      commit.operations.forEach((op, i) => {
        if (op.model !== model || commit.ids[i] !== id) return;
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
    overlay.set(id, row ?? DELETED);
    if (notify) this.touch(model);
  }
}

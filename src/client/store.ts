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
 * The engine's change for one of our own commits retires that commit from
 * the row at once (the confirmed row already holds it), so the receipt that
 * follows has nothing left to recompute there: one recompute, one flush.
 *
 * Changes are announced once per microtask: for every row whose visible
 * value changed, its value before the first change of the tick and after the
 * last (`RowDelta`), plus the models that were reset (a bootstrap swap).
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

/** One row whose visible value changed during a tick: undefined = absent. */
export interface RowDelta {
  model: string;
  id: string;
  before: RowData | undefined;
  after: RowData | undefined;
}

/** What one flush announces: row deltas (for models not reset), and models whose whole state was replaced. */
export interface StoreFlush {
  deltas: RowDelta[];
  reset: ReadonlySet<string>;
}
type FlushListener = (flush: StoreFlush) => void;

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
  private flushListeners = new Set<FlushListener>();
  /** row key → the row as it was visible before its first change this tick. */
  private befores = new Map<string, RowDelta>();
  /** Models whose state was replaced this tick (their row deltas are not needed). */
  private resets = new Set<string>();
  /** Models with changes not yet announced. */
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

  /** `listener(models)` once per tick in which rows of `models` visibly changed. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Row-level deltas, once per tick; called before the `onChange` listeners. */
  onFlush(listener: FlushListener): () => void {
    this.flushListeners.add(listener);
    return () => this.flushListeners.delete(listener);
  }

  /** True while `model` has changes that the next flush will announce. */
  hasUnflushed(model: string): boolean {
    return this.dirty.has(model);
  }

  /** Call before changing what `get(model, id)` returns: keeps the first "before" of the tick. */
  private noteBefore(model: string, id: string, k = key(model, id)): void {
    if (!this.befores.has(k)) this.befores.set(k, { model, id, before: this.get(model, id), after: undefined });
    this.dirty.add(model);
    this.schedule();
  }

  private markReset(model: string): void {
    this.resets.add(model);
    this.dirty.add(model);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const befores = this.befores;
    const reset = this.resets;
    this.befores = new Map();
    this.resets = new Set();
    this.dirty = new Set();
    const models = new Set<string>(reset);
    const deltas: RowDelta[] = [];
    for (const d of befores.values()) {
      if (reset.has(d.model)) continue;
      const after = this.get(d.model, d.id);
      if (after === d.before) continue; // changed and changed back, or recomputed to the same row
      d.after = after;
      deltas.push(d);
      models.add(d.model);
    }
    if (models.size === 0) return;
    const flush: StoreFlush = { deltas, reset };
    for (const l of this.flushListeners) l(flush);
    for (const l of this.listeners) l(models);
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
    for (const m of this.models) this.markReset(m);
  }

  /**
   * Apply confirmed changes in sync-id order. `groups`: the client's subscriptions.
   * A change made by one of our pending commits (same clientTxId) retires
   * that commit from the row: the confirmed row now holds its effect.
   */
  applyChanges(changes: Change[], groups: { has(group: string): boolean }): void {
    for (const c of changes) {
      if (c.syncId > this.lastSyncId) this.lastSyncId = c.syncId;
      const rows = this.confirmed.get(c.model);
      if (!rows) continue; // a model this client's schema does not know
      const current = rows.get(c.id);
      if (current && current.syncId >= c.syncId) continue; // already newer (bootstrap overlap)
      const k = key(c.model, c.id);
      this.noteBefore(c.model, c.id, k);
      let stillOurs = false;
      for (const g of c.groups) {
        if (groups.has(g)) {
          stillOurs = true;
          break;
        }
      }
      if (c.action === 'delete' || !c.data || !stillOurs) rows.delete(c.id);
      else rows.set(c.id, c.data);
      if (this.pendingByRow.size === 0) continue;
      const list = this.pendingByRow.get(k);
      if (!list) continue;
      if (c.clientTxId !== null) {
        const i = list.findIndex((p) => p.clientTxId === c.clientTxId);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.pendingByRow.delete(k);
      }
      this.recomputeRow(c.model, c.id);
    }
  }

  /**
   * Rows of groups added on a live connection (`set_groups`): merged into the
   * confirmed state (a row already here and as new or newer is kept), with the
   * pending writes on them replayed.
   */
  mergeRows(model: string, rows: RowData[]): void {
    const confirmed = this.confirmed.get(model);
    if (!confirmed) return;
    for (const r of rows) {
      const current = confirmed.get(r.id);
      if (current && current.syncId >= r.syncId) continue;
      const k = key(model, r.id);
      this.noteBefore(model, r.id, k);
      confirmed.set(r.id, r);
      if (this.pendingByRow.has(k)) this.recomputeRow(model, r.id);
    }
  }

  /**
   * Drop the confirmed rows `keep` refuses (rows only in groups this client no
   * longer receives). Pending writes stay, replayed over what remains. Returns
   * the rows dropped.
   */
  dropRows(keep: (model: string, row: RowData) => boolean): Array<{ model: string; id: string }> {
    const dropped: Array<{ model: string; id: string }> = [];
    for (const [model, rows] of this.confirmed) {
      for (const [id, row] of rows) {
        if (keep(model, row)) continue;
        const k = key(model, id);
        this.noteBefore(model, id, k);
        rows.delete(id);
        dropped.push({ model, id });
        if (this.pendingByRow.has(k)) this.recomputeRow(model, id);
      }
    }
    return dropped;
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
    const seen = new Set<string>();
    commit.operations.forEach((op, n) => {
      const id = commit.ids[n]!;
      const k = key(op.model, id);
      if (seen.has(k)) return;
      seen.add(k);
      const list = this.pendingByRow.get(k);
      // Not listed: the commit's own change already retired it from this row.
      if (!list) return;
      // Receipts usually arrive in order, so the commit is almost always first.
      const i = list[0] === commit ? 0 : list.indexOf(commit);
      if (i < 0) return;
      list.splice(i, 1);
      if (list.length === 0) this.pendingByRow.delete(k);
      this.recomputeRow(op.model, id);
    });
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
    if (notify) this.noteBefore(model, id);
    const commits = this.pendingByRow.get(key(model, id));
    if (!commits || commits.length === 0) {
      overlay.delete(id);
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
  }
}

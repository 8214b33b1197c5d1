/**
 * Live queries: the result of a `getAll` kept current from the store's row
 * deltas instead of a scan and sort per change.
 *
 * A `LiveCore` holds every matching row, sorted by the query's order (ties by
 * id, exactly as `runQuery`), and a map id → (row, its last index). A delta
 * costs a filter check and, when the row moves, a binary search and a splice;
 * an update that leaves the ordered fields alone replaces the row where it
 * stands (found by its index, no search). The visible result is the first
 * `limit` rows of the sorted list, so a delete inside the window refills it
 * from the rows behind. The result array is frozen and replaced only when it
 * changed, so readers can compare by identity.
 *
 * The `LiveRegistry` shares one core per (model, checked query) among
 * `live()` handles and `subscribe` selectors (ref-counted), and routes each
 * delta only to the cores of its model, through an index on one equality
 * field of each core's `where`.
 */
import { canonicalJson } from '../protocol/json.js';
import type { OrderBy } from '../protocol/listQuery.js';
import { deepEqual, notePublished } from './equal.js';
import { compareRows, matches } from './query.js';
import type { LocalStore, RowData, RowDelta, StoreFlush } from './store.js';

export interface LiveChange<Row = RowData> {
  /** `added`: entered the result; `updated`: still in it, a new row value; `removed`: left it. */
  kind: 'added' | 'updated' | 'removed';
  id: string;
  /** The row now (added, updated). */
  row?: Row;
  /** The row before (updated, removed). */
  previous?: Row;
}

export type LiveListener<Row = RowData> = (rows: readonly Row[], changes: ReadonlyArray<LiveChange<Row>>) => void;

/** A checked local query: what `getAll` and `live` evaluate. */
export interface LocalQuery {
  where?: Record<string, unknown>;
  orderBy?: OrderBy[];
  /** Absent: every match. */
  limit?: number;
}

const EMPTY: readonly RowData[] = Object.freeze([]);

/** A row of a live query and where it was last placed in the sorted list. */
interface Member {
  row: RowData;
  index: number;
}

/** The key shared by equal queries of one model. */
export function liveKey(model: string, q: LocalQuery): string {
  return canonicalJson([model, q.where ?? {}, q.orderBy ?? [], q.limit ?? null]);
}

/** The key of a query's filter alone (counts do not depend on order or limit). */
export function whereKey(model: string, where: Record<string, unknown> | undefined): string {
  return canonicalJson([model, where ?? {}]);
}

function report(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

export class LiveCore {
  readonly where: Record<string, unknown> | null;
  private readonly compare: (a: RowData, b: RowData) => number;
  private readonly limit: number | undefined;
  /** Every matching row, in order. */
  private sorted: RowData[] = [];
  /**
   * id → the member row and its index in `sorted` when last placed (right
   * until a splice shifts it; then a binary search finds it). One map, one
   * lookup per delta, the entry updated in place.
   */
  private readonly byId = new Map<string, Member>();
  /** The fields the order depends on before the id: a row whose values there did not change keeps its place. */
  private readonly orderFields: readonly string[];
  private window: readonly RowData[] = EMPTY;
  /** How many results this core has published. */
  private seq = 0;
  /** Changes of the flush being applied (no limit), or whether the window may have moved (limit). */
  private changes: LiveChange[] = [];
  private windowTouched = false;
  readonly listeners = new Set<LiveListener>();
  /** Holders: live() handles and subscriptions. */
  refs = 0;
  /** The flush this core was last handed a delta in (so a delta reaching it twice applies once). */
  stamp = 0;

  constructor(
    readonly model: string,
    readonly key: string,
    readonly filterKey: string,
    query: LocalQuery,
    rows: Iterable<RowData>,
  ) {
    this.where = query.where && Object.keys(query.where).length > 0 ? query.where : null;
    this.compare = compareRows(query.orderBy ?? []);
    this.orderFields = (query.orderBy ?? []).map((o) => o.field);
    this.limit = query.limit;
    this.rebuild(rows);
  }

  /** The current result: frozen, the same array until the result changes. */
  get rows(): readonly RowData[] {
    return this.window;
  }

  /** How many rows match (the full list, not the window). */
  get size(): number {
    return this.sorted.length;
  }

  /** Recompute from scratch (a bootstrap swap); returns the changes to the visible result. */
  rebuild(rows: Iterable<RowData>): LiveChange[] {
    const sorted: RowData[] = [];
    for (const r of rows) if (this.where === null || matches(r, this.where)) sorted.push(r);
    this.sorted = sorted.sort(this.compare);
    this.byId.clear();
    for (let i = 0; i < this.sorted.length; i++) {
      const r = this.sorted[i]!;
      this.byId.set(r.id, { row: r, index: i });
    }
    const next = this.visible();
    const changes = diff(this.window, next);
    if (changes.length > 0 || this.window === EMPTY) this.publish(next, changes);
    this.changes = [];
    this.windowTouched = false;
    return changes;
  }

  private visible(): RowData[] {
    return this.limit !== undefined && this.sorted.length > this.limit ? this.sorted.slice(0, this.limit) : this.sorted.slice();
  }

  /** Apply one row's delta. The result is published by `finish()`. */
  apply(id: string, after: RowData | undefined): void {
    const member = this.byId.get(id);
    const old = member?.row;
    const isIn = after !== undefined && (this.where === null || matches(after, this.where));
    if (old === undefined && !isIn) return;
    if (old === after) return; // a core built mid-tick already holds this row
    let oldIndex = -1;
    let newIndex = -1;
    if (member !== undefined) oldIndex = this.indexOf(member);
    if (isIn) {
      if (oldIndex >= 0 && (this.sameOrderKey(old!, after) || this.fitsAt(oldIndex, after))) {
        this.sorted[oldIndex] = after;
        newIndex = oldIndex;
      } else {
        if (oldIndex >= 0) this.sorted.splice(oldIndex, 1);
        newIndex = this.insertionPoint(after);
        this.sorted.splice(newIndex, 0, after);
      }
      if (member !== undefined) {
        member.row = after;
        member.index = newIndex;
      } else this.byId.set(id, { row: after, index: newIndex });
    } else {
      this.sorted.splice(oldIndex, 1);
      this.byId.delete(id);
    }
    if (this.limit === undefined) {
      if (old === undefined) this.changes.push({ kind: 'added', id, row: after! });
      else if (isIn) this.changes.push({ kind: 'updated', id, row: after!, previous: old });
      else this.changes.push({ kind: 'removed', id, previous: old });
    } else if ((oldIndex >= 0 && oldIndex < this.limit) || (newIndex >= 0 && newIndex < this.limit)) {
      this.windowTouched = true;
    }
  }

  /** After a flush's deltas: the new result and its changes, or null when the result did not change. */
  finish(): { rows: readonly RowData[]; changes: LiveChange[] } | null {
    let changes: LiveChange[];
    if (this.limit === undefined) {
      changes = this.changes;
      this.changes = [];
      if (changes.length === 0) return null;
      this.publish(this.sorted.slice(), changes);
    } else {
      if (!this.windowTouched) return null;
      this.windowTouched = false;
      const next = this.visible();
      changes = diff(this.window, next);
      if (changes.length === 0) return null;
      this.publish(next, changes);
    }
    return { rows: this.window, changes };
  }

  /** Replace the result; a comparison of the new array with the old one is then one lookup. */
  private publish(next: RowData[], changes: LiveChange[]): void {
    this.window = Object.freeze(next);
    // Structurally equal only when every change rewrote a row to an equal value (no row came or went);
    // worked out only if a comparison asks (most results are never compared).
    notePublished(this, ++this.seq, this.window, () => changes.every((c) => c.kind === 'updated' && deepEqual(c.row, c.previous)));
  }

  notify(rows: readonly RowData[], changes: LiveChange[]): void {
    for (const l of [...this.listeners]) {
      try {
        l(rows, changes);
      } catch (err) {
        report(err);
      }
    }
  }

  /** Position of a member row: its hint if still right, else a binary search (the order is total), a scan if a row object was mutated in place. */
  private indexOf(member: Member): number {
    const row = member.row;
    if (this.sorted[member.index] === row) return member.index;
    const i = this.insertionPoint(row);
    if (this.sorted[i] === row) return i;
    return this.sorted.indexOf(row);
  }

  /** First position whose row does not sort before `row`. */
  private insertionPoint(row: RowData): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(this.sorted[mid]!, row) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Same id and the same values in every ordered field: `after` sorts exactly where `before` does. */
  private sameOrderKey(before: RowData, after: RowData): boolean {
    for (const f of this.orderFields) if (!Object.is(before[f] ?? null, after[f] ?? null)) return false;
    return true;
  }

  /** `row` can replace the row at `i` without moving. */
  private fitsAt(i: number, row: RowData): boolean {
    const prev = this.sorted[i - 1];
    const next = this.sorted[i + 1];
    return (prev === undefined || this.compare(prev, row) < 0) && (next === undefined || this.compare(row, next) < 0);
  }
}

/** Changes from one result to the next: removals in the old order, then additions and updates in the new. */
function diff(before: readonly RowData[], after: readonly RowData[]): LiveChange[] {
  const out: LiveChange[] = [];
  const old = new Map<string, RowData>();
  for (const r of before) old.set(r.id, r);
  const now = new Set<string>();
  for (const r of after) now.add(r.id);
  for (const r of before) if (!now.has(r.id)) out.push({ kind: 'removed', id: r.id, previous: r });
  for (const r of after) {
    const prev = old.get(r.id);
    if (prev === undefined) out.push({ kind: 'added', id: r.id, row: r });
    else if (prev !== r) out.push({ kind: 'updated', id: r.id, row: r, previous: prev });
  }
  return out;
}

/** The cores of one model, indexed by one equality field of their `where`. */
class ModelCores {
  /** field → value → cores whose where requires field ∈ values. */
  readonly indexed = new Map<string, Map<unknown, Set<LiveCore>>>();
  /** Cores without a where: every delta of the model reaches them. */
  readonly unindexed = new Set<LiveCore>();
  readonly all = new Set<LiveCore>();

  add(core: LiveCore): void {
    this.all.add(core);
    const field = core.where ? Object.keys(core.where)[0]! : null;
    if (field === null) {
      this.unindexed.add(core);
      return;
    }
    const want = core.where![field];
    let byValue = this.indexed.get(field);
    if (!byValue) this.indexed.set(field, (byValue = new Map()));
    for (const v of Array.isArray(want) ? want : [want]) {
      let set = byValue.get(v);
      if (!set) byValue.set(v, (set = new Set()));
      set.add(core);
    }
  }

  remove(core: LiveCore): void {
    this.all.delete(core);
    this.unindexed.delete(core);
    for (const [field, byValue] of this.indexed) {
      for (const [v, set] of byValue) if (set.delete(core) && set.size === 0) byValue.delete(v);
      if (byValue.size === 0) this.indexed.delete(field);
    }
  }

  /** Every core `delta` can concern: its row matched (before) or matches (after) the core's indexed field. */
  route(delta: RowDelta, stamp: number, touched: LiveCore[]): void {
    const hand = (core: LiveCore): void => {
      if (core.stamp !== stamp) {
        core.stamp = stamp;
        touched.push(core);
      }
      core.apply(delta.id, delta.after);
    };
    for (const core of this.unindexed) hand(core);
    for (const [field, byValue] of this.indexed) {
      const b = delta.before === undefined ? undefined : (delta.before[field] ?? null);
      const a = delta.after === undefined ? undefined : (delta.after[field] ?? null);
      if (b !== undefined) for (const core of byValue.get(b) ?? []) hand(core);
      // A core whose IN list holds both values gets the delta twice: apply() is idempotent.
      if (a !== undefined && a !== b) for (const core of byValue.get(a) ?? []) hand(core);
    }
  }
}

/** The read set of one subscription: the cores its selector used in its last run. */
export class ReadTracker {
  private held = new Map<string, LiveCore>();
  private used: Set<string> | null = null;

  constructor(private readonly registry: LiveRegistry) {}

  /** Run `fn` (a selector), keeping the cores it reads alive and releasing the ones it stopped reading. */
  run<R>(fn: () => R): R {
    const outer = this.registry.tracker;
    this.registry.tracker = this;
    const used = new Set<string>();
    this.used = used;
    try {
      return fn();
    } finally {
      this.registry.tracker = outer;
      this.used = null;
      for (const [key, core] of this.held) {
        if (!used.has(key)) {
          this.held.delete(key);
          this.registry.release(core);
        }
      }
    }
  }

  /** The core for `key`, held by this subscription from now on. */
  use(key: string, create: () => LiveCore): LiveCore {
    this.used?.add(key);
    const held = this.held.get(key);
    if (held) return held;
    const core = this.registry.acquire(key, create);
    this.held.set(key, core);
    return core;
  }

  releaseAll(): void {
    for (const core of this.held.values()) this.registry.release(core);
    this.held.clear();
  }
}

export class LiveRegistry {
  private readonly cores = new Map<string, LiveCore>();
  private readonly byFilter = new Map<string, Set<LiveCore>>();
  private readonly models = new Map<string, ModelCores>();
  private stamp = 0;
  /** The subscription whose selector is running, if any. */
  tracker: ReadTracker | null = null;

  constructor(private readonly store: LocalStore) {
    store.onFlush((flush) => this.onFlush(flush));
  }

  /** The shared core for `key` (made by `create` when there is none), one more holder. */
  acquire(key: string, create: () => LiveCore): LiveCore {
    let core = this.cores.get(key);
    if (!core) {
      core = create();
      this.cores.set(key, core);
      let set = this.byFilter.get(core.filterKey);
      if (!set) this.byFilter.set(core.filterKey, (set = new Set()));
      set.add(core);
      let m = this.models.get(core.model);
      if (!m) this.models.set(core.model, (m = new ModelCores()));
      m.add(core);
    }
    core.refs++;
    return core;
  }

  release(core: LiveCore): void {
    if (--core.refs > 0) return;
    if (this.cores.get(core.key) !== core) return;
    this.cores.delete(core.key);
    const set = this.byFilter.get(core.filterKey);
    set?.delete(core);
    if (set?.size === 0) this.byFilter.delete(core.filterKey);
    this.models.get(core.model)?.remove(core);
    core.listeners.clear();
  }

  /** A core for `key` that is current (no unflushed change of its model), if one is alive. */
  current(model: string, key: string): LiveCore | undefined {
    const core = this.cores.get(key);
    return core && !this.store.hasUnflushed(model) ? core : undefined;
  }

  /** The match count of a live core with this filter, if one is alive and current. */
  count(model: string, filterKey: string): number | undefined {
    if (this.store.hasUnflushed(model)) return undefined;
    for (const core of this.byFilter.get(filterKey) ?? []) return core.size;
    return undefined;
  }

  private onFlush(flush: StoreFlush): void {
    if (this.cores.size === 0) return;
    const stamp = ++this.stamp;
    const touched: LiveCore[] = [];
    for (const d of flush.deltas) this.models.get(d.model)?.route(d, stamp, touched);
    const results: Array<[LiveCore, readonly RowData[], LiveChange[]]> = [];
    for (const core of touched) {
      const r = core.finish();
      if (r) results.push([core, r.rows, r.changes]);
    }
    for (const model of flush.reset) {
      for (const core of this.models.get(model)?.all ?? []) {
        const changes = core.rebuild(this.store.rows(model));
        if (changes.length > 0) results.push([core, core.rows, changes]);
      }
    }
    // Every core is current before any listener runs (a listener may read other queries).
    for (const [core, rows, changes] of results) core.notify(rows, changes);
  }
}

/** What `ablo.<model>.live()` returns: a holder of one shared core. */
export class LiveQueryHandle {
  private readonly own = new Set<LiveListener>();
  private disposed = false;
  private last: readonly RowData[];

  constructor(
    private readonly registry: LiveRegistry,
    private readonly core: LiveCore,
  ) {
    this.last = core.rows;
  }

  get rows(): readonly RowData[] {
    if (!this.disposed) this.last = this.core.rows;
    return this.last;
  }

  subscribe(listener: LiveListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('live().subscribe(listener): listener must be a function.');
    if (this.disposed) return () => {};
    // Each subscription is its own entry, so the same function can be added twice and removed once.
    const entry: LiveListener = (rows, changes) => listener(rows, changes);
    this.own.add(entry);
    this.core.listeners.add(entry);
    return () => {
      this.own.delete(entry);
      this.core.listeners.delete(entry);
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.last = this.core.rows;
    this.disposed = true;
    for (const l of this.own) this.core.listeners.delete(l);
    this.own.clear();
    this.registry.release(this.core);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Undo and redo of this client's own writes, one pair of stacks per scope.
 *
 * An entry is a change this client made to one row (create, update or delete)
 * with the values before and after it. Undo commits the inverse, redo the change
 * again, each guarded by the engine's stale check: `readAt` is the sync id of
 * the last change this client knows it made to the row, with `onStale:
 * 'notify'`, so a field someone else changed since is held (and listed as a
 * conflict), never overwritten.
 *
 * Why the readAt moves: the engine's stale check does not know whose change
 * moved a row. Edit a title twice and undo twice, and the second undo would be
 * held by this client's own first undo. So each entry follows the change stream
 * of its row: a change this client made (its transaction is in the outbox) moves
 * the entry's readAt up to it, unless a change by someone else to the entry's
 * fields came first — then the entry keeps its readAt and the engine holds it.
 * Changes seen while the entry's own write is in flight are kept and replayed
 * once its receipt says which sync id it got (others' changes can overtake a
 * receipt). After a fresh bootstrap (the changes in between are unknown) no
 * entry moves any more.
 */
import { AbloError, AbloValidationError } from '../errors.js';
import type { Change, CommitReceipt, Operation, ReadDependency, StaleNotification } from '../protocol/commit.js';
import type { CompiledSchema } from '../schema/compile.js';
import type { RowData } from './store.js';
import type { UndoOutcome, UndoState } from './types.js';

export const DEFAULT_UNDO_SCOPE = 'default';
export const DEFAULT_UNDO_LIMIT = 100;
/** How many confirmed transaction ids are remembered as this client's own (see `recentOwn`). */
const RECENT_OWN = 1000;

/** One change of one row this client made, as the stacks keep it. */
interface Entry {
  model: string;
  id: string;
  /** What the recorded write did; undo does the opposite, redo does it again. */
  action: 'create' | 'update' | 'delete';
  /** The row's values before the change (update: the written fields only; create: null). */
  before: Record<string, unknown> | null;
  /** The row's values after it (update: the written fields; delete: null). */
  after: Record<string, unknown> | null;
  /** The fields the guard watches: the written fields, or null for every field (create, delete). */
  fields: readonly string[] | null;
  /** Sync id of the last change this client knows it made to the row. */
  readAt: number;
  /** Someone else changed a watched field after readAt: readAt stays, so the engine holds the inverse. */
  tainted: boolean;
  /** Set while this entry's write (the recorded one, or its undo/redo) waits for its receipt. */
  seen: ChangeMeta[] | null;
  clientTxId: string;
}

interface ChangeMeta {
  syncId: number;
  own: boolean;
  action: Change['action'];
  fields: readonly string[];
}

interface Stacks {
  undo: Entry[];
  redo: Entry[];
  /** Recorded writes still waiting for their receipt: undo/redo wait for them first. */
  pending: Set<Promise<unknown>>;
}

export interface UndoHost {
  schema: CompiledSchema;
  /** The row from the local pool (with this client's pending writes). */
  get(model: string, id: string): RowData | undefined;
  /** Queue a commit as any write (optimistic, sent when connected). */
  submit(operations: Operation[], options: { reads?: ReadDependency[]; label?: string }): { clientTxId: string; confirmed: Promise<CommitReceipt> };
  /** Whether a change with this client transaction id was made by this client. */
  ownTx(clientTxId: string): boolean;
  /** The undo state changed: re-run subscriptions. */
  changed(): void;
}

/** What a model client's write tells the manager, before it is sent. */
export interface RecordedWrite {
  action: Entry['action'];
  model: string;
  id: string;
  /** The row in the local pool before the write (undefined: not there). */
  previous: RowData | undefined;
  /** The fields the write set (update), or the created row's fields (create). */
  data: Record<string, unknown> | null;
}

/** A write's `undoScope` option, or undo()/redo()'s scope: a non-empty string (or false / undefined for a write). */
export function checkUndoScope(scope: unknown, allowFalse = true): string | false | undefined {
  if (scope === undefined || (allowFalse && scope === false)) return scope;
  if (typeof scope === 'string' && scope.length > 0 && scope.length <= 200) return scope;
  throw new AbloValidationError(
    `undoScope must be a non-empty string of at most 200 characters${allowFalse ? ' or false' : ''} (got ${JSON.stringify(scope) ?? String(scope)}).`,
    { code: 'invalid_option', field: 'undoScope' },
  );
}

function key(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

/** An undo/redo refusal that retrying cannot fix: the entry is dropped. */
function permanent(err: unknown): boolean {
  return err instanceof AbloError && (err.type === 'validation_error' || err.type === 'not_found' || err.type === 'permission_error');
}

export class UndoManager {
  private readonly scopes = new Map<string, Stacks>();
  /** Every entry on a stack, in flight or pending, by row: the change stream moves their readAt. */
  private readonly byRow = new Map<string, Set<Entry>>();
  /** undo()/redo() calls run one after another. */
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Client transaction ids of this client's latest confirmed commits: where the engine's change feed is slower
   * than the receipt (several engines on Postgres), a change can arrive after its commit left the outbox.
   */
  private readonly recentOwn = new Set<string>();

  constructor(
    private readonly host: UndoHost,
    private readonly limit: number = DEFAULT_UNDO_LIMIT,
  ) {}

  // ---- recording ---------------------------------------------------------------

  /**
   * A model client's write: recorded in `scope` once its receipt says it applied (held or refused: not
   * recorded). `scope === false`: not recorded.
   */
  record(scope: string | false | undefined, write: RecordedWrite, clientTxId: string, confirmed: Promise<CommitReceipt>): void {
    if (scope === false) return;
    const name = scope ?? DEFAULT_UNDO_SCOPE;
    const entry = this.entryFor(write, clientTxId);
    if (!entry) return;
    const stacks = this.stacks(name);
    // The same idempotency key twice while in flight shares one write: record it once.
    for (const e of this.byRow.get(key(entry.model, entry.id)) ?? []) if (e.clientTxId === clientTxId) return;
    this.track(entry);
    const done = confirmed.then(
      (receipt) => {
        const syncId = appliedSyncId(receipt, entry.model, entry.id);
        if (syncId === undefined) {
          this.untrack(entry);
          return;
        }
        this.settle(entry, syncId);
        stacks.undo.push(entry);
        if (stacks.undo.length > this.limit) this.untrack(stacks.undo.shift()!);
        for (const e of stacks.redo.splice(0)) this.untrack(e);
        this.host.changed();
      },
      () => this.untrack(entry),
    );
    stacks.pending.add(done);
    void done.finally(() => stacks.pending.delete(done));
  }

  private entryFor(write: RecordedWrite, clientTxId: string): Entry | null {
    const model = this.host.schema.model(write.model);
    const base = { model: write.model, id: write.id, readAt: 0, tainted: false, seen: [], clientTxId };
    if (write.action === 'create') {
      return { ...base, action: 'create', before: null, after: { ...write.data }, fields: null };
    }
    // Without the row in the local pool (outside this client's groups) the values to go back to are unknown.
    if (!write.previous) return null;
    if (write.action === 'delete') {
      return { ...base, action: 'delete', before: rowFields(write.previous, model.fieldNames), after: null, fields: null };
    }
    const fields = Object.keys(write.data ?? {}).filter((f) => write.data![f] !== undefined);
    if (fields.length === 0) return null;
    return { ...base, action: 'update', before: rowFields(write.previous, fields), after: rowFields(write.data!, fields), fields };
  }

  // ---- the change stream ---------------------------------------------------------

  /** A receipt for one of this client's commits arrived. */
  noteConfirmed(clientTxId: string): void {
    this.recentOwn.add(clientTxId);
    if (this.recentOwn.size > RECENT_OWN) this.recentOwn.delete(this.recentOwn.values().next().value!);
  }

  /** Changes applied to the local pool, in sync-id order. */
  onChanges(changes: readonly Change[]): void {
    if (this.byRow.size === 0) return;
    for (const c of changes) {
      const entries = this.byRow.get(key(c.model, c.id));
      if (!entries) continue;
      const meta: ChangeMeta = { syncId: c.syncId, own: c.clientTxId !== null && (this.host.ownTx(c.clientTxId) || this.recentOwn.has(c.clientTxId)), action: c.action, fields: c.fields };
      for (const e of entries) {
        if (e.seen) e.seen.push(meta);
        else follow(e, meta);
      }
    }
  }

  /** A fresh bootstrap replaced the pool: the changes in between are unknown, so no entry's readAt moves again. */
  onResync(): void {
    for (const entries of this.byRow.values()) for (const e of entries) e.tainted = true;
  }

  // ---- undo / redo ---------------------------------------------------------------

  undo(scope?: string): Promise<UndoOutcome> {
    return this.serial(() => this.step((checkUndoScope(scope, false) as string | undefined) ?? DEFAULT_UNDO_SCOPE, 'undo'));
  }

  redo(scope?: string): Promise<UndoOutcome> {
    return this.serial(() => this.step((checkUndoScope(scope, false) as string | undefined) ?? DEFAULT_UNDO_SCOPE, 'redo'));
  }

  state(scope: string = DEFAULT_UNDO_SCOPE): UndoState {
    const s = this.scopes.get(scope);
    const undoDepth = s?.undo.length ?? 0;
    const redoDepth = s?.redo.length ?? 0;
    return { canUndo: undoDepth > 0, canRedo: redoDepth > 0, undoDepth, redoDepth };
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run);
    this.queue = next.catch(() => {});
    return next;
  }

  private async step(scope: string, direction: 'undo' | 'redo'): Promise<UndoOutcome> {
    const stacks = this.stacks(scope);
    // A write made just before (e.g. with wait: 'queued') is undone, not the one before it.
    while (stacks.pending.size > 0) await Promise.allSettled([...stacks.pending]);
    const from = direction === 'undo' ? stacks.undo : stacks.redo;
    const to = direction === 'undo' ? stacks.redo : stacks.undo;
    const entry = from.pop();
    if (!entry) return { status: 'empty' };
    this.host.changed();
    const { operation, reads, refresh } = this.plan(entry, direction);
    entry.seen = [];
    let receipt: CommitReceipt;
    try {
      const sent = this.host.submit([operation], { ...(reads ? { reads } : {}), label: direction });
      receipt = await sent.confirmed;
    } catch (err) {
      entry.seen = null;
      if (err instanceof AbloError && err.type === 'claimed') {
        from.push(entry);
        this.host.changed();
        const holder = (err as AbloError & { holder?: unknown }).holder ?? err.details.holder ?? null;
        return { status: 'claimed', model: entry.model, id: entry.id, holder: holder as Extract<UndoOutcome, { status: 'claimed' }>['holder'] };
      }
      if (permanent(err)) this.untrack(entry);
      else from.push(entry);
      this.host.changed();
      throw err;
    }
    const syncId = appliedSyncId(receipt, entry.model, entry.id);
    if (syncId === undefined) {
      // Someone changed the row since: nothing was written; the conflict is listed (ablo.conflicts).
      this.untrack(entry);
      this.host.changed();
      const notifications: StaleNotification[] = receipt.notifications ?? [];
      return { status: 'held', notifications };
    }
    refresh();
    this.settle(entry, syncId);
    to.push(entry);
    if (to.length > this.limit) this.untrack(to.shift()!);
    this.host.changed();
    return { status: 'applied', receipt };
  }

  /**
   * The operation that undoes (or redoes) `entry`, its guard, and what to note from the local pool first:
   * the values of a row about to be deleted, so the step back can re-create it as it was.
   */
  private plan(entry: Entry, direction: 'undo' | 'redo'): { operation: Operation; reads?: ReadDependency[]; refresh: () => void } {
    const { model, id, readAt } = entry;
    const action = direction === 'redo' ? entry.action : entry.action === 'create' ? 'delete' : entry.action === 'delete' ? 'create' : 'update';
    const fieldNames = this.host.schema.model(model).fieldNames;
    if (action === 'update') {
      const data = direction === 'undo' ? entry.before! : entry.after!;
      return { operation: { op: 'update', model, id, data: { ...data }, readAt, onStale: 'notify' }, refresh: () => {} };
    }
    if (action === 'delete') {
      // The row as it is now is what a later step re-creates (it may have changed since the create, by this client).
      const current = this.host.get(model, id);
      const noted = current ? rowFields(current, fieldNames) : null;
      const refresh = () => {
        if (!noted) return;
        if (entry.action === 'create') entry.after = noted;
        else entry.before = noted;
      };
      return { operation: { op: 'delete', model, id, readAt, onStale: 'notify' }, refresh };
    }
    // Re-create with the same id. A create has no readAt of its own: a read dependency on the row holds it
    // when anything happened to the row since (someone re-created it, say).
    const values = (entry.action === 'delete' ? entry.before : entry.after) ?? {};
    return {
      operation: { op: 'create', model, id, data: createData(this.host.schema, model, values) },
      reads: [{ model, id, readAt, onStale: 'notify' }],
      refresh: () => {},
    };
  }

  // ---- bookkeeping ---------------------------------------------------------------

  private stacks(scope: string): Stacks {
    let s = this.scopes.get(scope);
    if (!s) {
      s = { undo: [], redo: [], pending: new Set() };
      this.scopes.set(scope, s);
    }
    return s;
  }

  /** The write (recorded, undo or redo) that made `entry` current applied at `syncId`: changes seen meanwhile count from there. */
  private settle(entry: Entry, syncId: number): void {
    entry.readAt = syncId;
    entry.tainted = false;
    const seen = entry.seen ?? [];
    entry.seen = null;
    for (const meta of seen) follow(entry, meta);
  }

  private track(entry: Entry): void {
    const k = key(entry.model, entry.id);
    const set = this.byRow.get(k) ?? new Set();
    set.add(entry);
    this.byRow.set(k, set);
  }

  private untrack(entry: Entry): void {
    const k = key(entry.model, entry.id);
    const set = this.byRow.get(k);
    if (!set) return;
    set.delete(entry);
    if (set.size === 0) this.byRow.delete(k);
  }
}

/** Move `entry`'s readAt past a change this client made; stop moving it once someone else changed a watched field. */
function follow(entry: Entry, change: ChangeMeta): void {
  if (change.syncId <= entry.readAt || entry.tainted) return;
  if (change.own) {
    entry.readAt = change.syncId;
    return;
  }
  const touched = change.action === 'update' ? change.fields : null;
  const watched = entry.fields;
  if (touched === null || watched === null || touched.some((f) => watched.includes(f))) entry.tainted = true;
}

/** The sync id the change to model/id got, when the receipt says it applied. */
function appliedSyncId(receipt: CommitReceipt, model: string, id: string): number | undefined {
  const result = receipt.results.find((r) => r.model === model && r.id === id);
  return result?.status === 'applied' ? result.syncId : undefined;
}

function rowFields(row: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f] = row[f] ?? null;
  return out;
}

/**
 * A stored row's values as create data: a stored null of an optional field that is not nullable is left out
 * (create does not take null for it; left out, it is stored as null again).
 */
function createData(schema: CompiledSchema, modelName: string, values: Record<string, unknown>): Record<string, unknown> {
  const model = schema.model(modelName);
  const out: Record<string, unknown> = {};
  for (const f of model.fieldNames) {
    if (!(f in values)) continue;
    const v = values[f];
    if (v === null && !model.fields[f]!.nullable) continue;
    out[f] = v;
  }
  return out;
}

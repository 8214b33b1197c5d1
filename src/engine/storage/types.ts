/**
 * The storage contract. The commit path, the HTTP API and the sync server
 * talk only to this; SQLite (embedded) and Postgres (shared, several engine
 * processes) implement it.
 *
 * Ports the write path uses (see docs/engine.md, "The commit path"):
 * - `CommitReadPort`: what `planCommit` reads, inside the commit's transaction;
 * - `RowSink`: applies planned changes in that transaction and allocates
 *   their sync ids there (never from a counter kept outside the database);
 * - `ChangeFeed` (`storage.feed`): the change log read, and the one place that
 *   announces changes once they are durable.
 *
 * Concurrency: the engine runs at most one `transaction()` at a time per
 * process. Reads outside a transaction must not see uncommitted writes.
 */
import type { SerializedSchema } from '../../schema/descriptor.js';
import type { SchemaPlan, SchemaStats } from '../../schema/plan.js';
import type { Change, CommitReceipt, ParticipantRef } from '../../protocol/commit.js';
import type { ListQuery } from '../../protocol/listQuery.js';
import type { Operation } from '../../protocol/operations.js';

/** A row as stored and returned: its fields plus the system fields. Values are decoded (booleans, JSON). */
export interface StoredRow {
  id: string;
  createdAt: string;
  updatedAt: string;
  syncId: number;
  [field: string]: unknown;
}

export type { ListQuery, OrderBy } from '../../protocol/listQuery.js';

/**
 * One page of a group's rows as JSON text (`Storage.scanGroupRowsJson`):
 * what bootstrap frames carry, encoded by the storage without making row
 * objects.
 */
export interface EncodedRowPage {
  /**
   * The page's rows as JSON texts joined by commas (`{…},{…}`; empty when it
   * holds none), in id order, as UTF-8 bytes (what the socket sends: no
   * string is made of them on the way). Each row parses to the row
   * `scanGroupRows` returns (every field key; values decoded: booleans, JSON
   * values, null for absent); key order and number formatting may differ
   * from `JSON.stringify(row)`, the values may not.
   */
  json: Buffer;
  /** Rows in `json`. */
  rows: number;
  /** Id of the last row the page read (rows left out as skipped too): the next page's `afterId`; null when it read none. */
  lastId: string | null;
  /** True when the group holds no row after `lastId`. */
  done: boolean;
}

export interface ScanJsonOptions {
  /** Most rows read (skipped ones count). */
  limit: number;
  /** Most bytes of `json`, unless its first row alone is larger (then the page holds that row only). */
  maxBytes?: number;
  /** Rows also in one of these groups are read but left out of `json` (they went with an earlier group). */
  skipGroups?: readonly string[];
}

export interface ListResult {
  rows: StoredRow[];
  hasMore: boolean;
}

/** A change-log entry as stored. */
export interface ChangeRecord extends Change {
  commitId: string;
}

/**
 * Which change-log entries `Storage.changesWhere` reads (the audit filters of
 * `GET /v1/changes`); every condition given must hold.
 */
export interface ChangeFilter {
  /** Entries this participant wrote, or that were written on its behalf (`participant` or `onBehalfOf`). */
  participant?: ParticipantRef;
  /** Entries of this model (by its current name). */
  model?: string;
  /** Entries of rows with this id (of `model` when it is given, else of any model). */
  id?: string;
}

/** What the stale guard needs to know about later changes to a row. */
export interface RowChangeMeta {
  syncId: number;
  action: Change['action'];
  fields: string[];
  participant: ParticipantRef;
  /** Whom the writer acted for, when another participant (absent otherwise). */
  onBehalfOf?: ParticipantRef;
}

export interface IdempotencyRecord {
  requestHash: string;
  receipt: CommitReceipt;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** First characters of the key, for display (`sk_test_AbC1…`). */
  prefix: string;
  /** sha256 hex of the full key. */
  hash: string;
  createdAt: string;
  revokedAt: string | null;
  /** Who writes through this key when a request names nobody. */
  participant: ParticipantRef;
  /**
   * `secret` (`sk_…`: every group and operation) or `restricted` (`rk_…`: only
   * `groups` and `operations`). Keys made before restricted keys existed are secret.
   */
  kind: 'secret' | 'restricted';
  /** A restricted key's sync group patterns (exact, or a prefix ending in `*`); null for a secret key (every group). */
  groups: string[] | null;
  /** A restricted key's operations (`write` already expanded); null for a secret key (every operation). */
  operations: Operation[] | null;
}

export interface SchemaVersionRecord {
  version: number;
  serialized: SerializedSchema;
  appliedAt: string;
}

/** Counters of what sync reads cost, since the storage was opened. */
export interface StorageReadStats {
  /** Rows read by scans (bootstraps): `scanRows`, `scanGroupRows` and `scanGroupRowsJson` (skipped rows too). */
  rowsRead: number;
  /** Change-log entries read by `changesAfter` and `changesInGroups` (catch-ups, the changes feed). */
  changesRead: number;
}

/**
 * What `planCommit` reads, inside the transaction the commit is applied in
 * (so it sees earlier commits of the same group commit, and nothing can move
 * between the decision and the write).
 */
export interface CommitReadPort {
  getRow(model: string, id: string): Promise<StoredRow | null>;
  /** Changes to one row with syncId > afterSyncId, in order. */
  rowChangesAfter(model: string, id: string, afterSyncId: number): Promise<RowChangeMeta[]>;
  /** The first change after `afterSyncId` whose groups (or previous groups) include `group`, or null. */
  groupChangeAfter(group: string, afterSyncId: number): Promise<ChangeRecord | null>;
  getIdempotency(key: string): Promise<IdempotencyRecord | null>;
  /**
   * The change log's floor as this transaction sees it (see
   * `Storage.changeLogFloor`). The stale guard reads it AFTER the history it
   * checked (`rowChangesAfter`, `groupChangeAfter`): a prune that committed in
   * between then shows as a higher floor, never as a missing change.
   */
  changeLogFloor(): Promise<number>;
}

/**
 * A change `planCommit` decided to write: the change-log entry without its
 * sync id, plus what the row write needs. `data.syncId` is 0 until the sink
 * writes it (the sink sets it to the allocated id).
 */
export type PlannedChange = Omit<ChangeRecord, 'syncId' | 'action' | 'data'> &
  (
    | { action: 'create'; data: StoredRow }
    /** `patch`: the validated fields the op writes (`data` is the whole row after it). */
    | { action: 'update'; data: StoredRow; patch: Record<string, unknown> }
    | { action: 'delete'; data: null }
  );

/**
 * Applies planned changes inside the open transaction: the SQLite storage
 * today; a Data Source (webhook `commit`) or Postgres later.
 */
export interface RowSink {
  /**
   * Write `changes` in order: insert / update / delete each row, append its
   * change-log entry, keep the sync-group index. Each change gets the next
   * sync id, allocated here from the database inside this transaction
   * (consecutive, strictly increasing, gap-free across committed
   * transactions; undone with the savepoint that wrote it). Returns the
   * stored change records, in order.
   */
  write(changes: readonly PlannedChange[]): Promise<ChangeRecord[]>;
  /** Highest sync id as this transaction sees it (committed, or written by it). */
  headSyncId(): Promise<number>;
  putIdempotency(key: string, record: IdempotencyRecord): Promise<void>;
}

export interface StorageTx extends CommitReadPort, RowSink {
  // Single-row primitives (the writes `write` makes, one at a time), for tools and tests that seed data directly.
  insertRow(model: string, row: StoredRow): Promise<void>;
  /** Write `fields` (already validated) and the new updatedAt/syncId. */
  updateRow(model: string, id: string, fields: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): Promise<void>;
  deleteRow(model: string, id: string): Promise<void>;
  /** Allocate the next sync id (as `write` does): strictly increasing, gap-free across committed transactions. */
  nextSyncId(): Promise<number>;
  /** Append a change-log entry (announced on the feed once the transaction commits). */
  appendChange(change: ChangeRecord): Promise<void>;
  /**
   * Engine records (`_ablo_meta`) inside the transaction, for state that must
   * move with the writes: a Data Source's events cursor and its journal of
   * commits sent but not yet applied. Keys use the caller's own prefix.
   */
  getMeta(key: string): Promise<string | null>;
  putMeta(key: string, value: string): Promise<void>;
  deleteMeta(key: string): Promise<void>;
  /**
   * Run `fn` as a nested atomic unit: if it throws, every write it made
   * (rows, changes, idempotency, allocated sync ids) is undone and the error
   * is rethrown; the enclosing transaction goes on.
   */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Run `fn` as a unit without the cost of a savepoint, when failures are
   * rare: if it throws before writing anything, nothing needs undoing and the
   * error is rethrown (the transaction goes on); if it throws after writing,
   * its writes cannot be undone alone, so it throws `TransactionDoomed`: the
   * caller lets the whole transaction roll back and runs it again with
   * savepoints. A storage may hold a unit's writes back and send them later
   * (Postgres: all of them in one statement before COMMIT; the transaction's
   * reads see them meanwhile): a write that fails then makes the call that
   * sent it — `transaction()` itself at the COMMIT — throw `TransactionDoomed`.
   * Optional: a storage without it is used through `savepoint`.
   */
  unguarded?<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * A hint: the transaction is about to `getRow` these rows (the commits of a
   * batch, by the ids their operations name). A storage may read them all at
   * once and answer those `getRow` calls from what it read, exactly as a read
   * then would (its own writes in between included). Rows of unknown models
   * are skipped. Optional: a storage without it reads each row when asked.
   */
  prefetchRows?(rows: readonly RowRef[]): Promise<void>;
}

/** One row, by model and id. */
export interface RowRef {
  model: string;
  id: string;
}

/**
 * A unit run by `StorageTx.unguarded` failed after writing (`cause` is its
 * error): the transaction must roll back as a whole. Never reaches a client:
 * the commit batcher runs the batch again, each commit in a savepoint.
 */
export class TransactionDoomed extends Error {
  constructor(readonly reason: unknown) {
    super(`A unit of the transaction failed after writing (${reason instanceof Error ? reason.message : String(reason)}); the transaction must roll back.`);
    this.name = 'TransactionDoomed';
  }
}

/** The changes one storage transaction made durable, in sync-id order. */
export interface ChangeBatch {
  readonly changes: readonly ChangeRecord[];
  /** Sync id of the last change (the feed's head once announced). */
  readonly lastSyncId: number;
  /**
   * Set when the changes do not follow the feed's head: ids after
   * `gap.after` and before `changes[0].syncId` were never announced and never
   * will be (a subscriber that keeps per-client state should resync its
   * clients). Only a Postgres feed sets it: `'pruned'` when retention removed
   * them before this process read them, `'missing'` when the log still lacks
   * them after a poll (a bug: sync ids are gap-free). See postgres-feed.ts.
   */
  readonly gap?: FeedGap;
}

/** Sync ids a batch skipped (`ChangeBatch.gap`). */
export interface FeedGap {
  /** The feed's head before the batch (the last id announced). */
  readonly after: number;
  /** Why the ids in between were skipped. */
  readonly reason: 'pruned' | 'missing';
}

/**
 * The change log as a feed: reads after a sync id, and a live subscription
 * that is the ONE place a change is announced as durable. The sync server's
 * fanout, the claims and `engine.on('commit')` subscribe; the commit path
 * calls nobody.
 *
 * SQLite announces each transaction's changes right after its COMMIT, before
 * `transaction()` resolves (so a client gets a change before its receipt). A
 * Postgres storage shared by several processes would LISTEN on a channel that
 * every committing process NOTIFYs with its last sync id, read `after(head)`
 * and announce what it read, in order.
 */
export interface ChangeFeed {
  /** Highest sync id announced (durable); a sync watermark. */
  head(): number;
  /** Change-log entries with syncId > afterSyncId, in order, at most `limit`. */
  after(afterSyncId: number, limit: number): Promise<ChangeRecord[]>;
  /** `after` filtered to groups, within (afterSyncId, upToSyncId] (catch-up); see `Storage.changesInGroups`. */
  afterInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]>;
  /**
   * Call `listener` with every durable batch, in sync-id order, after it is
   * committed; returns the unsubscribe function. Listeners run synchronously,
   * one after another, in subscription order; one that throws does not stop
   * the others (and never undoes the commit).
   */
  subscribe(listener: (batch: ChangeBatch) => void): () => void;
}

/** What `Storage.prune` removes: what was written before these times. */
export interface PruneCutoff {
  /** Change-log entries whose `at` is before this time (ISO 8601) go, as a prefix of the log, with their group-index entries. */
  changesBefore: string;
  /** Idempotency records stored before this time (ISO 8601) go. */
  idempotencyBefore: string;
}

/** What one `Storage.prune` removed, and the floor after it. */
export interface PruneResult {
  /** Change-log entries deleted. */
  changes: number;
  /** Idempotency records deleted. */
  idempotency: number;
  /** `changeLogFloor()` after the prune. */
  floor: number;
}

/**
 * True when the change log still holds every entry after `syncId` (a catch-up
 * or a stale check from there can be answered), given the log's `floor`.
 */
export function logCoversAfter(syncId: number, floor: number): boolean {
  return syncId >= floor - 1;
}

export interface TransactionOptions {
  /** `fn` never calls the storage's writer methods (`transaction`, `close`, schema and key writes): no nesting check. */
  trusted?: boolean;
}

export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** Create internal tables if needed and load state (last sync id, current schema). */
  open(): Promise<void>;
  close(): Promise<void>;

  /**
   * One durable transaction. Committed (and durable per the storage's
   * setting) when the promise resolves; its changes are announced on `feed`
   * before that.
   *
   * Calling `transaction()` (or `close()`, a schema or key write) from inside
   * `fn` would wait for `fn` forever, so it is refused (`nested_transaction`).
   * `options.trusted`: the caller guarantees `fn` never does that (the
   * engine's commit batcher, whose jobs only use `tx`), so the storage may
   * skip tracking it (SQLite: an AsyncLocalStorage, which costs a hook on
   * every promise the process makes once it is used).
   */
  transaction<T>(fn: (tx: StorageTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** The change log's reads and live subscription. */
  readonly feed: ChangeFeed;

  // Schema
  getSchema(): Promise<SchemaVersionRecord | null>;
  /** Row counts, non-null counts and enum value counts for the planner. */
  collectStats(schema: SerializedSchema): Promise<SchemaStats>;
  /**
   * Apply a plan (already approved by the caller) to move from the stored
   * schema to `next`: create/alter/rename/drop tables and columns, keeping data
   * for renames, and re-derive the stored sync groups of models whose groups
   * change. One transaction; long parts run in chunks that yield to the event
   * loop (reads go on meanwhile and see the old state). Records a new schema
   * version and returns it.
   *
   * `baseVersion`: the schema version the plan was made against (0: none). A
   * storage shared by several processes refuses the plan
   * (`schema_apply_failed`) when the stored version is another: a process
   * pushed meanwhile, and the plan must be made again. Default: the version
   * this instance loaded last.
   */
  applySchema(plan: SchemaPlan, next: SerializedSchema, baseVersion?: number): Promise<SchemaVersionRecord>;
  /**
   * A storage shared by several engine processes (Postgres): `listener` is
   * called when this instance loads a schema version another process applied
   * (found at the start of a write transaction, before the transaction's
   * commits are planned, so none is planned under the old schema). Not called
   * for this instance's own `applySchema`. Returns the unsubscribe function.
   */
  onSchemaLoaded?(listener: (record: SchemaVersionRecord) => void): () => void;

  // Reads (committed state only)
  getRow(model: string, id: string): Promise<StoredRow | null>;
  listRows(model: string, query: ListQuery): Promise<ListResult>;
  /** Rows of a model in id order after `afterId` (every row, whatever its groups). */
  scanRows(model: string, afterId: string | null, limit: number): Promise<StoredRow[]>;
  /**
   * Rows of `model` in sync group `group`, in id order after `afterId`, at
   * most `limit` (bootstrap paging). Reads only that group's rows: the storage
   * keeps every row's groups indexed, written with the row.
   */
  scanGroupRows(model: string, group: string, afterId: string | null, limit: number): Promise<StoredRow[]>;
  /**
   * `scanGroupRows` as JSON text (what bootstrap sends): the rows of `model`
   * in group `group` after `afterId`, in id order, each encoded by the
   * storage (no row objects), at most `limit` rows and `maxBytes` bytes.
   * Rows also in one of `skipGroups` are read but left out: a bootstrap of
   * several groups sends a row once, with the first of its groups it asked
   * for.
   */
  scanGroupRowsJson(model: string, group: string, afterId: string | null, options: ScanJsonOptions): Promise<EncodedRowPage>;
  /** Change-log entries with syncId > afterSyncId, in order, at most `limit`. */
  changesAfter(afterSyncId: number, limit: number): Promise<ChangeRecord[]>;
  /**
   * `changesAfter` filtered in the database: entries with syncId >
   * afterSyncId that match `filter` (an empty filter matches every entry),
   * in order, at most `limit`. Fewer than `limit` means no more match up to
   * the head. Reads committed entries only.
   */
  changesWhere(filter: ChangeFilter, afterSyncId: number, limit: number): Promise<ChangeRecord[]>;
  /**
   * Change-log entries with afterSyncId < syncId <= upToSyncId whose groups or
   * previous groups include one of `groups`, in order, each once, at most
   * `limit` (catch-up paging). Reads only those groups' changes. Fewer than
   * `limit` means the range holds no more.
   */
  changesInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]>;
  /** Highest committed sync id (0 when none). */
  lastSyncId(): Promise<number>;
  /**
   * Lowest sync id still in the change log: every entry below it was pruned,
   * so history after a sync id below `floor - 1` is gone (a catch-up from
   * there needs a bootstrap; a `readAt` there is stale). 0 when nothing was
   * ever pruned. Never above the head (`prune` keeps the newest entry). See
   * `logCoversAfter`.
   */
  changeLogFloor(): Promise<number>;
  /**
   * Retention: delete change-log entries written before
   * `cutoff.changesBefore` and idempotency records stored before
   * `cutoff.idempotencyBefore`.
   *
   * - The log is pruned as a prefix in sync-id order: it stops at the first
   *   entry at or after the cutoff (a clock that went back leaves older
   *   entries behind it until a later prune), and it always keeps the newest
   *   entry (the log is never emptied, so the floor stays at most the head).
   *   The floor moves up in the same transaction that deletes the entries
   *   below it; readers see the new floor no later than the missing entries.
   * - Work goes in chunks, each its own short write transaction, with other
   *   transactions (commits) running in between: the writer is never held for
   *   the whole prune.
   * - Safe to run while the engine serves; concurrent prunes (several
   *   processes) may each delete part. Refused inside a transaction.
   */
  prune(cutoff: PruneCutoff): Promise<PruneResult>;
  /** What reads for sync cost so far (for status views and tests). */
  readStats(): StorageReadStats;

  // API keys
  insertApiKey(key: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, at: string): Promise<boolean>;
  countApiKeys(): Promise<number>;

  // Engine records (`_ablo_meta`): session signing keys and session revocations, shared by every process on the database
  /**
   * Store `value` under `key` unless the key has one already; answers the
   * value stored (this one, or the one another process wrote first). Never
   * overwrites. Keys the engine keeps itself (`format`, `floor`) are not
   * given to callers: use a prefix of your own (`session_…`).
   */
  ensureMeta(key: string, value: string, options?: { revocation?: boolean }): Promise<string>;
  /**
   * Several processes on one database (Postgres): `listener` runs when
   * another process may have revoked a credential (`revokeApiKey`, or
   * `ensureMeta(…, { revocation: true })`): on the feed's `revoked` notice,
   * after its LISTEN connection reconnects, and — awaited — at the start of
   * any write transaction that finds a revocation committed since this
   * instance last looked, before that transaction's commits are authorized.
   * The listener reads the revocation records (through the pool) and tells
   * its authenticators. Returns the unsubscribe function.
   */
  onRevocation?(listener: () => Promise<void>): () => void;
  /** Every record whose key starts with `prefix`, in key order (byte order). */
  listMeta(prefix: string): Promise<Array<{ key: string; value: string }>>;
}

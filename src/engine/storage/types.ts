/**
 * The storage contract. The commit pipeline, the HTTP API and the sync
 * server talk only to this; SQLite (embedded) and Postgres (shared, several
 * engine processes) implement it.
 *
 * Concurrency: the engine runs at most one `transaction()` at a time per
 * process. Reads outside a transaction must not see uncommitted writes.
 */
import type { SerializedSchema } from '../../schema/descriptor.js';
import type { SchemaPlan, SchemaStats } from '../../schema/plan.js';
import type { Change, CommitReceipt, ParticipantRef } from '../../protocol/commit.js';
import type { ListQuery } from '../../protocol/listQuery.js';

/** A row as stored and returned: its fields plus the system fields. Values are decoded (booleans, JSON). */
export interface StoredRow {
  id: string;
  createdAt: string;
  updatedAt: string;
  syncId: number;
  [field: string]: unknown;
}

export type { ListQuery, OrderBy } from '../../protocol/listQuery.js';

export interface ListResult {
  rows: StoredRow[];
  hasMore: boolean;
}

/** A change-log entry as stored. */
export interface ChangeRecord extends Change {
  commitId: string;
}

/** What the stale guard needs to know about later changes to a row. */
export interface RowChangeMeta {
  syncId: number;
  action: Change['action'];
  fields: string[];
  participant: ParticipantRef;
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
}

export interface SchemaVersionRecord {
  version: number;
  serialized: SerializedSchema;
  appliedAt: string;
}

/** Counters of what sync reads cost, since the storage was opened. */
export interface StorageReadStats {
  /** Rows read by scans (bootstraps): `scanRows` and `scanGroupRows`. */
  rowsRead: number;
  /** Change-log entries read by `changesAfter` and `changesInGroups` (catch-ups, the changes feed). */
  changesRead: number;
}

export interface StorageTx {
  getRow(model: string, id: string): Promise<StoredRow | null>;
  insertRow(model: string, row: StoredRow): Promise<void>;
  /** Write `fields` (already validated) and the new updatedAt/syncId. */
  updateRow(model: string, id: string, fields: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): Promise<void>;
  deleteRow(model: string, id: string): Promise<void>;
  /** Allocate the next sync id: strictly increasing, gap-free across committed transactions. */
  nextSyncId(): Promise<number>;
  appendChange(change: ChangeRecord): Promise<void>;
  /** Changes to one row with syncId > afterSyncId, in order. */
  rowChangesAfter(model: string, id: string, afterSyncId: number): Promise<RowChangeMeta[]>;
  /** The first change after `afterSyncId` whose groups (or previous groups) include `group`, or null. */
  groupChangeAfter(group: string, afterSyncId: number): Promise<ChangeRecord | null>;
  getIdempotency(key: string): Promise<IdempotencyRecord | null>;
  putIdempotency(key: string, record: IdempotencyRecord): Promise<void>;
  /**
   * Run `fn` as a nested atomic unit: if it throws, every write it made
   * (rows, changes, idempotency, allocated sync ids) is undone and the error
   * is rethrown; the enclosing transaction goes on.
   */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
}

export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** Create internal tables if needed and load state (last sync id, current schema). */
  open(): Promise<void>;
  close(): Promise<void>;

  /** One durable transaction. Committed (and durable per the storage's setting) when the promise resolves. */
  transaction<T>(fn: (tx: StorageTx) => Promise<T>): Promise<T>;

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
   */
  applySchema(plan: SchemaPlan, next: SerializedSchema): Promise<SchemaVersionRecord>;

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
  /** Change-log entries with syncId > afterSyncId, in order, at most `limit`. */
  changesAfter(afterSyncId: number, limit: number): Promise<ChangeRecord[]>;
  /**
   * Change-log entries with afterSyncId < syncId <= upToSyncId whose groups or
   * previous groups include one of `groups`, in order, each once, at most
   * `limit` (catch-up paging). Reads only those groups' changes. Fewer than
   * `limit` means the range holds no more.
   */
  changesInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]>;
  /** Highest committed sync id (0 when none). */
  lastSyncId(): Promise<number>;
  /** Lowest sync id still in the change log (catch-up below it needs a bootstrap); 0 when nothing was ever pruned. */
  changeLogFloor(): Promise<number>;
  /** What reads for sync cost so far (for status views and tests). */
  readStats(): StorageReadStats;

  // API keys
  insertApiKey(key: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, at: string): Promise<boolean>;
  countApiKeys(): Promise<number>;
}

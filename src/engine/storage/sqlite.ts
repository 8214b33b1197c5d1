/**
 * The embedded storage: one SQLite file (better-sqlite3, WAL).
 *
 * Two connections on the file: the WRITER runs transactions, schema changes
 * and key writes, one at a time (a queue serializes them); the READER serves
 * every read made outside a transaction. In WAL mode the reader sees the last
 * committed state, so reads never see a transaction that is still open.
 *
 * Durability: `full` (the default) syncs the WAL on every commit, so a
 * resolved `transaction()` survives power loss; `normal` may lose the last
 * commits on power loss (never on a process crash) but is never corrupted.
 *
 * Layout: one table per model, named as the model, with typed columns (see
 * `sqlite-codec.ts`), plus the `_ablo_*` tables (see `sqlite-internal.ts`),
 * among them the sync-group index that bootstrap and catch-up read (see
 * `sqlite-groups.ts`).
 *
 * Sync ids: a transaction reads the highest id in the change log (or the
 * pruned floor) the first time it needs one, on the writer inside the
 * transaction, and counts on from there; a rolled-back savepoint hands its
 * ids out again. The feed (`feed`) announces each transaction's changes once
 * its COMMIT returned.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { AbloError, abloError, AbloNotFoundError, AbloServerError } from '../../errors.js';
import { stringifyJson } from '../../protocol/json.js';
import type { SerializedSchema } from '../../schema/descriptor.js';
import type { SchemaPlan, SchemaStats } from '../../schema/plan.js';
import { hasOwn, ModelCodec, quoteId, type SqlValue } from './sqlite-codec.js';
import { applyPlanSteps, tableColumns, tableExists } from './sqlite-ddl.js';
import { FeedHub } from './feed.js';
import { GROUP_SQL, modelGroups, rederiveRows, type ModelGroups } from './sqlite-groups.js';
import { pageRowsSql, pageSql, rowJsonSql } from './sqlite-json.js';
import { acquireDatabaseLock, type DatabaseLock } from './sqlite-lock.js';
import { pruneChangesChunk, pruneIdempotencyChunk } from './sqlite-retention.js';
import { Checkpointer, WAL_AUTOCHECKPOINT_PAGES, type CheckpointStats } from './sqlite-wal.js';
import {
  AUDIT_COLUMNS,
  changeFromRow,
  changeParams,
  changesWhereSql,
  INTERNAL_DDL,
  keyFromRow,
  keyParams,
  META_FLOOR,
  KEY_KIND_COLUMNS,
  META_FORMAT,
  rowChangeFromRow,
  SQL,
  STORAGE_FORMAT,
  type ChangeRow,
  type KeyRow,
} from './sqlite-internal.js';
import { readInWindows } from './records.js';
import { SerialQueue } from './serial.js';
import { anchorSql, keysetClause, orderClause, sortKeys, whereClause } from './sqlite-query.js';
import type {
  ApiKeyRecord,
  ChangeFilter,
  ChangeRecord,
  EncodedRowPage,
  IdempotencyRecord,
  ListQuery,
  ListResult,
  PlannedChange,
  PruneCutoff,
  PruneResult,
  ScanJsonOptions,
  RowChangeMeta,
  SchemaVersionRecord,
  Storage,
  StorageReadStats,
  StorageTx,
  StoredRow,
  TransactionOptions,
} from './types.js';
import { TransactionDoomed } from './types.js';

type Db = Database.Database;
type Statement = Database.Statement;

export interface SqliteStorageOptions {
  /** Path of the database file; its directory is created if needed. */
  file: string;
  /** `full` (default): a commit is on disk when it resolves. `normal`: faster, may lose the last commits on power loss. */
  durability?: 'full' | 'normal';
  /** How long a connection waits for a lock held by another process, in ms (default 5000). */
  busyTimeoutMs?: number;
}

export function createSqliteStorage(options: SqliteStorageOptions): Storage {
  return new SqliteStorage(options);
}

/** Prepared statements of one connection, by SQL text (and raw mode). */
class StatementCache {
  private readonly plain = new Map<string, Statement>();
  private readonly raw = new Map<string, Statement>();
  constructor(readonly db: Db) {}

  get(sql: string, raw = false): Statement {
    const map = raw ? this.raw : this.plain;
    let stmt = map.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (raw) stmt.raw(true);
      // Dynamic list queries vary with filters and sort keys: keep the cache bounded.
      if (map.size >= 500) map.clear();
      map.set(sql, stmt);
    }
    return stmt;
  }

  clear(): void {
    this.plain.clear();
    this.raw.clear();
  }
}

function positiveLimit(limit: number): number {
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) {
    throw abloError('invalid_limit', { field: 'limit' });
  }
  return Math.floor(limit);
}

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Widest sync-id window one multi-group catch-up query covers. */

/** Rows per range when a whole table is counted (schema stats). */
const STATS_RANGE_ROWS = 20_000;
/** Sync ids one statement of a filtered change-log read (`changesWhere`) covers. */
const CHANGE_FILTER_WINDOW = 20_000;

/**
 * Id ranges that split `table` into parts of STATS_RANGE_ROWS rows:
 * (from, to], the last one (from, end) with `to` null.
 */
function* idRanges(db: Db, table: string): Generator<{ from: string; to: string | null }> {
  const bound = db.prepare(`SELECT "id" FROM ${table} WHERE "id" > ? ORDER BY "id" LIMIT 1 OFFSET ${STATS_RANGE_ROWS - 1}`).pluck();
  let from = '';
  for (;;) {
    const to = bound.get(from) as string | undefined;
    if (to === undefined) {
      yield { from, to: null };
      return;
    }
    yield { from, to };
    from = to;
  }
}

/** Let the event loop run (timers, I/O, other requests) between two chunks of long work. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Build the sync-group index of a format-1 file: every row's groups from the
 * stored schema, every change's groups from the change log. Runs in the
 * transaction that opens the file.
 */
function backfillGroups(db: Db): void {
  db.exec('DELETE FROM _ablo_row_groups; DELETE FROM _ablo_change_groups;');
  const latest = db.prepare(SQL.latestSchema).get() as { serialized: string } | undefined;
  if (latest) {
    const schema = JSON.parse(latest.serialized) as SerializedSchema;
    for (const model of Object.keys(schema.models)) {
      if (!tableExists(db, model)) continue;
      for (const _ of rederiveRows(db, schema, model));
    }
  }
  db.prepare(GROUP_SQL.backfillChangeGroups).run();
}

/** Format 3's change-log columns on a file made before it (nullable, no default: no rewrite of the table). */
function addAuditColumns(db: Db): void {
  const have = tableColumns(db, '_ablo_changes');
  for (const column of AUDIT_COLUMNS) if (!have.has(column)) db.exec(`ALTER TABLE _ablo_changes ADD COLUMN ${column} TEXT`);
}

/** Add the key-kind columns a format-1 or -2 file lacks (the keys it has become secret keys: the default). */
function addKeyKindColumns(db: Db): void {
  const have = tableColumns(db, '_ablo_api_keys');
  for (const [name, ddl] of KEY_KIND_COLUMNS) if (!have.has(name)) db.exec(`ALTER TABLE _ablo_api_keys ADD COLUMN ${ddl}`);
}

function storageError(message: string, err: unknown): AbloServerError {
  const reason = err instanceof Error ? err.message : String(err);
  return new AbloServerError(`${message}: ${reason}`, { code: 'storage_error' });
}

export class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private readonly durability: 'full' | 'normal';
  private readonly busyTimeoutMs: number;

  private writer: Db | null = null;
  /** One engine per file: the OS-level lock held while open (see sqlite-lock.ts). */
  private fileLock: DatabaseLock | null = null;
  private reader: Db | null = null;
  private wcache: StatementCache | null = null;
  private rcache: StatementCache | null = null;
  private readSnapshot: ((fn: () => unknown) => unknown) | null = null;
  /** Checkpoints in a worker thread, off the commit path (see sqlite-wal.ts). */
  private checkpointer: Checkpointer | null = null;

  private schema: SchemaVersionRecord | null = null;
  private codecs = new Map<string, ModelCodec>();
  private groupers = new Map<string, ModelGroups>();
  /** The row-to-JSON expression of each codec (see sqlite-json.ts). */
  private rowJson = new WeakMap<ModelCodec, string>();

  private floor = 0;
  /** The change log's reads and its live subscription; its head is the last committed sync id. */
  readonly feed = new FeedHub({
    after: (afterSyncId, limit) => this.changesAfter(afterSyncId, limit),
    afterInGroups: (groups, afterSyncId, upToSyncId, limit) => this.changesInGroups(groups, afterSyncId, upToSyncId, limit),
  });
  private readonly reads: StorageReadStats = { rowsRead: 0, changesRead: 0 };

  /** Writer access queue: transactions, schema changes and key writes run one at a time. */
  private readonly writes = new SerialQueue();
  /** Marks code running inside `transaction(fn)` (true), to refuse re-entry instead of deadlocking. */
  private readonly inTx = new AsyncLocalStorage<boolean>();

  constructor(options: SqliteStorageOptions) {
    this.file = options.file;
    this.durability = options.durability ?? 'full';
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  }

  // -------------------------------------------------------------------------
  // Lifecycle

  private opening: Promise<void> | null = null;

  async open(): Promise<void> {
    if (this.writer) return;
    // Two concurrent open() calls share one opening.
    this.opening ??= this.doOpen().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    if (!this.file || this.file === ':memory:' || this.file.startsWith('file:')) {
      throw new AbloServerError('SQLite storage needs a file path (an in-memory database cannot be shared by the reader and writer connections).', {
        code: 'storage_error',
      });
    }
    mkdirSync(dirname(resolve(this.file)), { recursive: true });
    // Before touching the database: a second engine on this file is refused here.
    const fileLock = acquireDatabaseLock(this.file);
    let writer: Db | null = null;
    let reader: Db | null = null;
    try {
      writer = new Database(this.file, { timeout: this.busyTimeoutMs });
      const mode = writer.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not switch the database to WAL mode (got ${String(mode)})`);
      writer.pragma(`synchronous = ${this.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
      writer.pragma('foreign_keys = OFF');
      // Checkpoints run in the background (Checkpointer); this only bounds the WAL should they fall behind.
      writer.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      writer.transaction(() => {
        writer!.exec(INTERNAL_DDL);
        const format = writer!.prepare(SQL.getMeta).pluck().get(META_FORMAT) as string | undefined;
        if (format !== undefined && Number(format) > STORAGE_FORMAT) {
          throw new Error(`the file was written by a newer version of Ablo (storage format ${format}, this version reads ${STORAGE_FORMAT})`);
        }
        if (format === undefined) writer!.prepare(SQL.putMeta).run(META_FORMAT, String(STORAGE_FORMAT));
        else if (Number(format) < STORAGE_FORMAT) {
          // Format 1 had no sync-group index: build it from the rows and the change log.
          if (Number(format) < 2) backfillGroups(writer!);
          // Formats 1 and 2 kept no credential or on-behalf-of participant: add the columns (old entries keep null).
          addAuditColumns(writer!);
          // Formats 1 and 2 had no key kinds: their keys become secret keys.
          addKeyKindColumns(writer!);
          writer!.prepare(SQL.putMeta).run(META_FORMAT, String(STORAGE_FORMAT));
        }
      }).immediate();

      const head = writer.prepare(SQL.headSyncId).pluck().get() as number;
      const floor = Number((writer.prepare(SQL.getMeta).pluck().get(META_FLOOR) as string | undefined) ?? 0);
      const latest = writer.prepare(SQL.latestSchema).get() as { version: number; serialized: string; applied_at: string } | undefined;

      reader = new Database(this.file, { readonly: true, fileMustExist: true, timeout: this.busyTimeoutMs });

      this.floor = floor;
      this.feed.reset(head);
      this.schema = latest ? { version: latest.version, serialized: JSON.parse(latest.serialized) as SerializedSchema, appliedAt: latest.applied_at } : null;
      this.writer = writer;
      this.reader = reader;
      this.wcache = new StatementCache(writer);
      this.rcache = new StatementCache(reader);
      this.readSnapshot = reader.transaction((fn: () => unknown) => fn());
      this.codecs.clear();
      this.fileLock = fileLock;
      this.groupers.clear();
      this.checkpointer = new Checkpointer(this.file, this.busyTimeoutMs);
    } catch (err) {
      reader?.close();
      writer?.close();
      fileLock.release();
      if (err instanceof AbloError) throw err;
      if (/bindings|better_sqlite3\.node|NODE_MODULE_VERSION|invalid ELF/i.test(String((err as Error)?.message))) {
        // The native module is missing or built for another Node: say how to build it.
        throw new AbloServerError(
          `better-sqlite3's native module cannot be loaded (${(err as Error).message.split('\n')[0]}). Build it for this Node version: run \`npm install-scripts approve better-sqlite3 && npm rebuild better-sqlite3\` in your project (npm 11 skips install scripts it has not been told to allow).`,
          { code: 'sqlite_native_module' },
        );
      }
      throw storageError(`Could not open the database ${this.file}`, err);
    }
  }

  async close(): Promise<void> {
    if (!this.writer) return;
    this.refuseInsideTransaction('close()');
    await this.exclusive(async () => {
      const writer = this.writer;
      const reader = this.reader;
      if (!writer) return;
      this.writer = null;
      this.reader = null;
      this.wcache = null;
      this.rcache = null;
      this.readSnapshot = null;
      this.codecs.clear();
      this.groupers.clear();
      const checkpointer = this.checkpointer;
      this.checkpointer = null;
      await checkpointer?.stop();
      reader?.close();
      try {
        writer.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        writer.close();
        this.fileLock?.release();
        this.fileLock = null;
      }
    });
  }

  // -------------------------------------------------------------------------
  // Internals shared with the transaction object

  /** @internal */
  writerCache(): StatementCache {
    if (!this.wcache) throw this.closedError();
    return this.wcache;
  }

  private readerCache(): StatementCache {
    if (!this.rcache) throw this.closedError();
    return this.rcache;
  }

  private closedError(): AbloServerError {
    return abloError('storage_closed');
  }

  /** @internal The codec of a model of the current schema. */
  codec(model: string): ModelCodec {
    let codec = this.codecs.get(model);
    if (codec) return codec;
    const models = this.schema?.serialized.models;
    if (!models || !hasOwn(models, model)) {
      throw abloError('unknown_model', { model });
    }
    codec = new ModelCodec(model, models[model]!);
    this.codecs.set(model, codec);
    return codec;
  }

  /** @internal How rows of a model of the current schema map to sync groups. */
  grouper(model: string): ModelGroups {
    let g = this.groupers.get(model);
    if (g) return g;
    this.codec(model);
    g = modelGroups(this.schema!.serialized, model);
    this.groupers.set(model, g);
    return g;
  }

  private refuseInsideTransaction(what: string): void {
    if (this.inTx.getStore()) {
      throw new AbloServerError(`${what} was called inside a storage transaction; it would wait for that transaction forever.`, {
        code: 'nested_transaction',
      });
    }
  }

  /** Run `fn` when every earlier writer job has finished. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.writes.run(fn);
  }

  // -------------------------------------------------------------------------
  // Transactions

  async transaction<T>(fn: (tx: StorageTx) => Promise<T>, options?: TransactionOptions): Promise<T> {
    if (this.inTx.getStore()) {
      throw abloError('nested_transaction');
    }
    this.writerCache();
    // A trusted caller (the commit batcher) is not tracked: the mark is an AsyncLocalStorage, and once one is
    // entered Node runs a hook on every promise of the process (a few % of the CPU of a write).
    if (options?.trusted) return this.exclusive(() => this.runTransaction(fn, false));
    return this.exclusive(() => this.inTx.run(true, () => this.runTransaction(fn, true)));
  }

  private async runTransaction<T>(fn: (tx: StorageTx) => Promise<T>, marked: boolean): Promise<T> {
    const cache = this.writerCache();
    const db = cache.db;
    try {
      cache.get('BEGIN IMMEDIATE').run();
    } catch (err) {
      throw storageError('Could not start a transaction', err);
    }
    const tx = new SqliteTx(this);
    let result: T;
    try {
      result = await fn(tx);
      tx.finish();
    } catch (err) {
      tx.end();
      this.rollback(db);
      throw err;
    }
    tx.end();
    try {
      if (!db.inTransaction) throw new Error('SQLite aborted the transaction');
      cache.get('COMMIT').run();
    } catch (err) {
      this.rollback(db);
      throw storageError('Could not commit the transaction', err);
    }
    this.checkpointer?.noteCommit();
    // Durable: announce it, marked as outside the transaction (so a listener
    // that starts a transaction is not taken for a nested one).
    const written = tx.written;
    if (written.length > 0) {
      if (marked) this.inTx.run(false, () => this.feed.announce(written));
      else this.feed.announce(written);
    }
    return result;
  }

  /** Background checkpoint figures (see sqlite-wal.ts); `checkpointNow` waits for one (tests). */
  checkpointStats(): CheckpointStats {
    return { ...(this.checkpointer?.stats ?? { checkpoints: 0, lastLogFrames: 0, lastCheckpointedFrames: 0, lastError: null }) };
  }

  async checkpointNow(): Promise<void> {
    await this.checkpointer?.checkpoint();
  }

  private rollback(db: Db): void {
    if (db.inTransaction) db.prepare('ROLLBACK').run();
  }

  // -------------------------------------------------------------------------
  // Schema

  async getSchema(): Promise<SchemaVersionRecord | null> {
    this.readerCache();
    return this.schema;
  }

  async collectStats(schema: SerializedSchema): Promise<SchemaStats> {
    const stats: SchemaStats = {};
    for (const [name, model] of Object.entries(schema.models)) {
      const db = this.readerCache().db;
      const fieldNames = Object.keys(model.fields);
      if (!tableExists(db, name)) {
        const fields: NonNullable<SchemaStats[string]['fields']> = {};
        for (const f of fieldNames) fields[f] = model.fields[f]!.type === 'enum' ? { nonNull: 0, values: {} } : { nonNull: 0 };
        stats[name] = { rows: 0, fields };
        continue;
      }
      // Only columns that exist are counted (and interpolated).
      const columns = tableColumns(db, name);
      const present = fieldNames.filter((f) => columns.has(f));
      const enums = present.filter((f) => model.fields[f]!.type === 'enum');
      const table = quoteId(name);
      const counts = new Array<number>(present.length + 1).fill(0);
      const values = new Map<string, Record<string, number>>(enums.map((f) => [f, {}]));
      const countSql = `SELECT COUNT(*)${present.map((f) => `, COUNT(${quoteId(f)})`).join('')} FROM ${table}`;
      // A big table is counted in id ranges, with the event loop running in between.
      for (const range of idRanges(db, table)) {
        const where = range.to === null ? ` WHERE "id" > ?` : ` WHERE "id" > ? AND "id" <= ?`;
        const bounds = range.to === null ? [range.from] : [range.from, range.to];
        const part = db.prepare(countSql + where).raw(true).get(...bounds) as number[];
        part.forEach((n, i) => (counts[i]! += n));
        for (const f of enums) {
          const col = quoteId(f);
          const groups = db.prepare(`SELECT ${col}, COUNT(*) FROM ${table}${where} AND ${col} IS NOT NULL GROUP BY ${col}`).raw(true).all(...bounds) as Array<[unknown, number]>;
          const into = values.get(f)!;
          for (const [v, n] of groups) into[String(v)] = (into[String(v)] ?? 0) + n;
        }
        if (range.to !== null) await yieldToEventLoop();
      }
      const fields: NonNullable<SchemaStats[string]['fields']> = {};
      present.forEach((f, i) => {
        fields[f] = { nonNull: counts[i + 1]! };
        if (values.has(f)) fields[f]!.values = values.get(f)!;
      });
      stats[name] = { rows: counts[0]!, fields };
    }
    return stats;
  }

  async applySchema(plan: SchemaPlan, next: SerializedSchema): Promise<SchemaVersionRecord> {
    this.refuseInsideTransaction('applySchema()');
    this.writerCache();
    return this.exclusive(async () => {
      const cache = this.writerCache();
      const db = cache.db;
      const serialized = JSON.stringify(next);
      const prev = this.schema?.serialized ?? null;
      let record: SchemaVersionRecord;
      try {
        cache.get('BEGIN IMMEDIATE').run();
      } catch (err) {
        throw storageError('Could not start the schema transaction', err);
      }
      try {
        // Long parts (copying a column, filling defaults, re-deriving groups) come in
        // chunks: between two, other work runs (reads see the state before the push;
        // the writer queue holds every other write until the push is done).
        for (const _ of applyPlanSteps(db, plan, next, prev)) await yieldToEventLoop();
        if (!db.inTransaction) throw new Error('SQLite aborted the transaction');
        const version = db.prepare(SQL.nextSchemaVersion).pluck().get() as number;
        const appliedAt = new Date().toISOString();
        db.prepare(SQL.insertSchema).run(version, serialized, appliedAt);
        db.prepare('COMMIT').run();
        record = { version, serialized: JSON.parse(serialized) as SerializedSchema, appliedAt };
      } catch (err) {
        if (db.inTransaction) db.prepare('ROLLBACK').run();
        if (err instanceof AbloError) throw err;
        throw storageError('Could not apply the schema', err);
      } finally {
        // Tables and columns may have changed: every cached statement and codec is stale.
        this.wcache?.clear();
        this.rcache?.clear();
        this.codecs.clear();
        this.groupers.clear();
      }
      this.schema = record;
      return record;
    });
  }

  // -------------------------------------------------------------------------
  // Reads (reader connection: committed state only)

  async getRow(model: string, id: string): Promise<StoredRow | null> {
    const codec = this.codec(model);
    const raw = this.readerCache().get(codec.getSql, true).get(id) as unknown[] | undefined;
    return raw ? codec.decodeRow(raw) : null;
  }

  async listRows(model: string, query: ListQuery): Promise<ListResult> {
    const codec = this.codec(model);
    const cache = this.readerCache();
    const keys = sortKeys(codec, query.orderBy);
    const where = whereClause(codec, query.where);
    const limit = positiveLimit(query.limit);
    const startingAfter = query.startingAfter;
    const run = (): ListResult => {
      const parts = where.parts.slice();
      const params = where.params.slice();
      if (startingAfter !== undefined && startingAfter !== null) {
        const anchor = cache.get(anchorSql(codec, keys), true).get(startingAfter) as SqlValue[] | undefined;
        if (!anchor) {
          throw new AbloNotFoundError(`startingAfter: no ${model} row has the id "${startingAfter}".`, {
            code: 'row_not_found',
            model,
            id: startingAfter,
          });
        }
        const keyset = keysetClause(keys, anchor);
        parts.push(keyset.sql);
        params.push(...keyset.params);
      }
      const sql =
        `SELECT ${codec.selectList} FROM ${codec.table}` +
        (parts.length ? ` WHERE ${parts.join(' AND ')}` : '') +
        ` ORDER BY ${orderClause(keys)} LIMIT ?`;
      params.push(limit + 1);
      const raws = cache.get(sql, true).all(...params) as unknown[][];
      const hasMore = raws.length > limit;
      if (hasMore) raws.length = limit;
      return { rows: raws.map((r) => codec.decodeRow(r)), hasMore };
    };
    // The anchor lookup and the page read the same snapshot.
    return startingAfter !== undefined && startingAfter !== null ? (this.readSnapshot!(run) as ListResult) : run();
  }

  async scanRows(model: string, afterId: string | null, limit: number): Promise<StoredRow[]> {
    const codec = this.codec(model);
    const cache = this.readerCache();
    const n = positiveLimit(limit);
    const raws = (
      afterId === null || afterId === undefined ? cache.get(codec.scanFirstSql, true).all(n) : cache.get(codec.scanAfterSql, true).all(afterId, n)
    ) as unknown[][];
    this.reads.rowsRead += raws.length;
    return raws.map((r) => codec.decodeRow(r));
  }

  async scanGroupRows(model: string, group: string, afterId: string | null, limit: number): Promise<StoredRow[]> {
    const codec = this.codec(model);
    const sql = `SELECT ${codec.selectList} FROM ${codec.table} WHERE "id" IN (${GROUP_SQL.groupRowIds}) ORDER BY "id"`;
    const raws = this.readerCache().get(sql, true).all(model, group, afterId ?? '', positiveLimit(limit)) as unknown[][];
    this.reads.rowsRead += raws.length;
    return raws.map((r) => codec.decodeRow(r));
  }

  async scanGroupRowsJson(model: string, group: string, afterId: string | null, options: ScanJsonOptions): Promise<EncodedRowPage> {
    const codec = this.codec(model);
    const cache = this.readerCache();
    const limit = positiveLimit(options.limit);
    const maxBytes = options.maxBytes ?? Infinity;
    const skip = options.skipGroups && options.skipGroups.length > 0 ? JSON.stringify([...new Set(options.skipGroups)]) : null;
    let rowJson = this.rowJson.get(codec);
    if (rowJson === undefined) this.rowJson.set(codec, (rowJson = rowJsonSql(codec, 't')));
    // A group every row of the model is in (its groups are constant) is read from the table alone.
    const grouper = this.grouper(model);
    const whole = skip === null && grouper.fields.size === 0 && grouper.of({}).includes(group);
    const rowsSql = pageRowsSql(codec, rowJson, whole ? 'table' : 'group', skip !== null);
    const params: Record<string, SqlValue> = whole ? { after: afterId ?? '', limit } : { model, group, after: afterId ?? '', limit };
    if (skip !== null) params.skip = skip;
    const [read, lastId, fallback, rows, json] = cache.get(pageSql(rowsSql), true).get(params) as [number, string | null, number | null, number, Buffer | null];
    const bytes = json?.length ?? 0;
    if (!fallback && (bytes <= maxBytes || rows <= 1)) {
      this.reads.rowsRead += read;
      return { json: json ?? Buffer.alloc(0), rows, lastId, done: read < limit };
    }
    // A row SQL could not encode, or over the byte budget: this page again, row by row, in one snapshot.
    return this.readSnapshot!(() => this.jsonPageByRow(codec, cache.get(rowsSql, true).all(params) as Array<[string, string | null]>, limit, maxBytes)) as EncodedRowPage;
  }

  /** A page from its rows (see `pageRowsSql`): rows JavaScript must encode are encoded here; the page ends before the row that would take it over `maxBytes`. */
  private jsonPageByRow(codec: ModelCodec, raws: Array<[string, string | null]>, limit: number, maxBytes: number): EncodedRowPage {
    const parts: string[] = [];
    let bytes = 0;
    let read = 0;
    let lastId: string | null = null;
    let full = false;
    for (const [id, j] of raws) {
      let text = j;
      if (text === null) {
        const raw = this.readerCache().get(codec.getSql, true).get(id) as unknown[] | undefined;
        text = raw ? stringifyJson(codec.decodeRow(raw)) : '';
      }
      if (text !== '') {
        const size = Buffer.byteLength(text) + (parts.length > 0 ? 1 : 0);
        if (parts.length > 0 && bytes + size > maxBytes) {
          full = true;
          break;
        }
        parts.push(text);
        bytes += size;
      }
      read++;
      lastId = id;
    }
    this.reads.rowsRead += read;
    return { json: Buffer.from(parts.join(',')), rows: parts.length, lastId, done: !full && raws.length < limit };
  }

  async changesAfter(afterSyncId: number, limit: number): Promise<ChangeRecord[]> {
    const rows = this.readerCache().get(SQL.changesAfter).all(afterSyncId, positiveLimit(limit)) as ChangeRow[];
    this.reads.changesRead += rows.length;
    return rows.map(changeFromRow);
  }

  async changesWhere(filter: ChangeFilter, afterSyncId: number, limit: number): Promise<ChangeRecord[]> {
    if (filter.participant === undefined && filter.model === undefined && filter.id === undefined) return this.changesAfter(afterSyncId, limit);
    const n = positiveLimit(limit);
    const cache = this.readerCache();
    const head = this.feed.head();
    const rows: ChangeRow[] = [];
    // Windows of the log, the event loop let run between them: a filter that matches little reads
    // the log through, and one statement over all of it would hold the process that long.
    for (let from = afterSyncId; rows.length < n && from < head; from += CHANGE_FILTER_WINDOW) {
      if (from > afterSyncId) await yieldToEventLoop();
      const { sql, params } = changesWhereSql(filter, from, Math.min(head, from + CHANGE_FILTER_WINDOW), n - rows.length);
      for (const r of cache.get(sql).all(...params) as ChangeRow[]) rows.push(r);
    }
    this.reads.changesRead += rows.length;
    return rows.map(changeFromRow);
  }

  async changesInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]> {
    const n = positiveLimit(limit);
    const cache = this.readerCache();
    if (groups.length === 0 || n === 0 || afterSyncId >= upToSyncId) return [];
    let rows: ChangeRow[];
    if (groups.length === 1) {
      rows = cache.get(SQL.changesInGroup).all(groups[0], afterSyncId, upToSyncId, n) as ChangeRow[];
    } else {
      // Several groups: their entries interleave, so each query covers a window of
      // sync ids (at most `width` entries per group); a window with few hits widens the next.
      const list = JSON.stringify([...new Set(groups)]);
      const stmt = cache.get(SQL.changesInGroups);
      rows = await readInWindows(afterSyncId, upToSyncId, n, (from, to, want) => stmt.all(list, from, to, want) as ChangeRow[]);
    }
    this.reads.changesRead += rows.length;
    return rows.map(changeFromRow);
  }

  readStats(): StorageReadStats {
    return { ...this.reads };
  }

  async lastSyncId(): Promise<number> {
    this.readerCache();
    return this.feed.head();
  }

  async changeLogFloor(): Promise<number> {
    this.readerCache();
    return this.floor;
  }

  /** @internal The floor as the writer sees it (prune chunks run on the writer queue, like transactions). */
  currentFloor(): number {
    return this.floor;
  }

  /**
   * Retention (see `Storage.prune`): chunks of the change log, then of the
   * idempotency records, each chunk one job on the writer queue (commits
   * queued meanwhile run between two chunks).
   */
  async prune(cutoff: PruneCutoff): Promise<PruneResult> {
    this.refuseInsideTransaction('prune()');
    for (const t of [cutoff.changesBefore, cutoff.idempotencyBefore]) {
      if (typeof t !== 'string' || Number.isNaN(Date.parse(t))) throw abloError('invalid_input');
    }
    const changesBefore = new Date(cutoff.changesBefore).toISOString();
    const idempotencyBefore = new Date(cutoff.idempotencyBefore).toISOString();
    let changes = 0;
    let idempotency = 0;
    for (let more = true; more; ) {
      more = await this.exclusive(async () => {
        const chunk = pruneChangesChunk(this.writerCache().db, changesBefore);
        // Same job as the delete: no read on this process sees the entries gone and the old floor.
        if (chunk.floor !== null) this.floor = chunk.floor;
        changes += chunk.deleted;
        return chunk.more;
      });
      if (more) await yieldToEventLoop();
    }
    for (let more = true; more; ) {
      more = await this.exclusive(async () => {
        const chunk = pruneIdempotencyChunk(this.writerCache().db, idempotencyBefore);
        idempotency += chunk.deleted;
        return chunk.more;
      });
      if (more) await yieldToEventLoop();
    }
    return { changes, idempotency, floor: this.floor };
  }

  // -------------------------------------------------------------------------
  // API keys

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    this.refuseInsideTransaction('insertApiKey()');
    this.writerCache();
    await this.exclusive(async () => {
      this.writerCache().get(SQL.insertKey).run(...keyParams(key));
    });
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const row = this.readerCache().get(SQL.keyByHash).get(hash) as KeyRow | undefined;
    return row ? keyFromRow(row) : null;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (this.readerCache().get(SQL.listKeys).all() as KeyRow[]).map(keyFromRow);
  }

  async revokeApiKey(id: string, at: string): Promise<boolean> {
    this.refuseInsideTransaction('revokeApiKey()');
    this.writerCache();
    return this.exclusive(async () => this.writerCache().get(SQL.revokeKey).run(at, id).changes > 0);
  }

  async countApiKeys(): Promise<number> {
    return this.readerCache().get(SQL.countKeys).pluck().get() as number;
  }

  // -------------------------------------------------------------------------
  // Engine records (signing keys, revocations)

  async ensureMeta(key: string, value: string): Promise<string> {
    this.refuseInsideTransaction('ensureMeta()');
    this.writerCache();
    return this.exclusive(async () => {
      const cache = this.writerCache();
      cache.get(SQL.ensureMeta).run(key, value);
      return cache.get(SQL.getMeta).pluck().get(key) as string;
    });
  }

  async listMeta(prefix: string): Promise<Array<{ key: string; value: string }>> {
    return this.readerCache().get(SQL.listMeta).all(prefix, prefix) as Array<{ key: string; value: string }>;
  }
}

/**
 * The handle `transaction(fn)` passes to `fn`. Every call runs on the writer,
 * inside the open transaction, so it sees the transaction's own writes. It is
 * the commit path's read port and row sink.
 */
class SqliteTx implements StorageTx {
  private open = true;
  /** Savepoints currently open, innermost last. */
  private depth = 0;
  /** Set when savepoints were misused; the transaction then rolls back. */
  private broken: string | null = null;
  /**
   * Last sync id allocated in this transaction; null until the first
   * allocation reads the log's head (inside the transaction).
   */
  private head: number | null = null;
  /** Change-log entries this transaction wrote, in order (announced after COMMIT). */
  readonly written: ChangeRecord[] = [];
  /** Write calls made so far (counted before they run): `unguarded` tells from it whether a failed unit wrote. */
  private writes = 0;

  constructor(private readonly storage: SqliteStorage) {}

  private cache(): StatementCache {
    if (!this.open) throw abloError('transaction_ended');
    return this.storage.writerCache();
  }

  /** The writer's statements, for a call that writes (counted for `unguarded`). */
  private writeCache(): StatementCache {
    const cache = this.cache();
    this.writes++;
    // SQLite ends the transaction itself on some errors (disk full, I/O): a write now would commit on its own.
    if (!cache.db.inTransaction) throw new AbloServerError('SQLite aborted the transaction', { code: 'storage_error' });
    return cache;
  }

  /** Called when `fn` resolved: refuse to commit a transaction left in a bad state. */
  finish(): void {
    if (this.broken) throw new AbloServerError(this.broken, { code: 'savepoint_misuse' });
    if (this.depth !== 0) {
      throw new AbloServerError('The transaction function returned while a savepoint was still running; await every tx.savepoint().', {
        code: 'savepoint_misuse',
      });
    }
  }

  end(): void {
    this.open = false;
  }

  /** The highest sync id in the log (or below the pruned floor), read inside the transaction. */
  private logHead(cache: StatementCache): number {
    return (this.head ??= cache.get(SQL.headSyncId).pluck().get() as number);
  }

  async headSyncId(): Promise<number> {
    return this.logHead(this.cache());
  }

  async nextSyncId(): Promise<number> {
    const next = this.logHead(this.cache()) + 1;
    this.head = next;
    return next;
  }

  async getRow(model: string, id: string): Promise<StoredRow | null> {
    const cache = this.cache();
    const codec = this.storage.codec(model);
    const raw = cache.get(codec.getSql, true).get(id) as unknown[] | undefined;
    return raw ? codec.decodeRow(raw) : null;
  }

  async write(changes: readonly PlannedChange[]): Promise<ChangeRecord[]> {
    const cache = this.writeCache();
    const out: ChangeRecord[] = [];
    for (const planned of changes) {
      const syncId = this.logHead(cache) + 1;
      const codec = this.storage.codec(planned.model);
      const { model, id } = planned;
      if (planned.action === 'create') {
        planned.data.syncId = syncId;
        this.insertEncoded(cache, codec, planned.data);
        // Planned groups are the row's groups (the schema's templates over its values).
        this.indexGroups(cache, model, id, null, planned.groups);
      } else if (planned.action === 'update') {
        planned.data.syncId = syncId;
        this.updateEncoded(cache, codec, id, planned.patch, { updatedAt: planned.data.updatedAt, syncId });
        if (planned.prevGroups) this.indexGroups(cache, model, id, planned.prevGroups, planned.groups);
      } else {
        if (cache.get(codec.deleteSql).run(id).changes === 0) throw notFound(model, id);
        this.indexGroups(cache, model, id, planned.groups, null);
      }
      const change: ChangeRecord = {
        participant: planned.participant,
        clientTxId: planned.clientTxId,
        commitId: planned.commitId,
        at: planned.at,
        model,
        syncId,
        id,
        action: planned.action,
        fields: planned.fields,
        data: planned.data,
        groups: planned.groups,
      };
      if (planned.prevGroups) change.prevGroups = planned.prevGroups;
      if (planned.onBehalfOf) change.onBehalfOf = planned.onBehalfOf;
      if (planned.credentialId !== undefined) change.credentialId = planned.credentialId;
      this.appendEncoded(cache, change);
      this.head = syncId;
      out.push(change);
    }
    return out;
  }

  async insertRow(model: string, row: StoredRow): Promise<void> {
    const cache = this.writeCache();
    this.insertEncoded(cache, this.storage.codec(model), row);
    this.indexGroups(cache, model, row.id, null, this.storage.grouper(model).of(row));
  }

  async updateRow(model: string, id: string, fields: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): Promise<void> {
    const cache = this.writeCache();
    const codec = this.storage.codec(model);
    // The stored groups change only when a field they are made of is written, and then only if they differ.
    const grouper = this.storage.grouper(model);
    const regroup = grouper.needsRow && Object.keys(fields).some((f) => grouper.fields.has(f));
    const before = regroup ? (cache.get(codec.getSql, true).get(id) as unknown[] | undefined) : undefined;
    this.updateEncoded(cache, codec, id, fields, meta);
    if (!before) return;
    const old = codec.decodeRow(before);
    const was = grouper.of(old);
    const now = grouper.of({ ...old, ...fields });
    if (was.length === now.length && now.every((g) => was.includes(g))) return;
    this.indexGroups(cache, model, id, was, now);
  }

  async deleteRow(model: string, id: string): Promise<void> {
    const cache = this.writeCache();
    const codec = this.storage.codec(model);
    const grouper = this.storage.grouper(model);
    const raw = grouper.needsRow ? (cache.get(codec.getSql, true).get(id) as unknown[] | undefined) : undefined;
    if (cache.get(codec.deleteSql).run(id).changes === 0) throw notFound(model, id);
    // Its entries are the groups its values give (what they were written from).
    this.indexGroups(cache, model, id, grouper.of(raw ? codec.decodeRow(raw) : { id }), null);
  }

  async appendChange(change: ChangeRecord): Promise<void> {
    const cache = this.writeCache();
    this.appendEncoded(cache, change);
    if (this.head === null || change.syncId > this.head) this.head = change.syncId;
  }

  private insertEncoded(cache: StatementCache, codec: ModelCodec, row: StoredRow): void {
    const params = codec.encodeInsert(row);
    try {
      cache.get(codec.insertSql).run(...params);
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw abloError('id_exists', { model: codec.name, id: row.id, field: 'id' });
      }
      throw err;
    }
  }

  private updateEncoded(cache: StatementCache, codec: ModelCodec, id: string, fields: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): void {
    const { sql, params } = codec.encodeUpdate(id, fields, meta);
    if (cache.get(sql).run(...params).changes === 0) throw notFound(codec.name, id);
  }

  /** Move a row's group-index entries from `was` to `now` (either may be null: none). */
  private indexGroups(cache: StatementCache, model: string, id: string, was: readonly string[] | null, now: readonly string[] | null): void {
    if (was) {
      const drop = cache.get(GROUP_SQL.deleteRowGroup);
      for (const g of was) drop.run(model, g, id);
    }
    if (now) {
      const insertGroup = cache.get(GROUP_SQL.insertRowGroup);
      for (const g of now) insertGroup.run(model, g, id);
    }
  }

  private appendEncoded(cache: StatementCache, change: ChangeRecord): void {
    cache.get(SQL.insertChange).run(...changeParams(change));
    const insertGroup = cache.get(GROUP_SQL.insertChangeGroup);
    for (const g of change.groups) insertGroup.run(g, change.syncId);
    if (change.prevGroups) for (const g of change.prevGroups) insertGroup.run(g, change.syncId);
    this.written.push(change);
  }

  async rowChangesAfter(model: string, id: string, afterSyncId: number): Promise<RowChangeMeta[]> {
    const rows = this.cache().get(SQL.rowChangesAfter).all(model, id, afterSyncId) as Parameters<typeof rowChangeFromRow>[0][];
    return rows.map(rowChangeFromRow);
  }

  async groupChangeAfter(group: string, afterSyncId: number): Promise<ChangeRecord | null> {
    const row = this.cache().get(SQL.groupChangeAfter).get(group, afterSyncId) as ChangeRow | undefined;
    return row ? changeFromRow(row) : null;
  }

  async changeLogFloor(): Promise<number> {
    this.cache();
    return this.storage.currentFloor();
  }

  async getIdempotency(key: string): Promise<IdempotencyRecord | null> {
    const row = this.cache().get(SQL.getIdempotency).get(key) as { request_hash: string; receipt: string } | undefined;
    return row ? { requestHash: row.request_hash, receipt: JSON.parse(row.receipt) as IdempotencyRecord['receipt'] } : null;
  }

  async getMeta(key: string): Promise<string | null> {
    const row = this.cache().get(SQL.getMeta).get(key) as { value: string } | undefined;
    return row ? row.value : null;
  }

  async putMeta(key: string, value: string): Promise<void> {
    this.writeCache().get(SQL.putMeta).run(key, value);
  }

  async deleteMeta(key: string): Promise<void> {
    this.writeCache().get(SQL.deleteMeta).run(key);
  }

  async putIdempotency(key: string, record: IdempotencyRecord): Promise<void> {
    this.writeCache().get(SQL.putIdempotency).run(key, record.requestHash, JSON.stringify(record.receipt), new Date().toISOString());
  }

  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const cache = this.cache();
    const level = this.depth;
    const name = quoteId(`_ablo_sp_${level}`);
    cache.get(`SAVEPOINT ${name}`).run();
    this.depth = level + 1;
    const headBefore = this.head;
    const writtenBefore = this.written.length;
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      this.undo(level, name, headBefore, writtenBefore);
      throw err;
    }
    if (this.depth !== level + 1) {
      this.broken = 'Savepoints overlapped (one was started while another was running and not awaited inside it); run them one after another or nest them.';
      throw new AbloServerError(this.broken, { code: 'savepoint_misuse' });
    }
    this.cache().get(`RELEASE ${name}`).run();
    this.depth = level;
    return result;
  }

  async unguarded<T>(fn: () => Promise<T>): Promise<T> {
    // Inside a savepoint, that savepoint is the unit to undo: keep to it.
    if (this.depth !== 0) return this.savepoint(fn);
    this.cache();
    const writesBefore = this.writes;
    const headBefore = this.head;
    const writtenBefore = this.written.length;
    try {
      return await fn();
    } catch (err) {
      if (this.writes !== writesBefore) {
        // Its writes cannot be undone alone: nothing more of this transaction may commit.
        this.broken = 'A unit run without a savepoint failed after writing; the transaction must roll back.';
        throw new TransactionDoomed(err);
      }
      // It wrote nothing: only the ids it took (if any) are handed out again.
      this.head = headBefore;
      this.written.length = writtenBefore;
      throw err;
    }
  }

  private undo(level: number, name: string, headBefore: number | null, writtenBefore: number): void {
    if (this.depth !== level + 1) {
      this.broken = 'Savepoints overlapped (one was started while another was running and not awaited inside it); run them one after another or nest them.';
      return;
    }
    this.depth = level;
    // Its sync ids are handed out again and its changes are not announced.
    this.head = headBefore;
    this.written.length = writtenBefore;
    if (!this.open) return;
    const cache = this.storage.writerCache();
    // If SQLite already aborted the whole transaction there is nothing to roll back to.
    if (!cache.db.inTransaction) return;
    cache.get(`ROLLBACK TO ${name}`).run();
    cache.get(`RELEASE ${name}`).run();
  }
}

function notFound(model: string, id: string): AbloNotFoundError {
  return new AbloNotFoundError(`No ${model} row has the id "${id}".`, { code: 'row_not_found', model, id });
}

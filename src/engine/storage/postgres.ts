/**
 * The shared storage: Postgres (`pg`), for several engine processes behind
 * one database.
 *
 * Connections: one dedicated WRITER client runs transactions, schema changes
 * and key writes, one at a time (a queue serializes them in this process); a
 * pool of `poolSize` connections (default 4) serves every read made outside a
 * transaction, which sees committed state only.
 *
 * Layout: every table lives in the Postgres schema `schema` (default `ablo`;
 * each connection's search_path is that schema, then pg_catalog): one table
 * per model, named as the model, with typed columns (postgres-codec.ts), and
 * the `_ablo_*` tables (postgres-internal.ts), among them the sync-group
 * index (postgres-groups.ts).
 *
 * Sync ids, gap-free and in commit order across processes: every write
 * transaction takes the one row of `_ablo_head` FOR UPDATE as its first
 * statement, allocates ids from its `seq` in memory, and writes the new seq
 * back before COMMIT. Writers of every process are serialized by that row
 * lock, so what a transaction reads (the stale guard, idempotency keys)
 * includes every commit made before it by any process, and ids become
 * visible in commit order. The engine's group commit puts many commits in one
 * transaction, so the lock is taken once per batch. A transaction that wrote
 * changes also runs `pg_notify('<schema>_changes', lastSyncId)` (delivered at
 * commit; a hint for other processes' feeds).
 *
 * The head row also records the schema version: a transaction that finds a
 * version other than the one this instance loaded (another process pushed a
 * schema) reloads the schema before going on.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { AbloError, abloError, AbloNotFoundError, AbloServerError } from '../../errors.js';
import { stringifyJson } from '../../protocol/json.js';
import type { SerializedSchema } from '../../schema/descriptor.js';
import type { SchemaPlan, SchemaStats } from '../../schema/plan.js';
import { feedChannel, PostgresFeed, REVOCATION_NOTICE, SCHEMA_NOTICE } from './postgres-feed.js';
import { escapeText, hasOwn, PG_TYPES, PgModelCodec, quoteId, unescapeText, type PgValue } from './postgres-codec.js';
import { pgApplyPlan, pgTableColumns, pgTableExists } from './postgres-ddl.js';
import { modelGroups, type ModelGroups, type PgRun } from './postgres-groups.js';
import {
  changeFromRow,
  changesWhereSql,
  keyFromRow,
  keyParams,
  PG_INTERNAL_DDL,
  PG_KEYS_UPGRADE,
  PG_META_FLOOR,
  PG_META_FORMAT,
  PG_SQL,
  PG_STORAGE_FORMAT,
  PG_UPGRADE_2,
  type ChangeRow,
  type KeyRow,
} from './postgres-internal.js';
import { readInWindows } from './records.js';
import { SerialQueue } from './serial.js';
import { pgPageRowsSql, pgPageSql, pgRowJsonSql } from './postgres-json.js';
import { Params, pgAnchorSql, pgKeyset, pgOrder, pgSortKeys, pgWhere } from './postgres-query.js';
import { pgPruneChangesChunk, pgPruneIdempotencyChunk, pgReadFloor, PG_RETENTION_DDL } from './postgres-retention.js';
import { PostgresTx } from './postgres-tx.js';
import type {
  ApiKeyRecord,
  ChangeFilter,
  ChangeRecord,
  EncodedRowPage,
  ListQuery,
  ListResult,
  PruneCutoff,
  PruneResult,
  ScanJsonOptions,
  SchemaVersionRecord,
  Storage,
  StorageReadStats,
  StorageTx,
  StoredRow,
  TransactionOptions,
} from './types.js';

export interface PostgresStorageOptions {
  /** Connection string (`postgres://user@host:5432/db`). */
  url: string;
  /** Postgres schema holding every table (created if missing); default `ablo`. */
  schema?: string;
  /** Connections of the read pool (default 4); the writer and the change feed's LISTEN have one more each. */
  poolSize?: number;
  /** Where the change feed reports problems (a lost LISTEN connection, a gap); default stderr. */
  log?: (line: string) => void;
}

export function createPostgresStorage(options: PostgresStorageOptions): Storage {
  return new PostgresStorage(options);
}

type Queryable = pg.Client | pg.Pool | pg.PoolClient;

function positiveLimit(limit: number): number {
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) throw abloError('invalid_limit', { field: 'limit' });
  return Math.floor(limit);
}

function storageError(message: string, err: unknown): AbloServerError {
  const reason = err instanceof Error ? err.message : String(err);
  return new AbloServerError(`${message}: ${reason}`, { code: 'storage_error' });
}

/** Widest sync-id window one multi-group catch-up query covers. */

export class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  readonly schemaName: string;
  /** The NOTIFY channel of this schema's commits. */
  readonly channel: string;
  /** The connection string (the claim store of an engine on this storage connects to the same database). */
  readonly url: string;
  private readonly poolSize: number;

  private pool: pg.Pool | null = null;
  private writer: pg.Client | null = null;
  /** The writer's connection failed or ended (the server restarted, a network drop): the next writer job connects again. */
  private writerLost = false;

  private schema: SchemaVersionRecord | null = null;
  /** The schema version this instance loaded (the head row's `schema_version` when it did). */
  private schemaVersion = 0;
  private readonly schemaListeners = new Set<(record: SchemaVersionRecord) => void>();
  /** The head row's revocation counter when this instance last told its revocation listeners. */
  private revocations = 0;
  private readonly revocationListeners = new Set<() => Promise<void>>();
  private codecs = new Map<string, PgModelCodec>();
  private groupers = new Map<string, ModelGroups>();
  private rowJson = new WeakMap<PgModelCodec, string>();
  /** Names of prepared statements, by SQL text (renamed after every schema load: a table's columns may have changed). */
  private statementNames = new Map<string, string>();
  private statementSeq = 0;

  private floor = 0;
  /** The change feed across processes: this process's commits, and every other process's, read after their NOTIFY. */
  readonly feed: PostgresFeed;
  private readonly reads: StorageReadStats = { rowsRead: 0, changesRead: 0 };

  private readonly writes = new SerialQueue();
  private readonly inTx = new AsyncLocalStorage<boolean>();
  private opening: Promise<void> | null = null;

  constructor(options: PostgresStorageOptions) {
    this.url = options.url;
    this.schemaName = options.schema ?? 'ablo';
    this.poolSize = options.poolSize ?? 4;
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,50}$/.test(this.schemaName)) {
      throw new AbloServerError(`Postgres schema name "${this.schemaName}" is not a plain identifier (letters, digits, _).`, { code: 'storage_error' });
    }
    this.channel = feedChannel(this.schemaName);
    this.feed = new PostgresFeed({
      reads: {
        after: (afterSyncId, limit) => this.changesAfter(afterSyncId, limit),
        afterInGroups: (groups, afterSyncId, upToSyncId, limit) => this.changesInGroups(groups, afterSyncId, upToSyncId, limit),
      },
      connect: () => new pg.Client({ ...this.connectionConfig('listen'), keepAlive: true }),
      channel: this.channel,
      floor: () => this.changeLogFloor(),
      onSchemaNotice: () => void this.refreshSchema(),
      onRevocationNotice: () => void this.tellRevocationListeners().catch(() => undefined),
      ...(options.log ? { log: options.log } : {}),
    });
  }

  // -------------------------------------------------------------------------
  // Lifecycle

  async open(): Promise<void> {
    if (this.writer) return;
    this.opening ??= this.doOpen().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** `role` names the connection in pg_stat_activity (`ablo writer`, `ablo reads`). */
  private connectionConfig(role: 'writer' | 'reads' | 'listen'): pg.ClientConfig {
    return {
      connectionString: this.url,
      application_name: `ablo ${role}`,
      types: PG_TYPES as pg.CustomTypesConfig,
      options: `-c search_path=${quoteId(this.schemaName)},pg_catalog -c extra_float_digits=1`,
    };
  }

  private async doOpen(): Promise<void> {
    const writer = this.newWriter();
    const pool = new pg.Pool({ ...this.connectionConfig('reads'), max: this.poolSize });
    pool.on('error', () => undefined);
    try {
      await writer.connect();
      await writer.query('BEGIN');
      // Two processes opening a new database at once: one creates, the other waits.
      await writer.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ablo:${this.schemaName}`]);
      await writer.query(`CREATE SCHEMA IF NOT EXISTS ${quoteId(this.schemaName)}`);
      await writer.query(`SELECT set_config('search_path', $1, true)`, [`${quoteId(this.schemaName)},pg_catalog`]);
      await writer.query(PG_INTERNAL_DDL);
      await writer.query(PG_RETENTION_DDL);
      const format = (await writer.query(PG_SQL.getMeta, [PG_META_FORMAT])).rows[0] as { value: string } | undefined;
      if (format && Number(format.value) > PG_STORAGE_FORMAT) {
        throw new Error(`the database was written by a newer version of Ablo (storage format ${format.value}, this version reads ${PG_STORAGE_FORMAT})`);
      }
      if (!format) await writer.query(PG_SQL.putMeta, [PG_META_FORMAT, String(PG_STORAGE_FORMAT)]);
      else if (Number(format.value) < 2) {
        // Format 1 kept no credential on changes and had no key kinds: its keys become secret keys (the columns' default).
        await writer.query(PG_UPGRADE_2);
        await writer.query(PG_KEYS_UPGRADE);
        await writer.query(PG_SQL.putMeta, [PG_META_FORMAT, String(PG_STORAGE_FORMAT)]);
      }
      const head = (await writer.query(PG_SQL.readHead)).rows[0] as { seq: number; schema_version: number; revocations: number };
      this.revocations = Number(head.revocations);
      const floor = (await writer.query(PG_SQL.getMeta, [PG_META_FLOOR])).rows[0] as { value: string } | undefined;
      await this.loadSchema(writer, head.schema_version);
      await writer.query('COMMIT');
      this.floor = Number(floor?.value ?? 0);
      this.writer = writer;
      this.writerLost = false;
      this.pool = pool;
      // LISTEN before anything commits after this head, then catch up (reads use the pool).
      await this.feed.start(head.seq);
    } catch (err) {
      this.writer = null;
      this.pool = null;
      await this.feed.stop().catch(() => undefined);
      await writer.end().catch(() => undefined);
      await pool.end().catch(() => undefined);
      if (err instanceof AbloError) throw err;
      throw storageError(`Could not open the Postgres storage (schema ${this.schemaName})`, err);
    }
  }

  /** A writer client; an error or end of its connection marks it lost (errors of an idle connection would otherwise crash the process). */
  private newWriter(): pg.Client {
    const writer = new pg.Client(this.connectionConfig('writer'));
    const lost = (): void => {
      if (this.writer === writer) this.writerLost = true;
    };
    writer.on('error', lost);
    writer.on('end', lost);
    return writer;
  }

  /** The writer for a job running in the writer queue: connected again first if its connection was lost. */
  private async liveWriter(): Promise<pg.Client> {
    const old = this.writerClient();
    if (!this.writerLost) return old;
    const writer = this.newWriter();
    try {
      await writer.connect();
    } catch (err) {
      await writer.end().catch(() => undefined);
      throw storageError('The connection to Postgres was lost and could not be made again', err);
    }
    this.writer = writer;
    this.writerLost = false;
    await old.end().catch(() => undefined);
    return writer;
  }

  async close(): Promise<void> {
    if (!this.writer) return;
    this.refuseInsideTransaction('close()');
    await this.exclusive(async () => {
      const writer = this.writer;
      const pool = this.pool;
      if (!writer) return;
      this.writer = null;
      this.pool = null;
      this.codecs.clear();
      this.groupers.clear();
      // The feed first: its reads use the pool.
      await this.feed.stop().catch(() => undefined);
      await writer.end().catch(() => undefined);
      await pool?.end().catch(() => undefined);
    });
  }

  // -------------------------------------------------------------------------
  // Internals shared with the transaction object

  /** @internal Load the latest schema version (the head row says `version`). */
  async loadSchema(conn: Queryable, version: number): Promise<void> {
    const latest = (await conn.query(PG_SQL.latestSchema)).rows[0] as { version: number; serialized: string; applied_at: string } | undefined;
    this.schema = latest ? { version: latest.version, serialized: JSON.parse(latest.serialized) as SerializedSchema, appliedAt: latest.applied_at } : null;
    this.schemaVersion = version;
    this.forgetSchemaState();
    // Another process pushed it (this one's own pushes set the version without loading): tell the engine now,
    // before the transaction that found it plans anything under the old schema.
    if (this.schema) for (const listener of this.schemaListeners) listener(this.schema);
  }

  /**
   * Another process may have applied a schema (its notice on the feed's channel): load it now if the head row says
   * so, between this process's transactions. Failures are left to the next write transaction, which checks too.
   */
  private async refreshSchema(): Promise<void> {
    try {
      await this.exclusive(async () => {
        if (!this.writer) return;
        const writer = await this.liveWriter();
        const head = (await writer.query(PG_SQL.readHead)).rows[0] as { schema_version: number };
        if (head.schema_version !== this.schemaVersion) await this.loadSchema(writer, head.schema_version);
      });
    } catch {
      // The next write transaction reads the head row and loads the schema.
    }
  }

  /** @internal The revocation counter this instance has told its listeners about. */
  seenRevocations(): number {
    return this.revocations;
  }

  /** @internal A write transaction found the head's revocation counter at `n`: tell the listeners, and wait for them. */
  async revocationsMoved(n: number): Promise<void> {
    await this.tellRevocationListeners();
    this.revocations = Math.max(this.revocations, n);
  }

  private async tellRevocationListeners(): Promise<void> {
    await Promise.all([...this.revocationListeners].map((l) => l()));
  }

  onRevocation(listener: () => Promise<void>): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /**
   * Run `write` (on the writer, inside a transaction) as a revocation: the head's revocation counter moves in the same
   * transaction and a `revoked` notice goes out at COMMIT, so every process's next write transaction (and its feed)
   * hears of it. `write` answers whether it revoked anything (nothing moves otherwise).
   */
  private revocation<T>(write: (writer: pg.Client) => Promise<{ changed: boolean; value: T }>): Promise<T> {
    this.writerClient();
    return this.exclusive(async () => {
      const writer = await this.liveWriter();
      await writer.query('BEGIN');
      try {
        const { changed, value } = await write(writer);
        if (changed) {
          const n = Number(((await this.query(writer, PG_SQL.bumpRevocations, [this.channel, REVOCATION_NOTICE])).rows[0] as { revocations: number }).revocations);
          // This process tells its own listeners itself (the caller); another process's bump in between is heard by them.
          if (n === this.revocations + 1) this.revocations = n;
        }
        await writer.query('COMMIT');
        return value;
      } catch (err) {
        await writer.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  onSchemaLoaded(listener: (record: SchemaVersionRecord) => void): () => void {
    this.schemaListeners.add(listener);
    return () => this.schemaListeners.delete(listener);
  }

  /** @internal The schema version this instance loaded. */
  loadedSchemaVersion(): number {
    return this.schemaVersion;
  }

  private forgetSchemaState(): void {
    this.codecs.clear();
    this.groupers.clear();
    this.rowJson = new WeakMap();
    this.statementNames.clear();
  }

  /** @internal Run one statement on `conn`; `named`: as a prepared statement (fixed SQL text only). */
  async query(conn: Queryable, text: string, params: readonly PgValue[] = [], arrays = false, named = false): Promise<pg.QueryResult> {
    const config: pg.QueryConfig & { rowMode?: 'array' } = { text, values: params as unknown[] };
    if (arrays) config.rowMode = 'array';
    if (named) {
      let name = this.statementNames.get(text);
      if (name === undefined) {
        if (this.statementNames.size >= 1000) this.statementNames.clear();
        this.statementNames.set(text, (name = `ablo_${++this.statementSeq}`));
      }
      config.name = name;
    }
    return conn.query(config as pg.QueryConfig);
  }

  /** @internal The writer connection. */
  writerClient(): pg.Client {
    if (!this.writer) throw abloError('storage_closed');
    return this.writer;
  }

  private readPool(): pg.Pool {
    if (!this.pool) throw abloError('storage_closed');
    return this.pool;
  }

  /** A read on the pool (committed state). */
  private read(text: string, params: readonly PgValue[] = [], arrays = false, named = true): Promise<pg.QueryResult> {
    return this.query(this.readPool(), text, params, arrays, named);
  }

  /** @internal The codec of a model of the current schema. */
  codec(model: string): PgModelCodec {
    let codec = this.codecs.get(model);
    if (codec) return codec;
    const models = this.schema?.serialized.models;
    if (!models || !hasOwn(models, model)) throw abloError('unknown_model', { model });
    codec = new PgModelCodec(model, models[model]!);
    this.codecs.set(model, codec);
    return codec;
  }

  /** @internal Whether the current schema has the model. */
  hasModel(model: string): boolean {
    const models = this.schema?.serialized.models;
    return !!models && hasOwn(models, model);
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
      throw new AbloServerError(`${what} was called inside a storage transaction; it would wait for that transaction forever.`, { code: 'nested_transaction' });
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.writes.run(fn);
  }

  // -------------------------------------------------------------------------
  // Transactions

  async transaction<T>(fn: (tx: StorageTx) => Promise<T>, options?: TransactionOptions): Promise<T> {
    if (this.inTx.getStore()) throw abloError('nested_transaction');
    this.writerClient();
    if (options?.trusted) return this.exclusive(() => this.runTransaction(fn, false));
    return this.exclusive(() => this.inTx.run(true, () => this.runTransaction(fn, true)));
  }

  private async runTransaction<T>(fn: (tx: StorageTx) => Promise<T>, marked: boolean): Promise<T> {
    const writer = await this.liveWriter();
    const tx = new PostgresTx(this, writer);
    let result: T;
    let commitStarted = false;
    try {
      await writer.query('BEGIN');
      await tx.begin();
      result = await fn(tx);
      tx.finish();
      await tx.beforeCommit(this.channel);
      tx.end();
      if (tx.written.length > 0) {
        this.feed.commitStarting();
        commitStarted = true;
      }
      await writer.query('COMMIT');
    } catch (err) {
      tx.end();
      if (commitStarted) this.feed.commitFailed();
      await writer.query('ROLLBACK').catch(() => undefined);
      if (err instanceof AbloError || !(err instanceof Error) || !('severity' in err)) throw err;
      throw storageError('The Postgres transaction failed', err);
    }
    const written = tx.written;
    if (written.length > 0) {
      if (marked) await this.inTx.run(false, () => this.committed(written));
      else await this.committed(written);
    }
    return result;
  }

  /** Changes of this process's transaction are durable: announce them (the one place), through the feed across processes. */
  private committed(records: readonly ChangeRecord[]): void | Promise<void> {
    // Announced in sync-id order with every other process's commits: when another process committed in between,
    // its changes are read from the log first.
    return this.feed.committed(records);
  }

  // -------------------------------------------------------------------------
  // Schema

  async getSchema(): Promise<SchemaVersionRecord | null> {
    this.readPool();
    return this.schema;
  }

  async collectStats(schema: SerializedSchema): Promise<SchemaStats> {
    const stats: SchemaStats = {};
    const run: PgRun = (sql, params, arrays) => this.query(this.readPool(), sql, params, arrays);
    for (const [name, model] of Object.entries(schema.models)) {
      const fieldNames = Object.keys(model.fields);
      if (!(await pgTableExists(run, name))) {
        const fields: NonNullable<SchemaStats[string]['fields']> = {};
        for (const f of fieldNames) fields[f] = model.fields[f]!.type === 'enum' ? { nonNull: 0, values: {} } : { nonNull: 0 };
        stats[name] = { rows: 0, fields };
        continue;
      }
      const columns = await pgTableColumns(run, name);
      const present = fieldNames.filter((f) => columns.has(f));
      const table = quoteId(name);
      const { rows } = await run(`SELECT COUNT(*)${present.map((f) => `, COUNT(${quoteId(f)})`).join('')} FROM ${table}`, [], true);
      const counts = rows[0] as number[];
      const fields: NonNullable<SchemaStats[string]['fields']> = {};
      for (const [i, f] of present.entries()) {
        fields[f] = { nonNull: counts[i + 1]! };
        if (model.fields[f]!.type !== 'enum') continue;
        const col = quoteId(f);
        const values: Record<string, number> = {};
        const groups = await run(`SELECT ${col}, COUNT(*) FROM ${table} WHERE ${col} IS NOT NULL GROUP BY ${col}`, [], true);
        for (const [v, n] of groups.rows as Array<[unknown, number]>) values[typeof v === 'string' ? unescapeText(v) : String(v)] = n;
        fields[f]!.values = values;
      }
      stats[name] = { rows: counts[0]!, fields };
    }
    return stats;
  }

  async applySchema(plan: SchemaPlan, next: SerializedSchema, baseVersion?: number): Promise<SchemaVersionRecord> {
    this.refuseInsideTransaction('applySchema()');
    this.writerClient();
    // Taken now: a schema notice may load another process's push before this job runs.
    const base = baseVersion ?? this.schemaVersion;
    return this.exclusive(async () => {
      const writer = await this.liveWriter();
      const run: PgRun = (sql, params, arrays) => this.query(writer, sql, params, arrays);
      const serialized = JSON.stringify(next);
      let record: SchemaVersionRecord;
      try {
        await writer.query('BEGIN');
        const head = (await writer.query(PG_SQL.lockHead)).rows[0] as { seq: number; schema_version: number };
        if (head.schema_version !== base) {
          if (head.schema_version !== this.schemaVersion) await this.loadSchema(writer, head.schema_version);
          throw new AbloServerError(
            `Another engine process pushed schema version ${head.schema_version} meanwhile; plan the change again against it.`,
            { code: 'schema_apply_failed' },
          );
        }
        await pgApplyPlan(run, plan, next, this.schema?.serialized ?? null);
        const version = ((await writer.query(PG_SQL.nextSchemaVersion)).rows[0] as { v: number }).v;
        const appliedAt = new Date().toISOString();
        await writer.query(PG_SQL.insertSchema, [version, serialized, appliedAt]);
        await writer.query(PG_SQL.writeSchemaVersion, [version]);
        // Delivered at COMMIT: the other processes load the new schema now, not at their next commit.
        await writer.query('SELECT pg_notify($1, $2)', [this.channel, SCHEMA_NOTICE]);
        await writer.query('COMMIT');
        record = { version, serialized: JSON.parse(serialized) as SerializedSchema, appliedAt };
      } catch (err) {
        await writer.query('ROLLBACK').catch(() => undefined);
        this.forgetSchemaState();
        if (err instanceof AbloError) throw err;
        throw storageError('Could not apply the schema', err);
      }
      this.schema = record;
      this.schemaVersion = record.version;
      this.forgetSchemaState();
      return record;
    });
  }

  // -------------------------------------------------------------------------
  // Reads (the pool: committed state only)

  async getRow(model: string, id: string): Promise<StoredRow | null> {
    const codec = this.codec(model);
    const { rows } = await this.read(codec.getSql, [escapeText(id)], true);
    return rows.length > 0 ? codec.decodeRow(rows[0] as unknown[]) : null;
  }

  async listRows(model: string, query: ListQuery): Promise<ListResult> {
    const codec = this.codec(model);
    const keys = pgSortKeys(codec, query.orderBy);
    const params = new Params();
    const parts = pgWhere(codec, query.where, params);
    const limit = positiveLimit(query.limit);
    const startingAfter = query.startingAfter;
    const page = async (conn: Queryable): Promise<ListResult> => {
      if (startingAfter !== undefined && startingAfter !== null) {
        const anchor = (await this.query(conn, pgAnchorSql(codec, keys), [escapeText(startingAfter)], true)).rows[0] as unknown[] | undefined;
        if (!anchor) {
          throw new AbloNotFoundError(`startingAfter: no ${model} row has the id "${startingAfter}".`, { code: 'row_not_found', model, id: startingAfter });
        }
        parts.push(pgKeyset(keys, anchor, params));
      }
      const sql =
        `SELECT ${codec.selectList} FROM ${codec.table}` + (parts.length ? ` WHERE ${parts.join(' AND ')}` : '') + ` ORDER BY ${pgOrder(keys)} LIMIT ${params.add(limit + 1)}`;
      const raws = (await this.query(conn, sql, params.values, true)).rows as unknown[][];
      const hasMore = raws.length > limit;
      if (hasMore) raws.length = limit;
      return { rows: raws.map((r) => codec.decodeRow(r)), hasMore };
    };
    if (startingAfter === undefined || startingAfter === null) return page(this.readPool());
    // The anchor lookup and the page read one snapshot.
    return this.snapshot(page);
  }

  /** Run `fn` on one pool connection inside a read-only repeatable-read transaction. */
  private async snapshot<T>(fn: (conn: pg.PoolClient) => Promise<T>): Promise<T> {
    const conn = await this.readPool().connect();
    try {
      await conn.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const out = await fn(conn);
      await conn.query('COMMIT');
      return out;
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  async scanRows(model: string, afterId: string | null, limit: number): Promise<StoredRow[]> {
    const codec = this.codec(model);
    const { rows } = await this.read(codec.scanAfterSql, [escapeText(afterId ?? ''), positiveLimit(limit)], true);
    this.reads.rowsRead += rows.length;
    return (rows as unknown[][]).map((r) => codec.decodeRow(r));
  }

  async scanGroupRows(model: string, group: string, afterId: string | null, limit: number): Promise<StoredRow[]> {
    const codec = this.codec(model);
    const sql =
      `SELECT ${codec.selectList} FROM ${codec.table} WHERE "id" IN ` +
      `(SELECT row_id FROM _ablo_row_groups WHERE model = $1 AND grp = $2 AND row_id > $3 ORDER BY row_id LIMIT $4) ORDER BY "id"`;
    const { rows } = await this.read(sql, [model, escapeText(group), escapeText(afterId ?? ''), positiveLimit(limit)], true);
    this.reads.rowsRead += rows.length;
    return (rows as unknown[][]).map((r) => codec.decodeRow(r));
  }

  async scanGroupRowsJson(model: string, group: string, afterId: string | null, options: ScanJsonOptions): Promise<EncodedRowPage> {
    const codec = this.codec(model);
    const limit = positiveLimit(options.limit);
    const maxBytes = options.maxBytes ?? Infinity;
    const skip = options.skipGroups && options.skipGroups.length > 0 ? [...new Set(options.skipGroups)].map(escapeText) : null;
    let rowJson = this.rowJson.get(codec);
    if (rowJson === undefined) this.rowJson.set(codec, (rowJson = pgRowJsonSql(codec)));
    const grouper = this.grouper(model);
    const whole = skip === null && grouper.fields.size === 0 && grouper.of({}).includes(group);
    const after = escapeText(afterId ?? '');
    const params: PgValue[] = whole ? [after, limit] : [model, escapeText(group), after, limit];
    if (skip !== null) params.push(skip);
    const from = whole ? 'table' : 'group';
    const { rows } = await this.read(pgPageSql(pgPageRowsSql(codec, rowJson, from, skip !== null)), params);
    const page = rows[0] as { read: number; last: string | null; fallback: number; rows: number; json: Buffer | null };
    const bytes = page.json?.length ?? 0;
    if (page.fallback === 0 && (bytes <= maxBytes || page.rows <= 1)) {
      this.reads.rowsRead += page.read;
      return { json: page.json ?? Buffer.alloc(0), rows: page.rows, lastId: page.last === null ? null : unescapeText(page.last), done: page.read < limit };
    }
    // A row SQL could not encode, or over the byte budget: this page again with its rows' columns, encoded here.
    const full = await this.read(pgPageRowsSql(codec, rowJson, from, skip !== null, true), params, true, false);
    return this.jsonPageByRow(codec, full.rows as unknown[][], limit, maxBytes);
  }

  /** A page from its rows (`id`, `j`, then the row's columns): rows JavaScript must encode are encoded here; the page ends before the row that would take it over `maxBytes`. */
  private jsonPageByRow(codec: PgModelCodec, raws: unknown[][], limit: number, maxBytes: number): EncodedRowPage {
    const parts: string[] = [];
    let bytes = 0;
    let read = 0;
    let lastId: string | null = null;
    let full = false;
    for (const raw of raws) {
      let text = raw[1] as string | null;
      if (text === null) text = stringifyJson(codec.decodeRow(raw.slice(2)));
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
      lastId = unescapeText(raw[0] as string);
    }
    this.reads.rowsRead += read;
    return { json: Buffer.from(parts.join(',')), rows: parts.length, lastId, done: !full && raws.length < limit };
  }

  async changesAfter(afterSyncId: number, limit: number): Promise<ChangeRecord[]> {
    const { rows } = await this.read(PG_SQL.changesAfter, [afterSyncId, positiveLimit(limit)]);
    this.reads.changesRead += rows.length;
    return (rows as ChangeRow[]).map(changeFromRow);
  }

  async changesWhere(filter: ChangeFilter, afterSyncId: number, limit: number): Promise<ChangeRecord[]> {
    const { sql, params } = changesWhereSql(filter, afterSyncId, positiveLimit(limit));
    const { rows } = await this.read(sql, params);
    this.reads.changesRead += rows.length;
    return (rows as ChangeRow[]).map(changeFromRow);
  }

  async changesInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]> {
    const n = positiveLimit(limit);
    this.readPool();
    if (groups.length === 0 || n === 0 || afterSyncId >= upToSyncId) return [];
    let rows: ChangeRow[];
    if (groups.length === 1) {
      rows = (await this.read(PG_SQL.changesInGroup, [escapeText(groups[0]!), afterSyncId, upToSyncId, n])).rows as ChangeRow[];
    } else {
      // Several groups: windows of sync ids, widened when they hold few hits (as on SQLite).
      const list = [...new Set(groups)].map(escapeText);
      rows = await readInWindows(
        afterSyncId,
        upToSyncId,
        n,
        async (from, to, want) => (await this.read(PG_SQL.changesInGroups, [list, from, to, want])).rows as ChangeRow[],
      );
    }
    this.reads.changesRead += rows.length;
    return rows.map(changeFromRow);
  }

  readStats(): StorageReadStats {
    return { ...this.reads };
  }

  async lastSyncId(): Promise<number> {
    this.readPool();
    return this.feed.head();
  }

  /** Read from the database: another engine process may have pruned. */
  async changeLogFloor(): Promise<number> {
    const floor = await pgReadFloor(this.readPool());
    if (floor > this.floor) this.floor = floor;
    return this.floor;
  }

  async prune(cutoff: PruneCutoff): Promise<PruneResult> {
    this.refuseInsideTransaction('prune()');
    for (const t of [cutoff.changesBefore, cutoff.idempotencyBefore]) {
      if (typeof t !== 'string' || Number.isNaN(Date.parse(t))) throw abloError('invalid_input');
    }
    this.writerClient();
    const changesBefore = new Date(cutoff.changesBefore).toISOString();
    const idempotencyBefore = new Date(cutoff.idempotencyBefore).toISOString();
    let changes = 0;
    let idempotency = 0;
    try {
      // Each chunk is its own short transaction on the writer queue, with the head row taken: commits of every
      // process go on between chunks.
      for (let more = true; more; ) {
        more = await this.exclusive(async () => {
          const chunk = await pgPruneChangesChunk(await this.liveWriter(), changesBefore);
          if (chunk.floor !== null && chunk.floor > this.floor) this.floor = chunk.floor;
          changes += chunk.deleted;
          return chunk.more;
        });
      }
      for (let more = true; more; ) {
        more = await this.exclusive(async () => {
          const chunk = await pgPruneIdempotencyChunk(await this.liveWriter(), idempotencyBefore);
          idempotency += chunk.deleted;
          return chunk.more;
        });
      }
    } catch (err) {
      if (err instanceof AbloError) throw err;
      throw storageError('Could not prune the change log', err);
    }
    return { changes, idempotency, floor: await this.changeLogFloor() };
  }

  // -------------------------------------------------------------------------
  // API keys (no change is appended: no head lock)

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    this.refuseInsideTransaction('insertApiKey()');
    this.writerClient();
    await this.exclusive(async () => {
      await this.query(await this.liveWriter(), PG_SQL.insertKey, keyParams(key));
    });
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const row = (await this.read(PG_SQL.keyByHash, [hash])).rows[0] as KeyRow | undefined;
    return row ? keyFromRow(row) : null;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return ((await this.read(PG_SQL.listKeys)).rows as KeyRow[]).map(keyFromRow);
  }

  async revokeApiKey(id: string, at: string): Promise<boolean> {
    this.refuseInsideTransaction('revokeApiKey()');
    return this.revocation(async (writer) => {
      const changed = ((await this.query(writer, PG_SQL.revokeKey, [at, id])).rowCount ?? 0) > 0;
      return { changed, value: changed };
    });
  }

  async countApiKeys(): Promise<number> {
    return ((await this.read(PG_SQL.countKeys)).rows[0] as { n: number }).n;
  }

  // -------------------------------------------------------------------------
  // Engine records (signing keys, revocations; no change is appended: no head lock)

  async ensureMeta(key: string, value: string, options: { revocation?: boolean } = {}): Promise<string> {
    this.refuseInsideTransaction('ensureMeta()');
    if (options.revocation) {
      return this.revocation(async (writer) => {
        const changed = ((await this.query(writer, PG_SQL.ensureMeta, [key, value])).rowCount ?? 0) > 0;
        return { changed, value: ((await this.query(writer, PG_SQL.getMeta, [key])).rows[0] as { value: string }).value };
      });
    }
    this.writerClient();
    return this.exclusive(async () => {
      const writer = await this.liveWriter();
      await this.query(writer, PG_SQL.ensureMeta, [key, value]);
      return ((await this.query(writer, PG_SQL.getMeta, [key])).rows[0] as { value: string }).value;
    });
  }

  async listMeta(prefix: string): Promise<Array<{ key: string; value: string }>> {
    return (await this.read(PG_SQL.listMeta, [prefix])).rows as Array<{ key: string; value: string }>;
  }
}

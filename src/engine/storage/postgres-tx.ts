/**
 * Postgres storage: the handle `transaction(fn)` passes to `fn` — the commit
 * path's read port and row sink. Every call runs on the writer connection,
 * inside the open transaction, so it sees the transaction's own writes.
 *
 * Sync ids come from the head row, locked by `begin()` (the transaction's
 * first statement) and written back by `beforeCommit()`; in between they are
 * counted in memory. `write(changes)` batches: consecutive creates of a model
 * go in one multi-row INSERT, the change-log entries of the batch in one
 * INSERT, the group-index entries in one statement per kind.
 *
 * Postgres aborts the whole transaction on any SQL error: a statement that
 * failed marks the transaction, which only a ROLLBACK TO SAVEPOINT clears; an
 * `unguarded` unit whose SQL failed therefore throws `TransactionDoomed`.
 *
 * Inside an `unguarded` unit (not in a savepoint), `write` and
 * `putIdempotency` only buffer (postgres-write-buffer.ts): the reads of this
 * object answer from the buffer what it holds, and the buffer is sent as one
 * statement before COMMIT, before a savepoint and before a single-row
 * primitive. Its writes were made by units that already returned, so a flush
 * that fails (a duplicate id or key, a row gone) throws `TransactionDoomed`:
 * the batch runs again, each commit in a savepoint, unbuffered.
 */
import type pg from 'pg';
import { abloError, AbloNotFoundError, AbloServerError } from '../../errors.js';
import { escapeText, quoteId, unescapeText, type PgModelCodec, type PgValue } from './postgres-codec.js';
import { RowGroupChanges } from './postgres-groups.js';
import { appendWriteSql, CHANGE_WIDTH, changeFromRow, insertChangesSql, PG_SQL, pushChangeParams, rowChangeFromRow, type ChangeRow } from './postgres-internal.js';
import { pgReadFloor } from './postgres-retention.js';
import { PgWriteBuffer, rowKey } from './postgres-write-buffer.js';
import type { PostgresStorage } from './postgres.js';
import type { ChangeRecord, IdempotencyRecord, PlannedChange, RowChangeMeta, RowRef, StorageTx, StoredRow } from './types.js';
import { TransactionDoomed } from './types.js';

/** Most parameters one statement binds (Postgres allows 65,535). */
const MAX_PARAMS = 30_000;

function notFound(model: string, id: string): AbloNotFoundError {
  return new AbloNotFoundError(`No ${model} row has the id "${id}".`, { code: 'row_not_found', model, id });
}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A unique violation on the model's table as `id_exists` (the id from the error's detail); any other error as it is. */
function idExists(err: unknown, p: PendingCreates): unknown {
  const table = (err as { table?: unknown } | null)?.table;
  if (pgCode(err) !== '23505' || (table !== undefined && table !== p.codec.name)) return err;
  const m = /=\((.*)\) already exists/s.exec(String((err as { detail?: unknown }).detail ?? ''));
  const id = m ? unescapeText(m[1]!) : p.ids[0]!;
  return abloError('id_exists', { model: p.codec.name, id, field: 'id' });
}

/** Creates of one model waiting to be inserted together. */
interface PendingCreates {
  codec: PgModelCodec;
  params: PgValue[];
  ids: string[];
}

/** The change-group entries of `changes` (groups and previous groups) as parallel arrays: escaped groups, sync ids. */
function changeGroupArrays(changes: readonly ChangeRecord[]): [string[], number[]] {
  const grps: string[] = [];
  const ids: number[] = [];
  for (const c of changes) {
    for (const g of c.groups) grps.push(escapeText(g)), ids.push(c.syncId);
    if (c.prevGroups) for (const g of c.prevGroups) grps.push(escapeText(g)), ids.push(c.syncId);
  }
  return [grps, ids];
}

/** The change-log entry of a planned change written with `syncId`. */
function changeOf(planned: PlannedChange, syncId: number): ChangeRecord {
  const change: ChangeRecord = {
    participant: planned.participant,
    clientTxId: planned.clientTxId,
    commitId: planned.commitId,
    at: planned.at,
    model: planned.model,
    syncId,
    id: planned.id,
    action: planned.action,
    fields: planned.fields,
    data: planned.data,
    groups: planned.groups,
  };
  if (planned.prevGroups) change.prevGroups = planned.prevGroups;
  if (planned.onBehalfOf) change.onBehalfOf = planned.onBehalfOf;
  if (planned.credentialId !== undefined) change.credentialId = planned.credentialId;
  return change;
}

export class PostgresTx implements StorageTx {
  private open = true;
  private depth = 0;
  private broken: string | null = null;
  /** Last sync id allocated (or seen) in this transaction. */
  private head = 0;
  /** The head row's seq when the transaction took it. */
  private startSeq = 0;
  readonly written: ChangeRecord[] = [];
  private writes = 0;
  /** The change log's floor, once read in this transaction. */
  private floor: number | undefined;
  /** A statement failed since the last savepoint rollback: Postgres refuses every statement until then. */
  private failed = false;
  /** Writes of `unguarded` units not sent yet. */
  private buffer = new PgWriteBuffer();
  /** Inside an `unguarded` unit: `write` and `putIdempotency` go to `buffer` (not inside a savepoint). */
  private buffering = false;
  /**
   * Rows read ahead by `prefetchRows` (raw, `null`: no row), by `rowKey`. Exact while the head row is held (every
   * writer of model rows takes it first); an entry goes when this transaction writes the row.
   */
  private readonly prefetched = new Map<string, unknown[] | null>();

  constructor(
    private readonly storage: PostgresStorage,
    private readonly conn: pg.Client,
  ) {}

  /** The transaction's first statement: take the head row; reload the schema if another process pushed one. */
  async begin(): Promise<void> {
    const { rows } = await this.run(PG_SQL.lockHead, [], false, true);
    const head = rows[0] as { seq: number; schema_version: number; revocations: number };
    this.head = this.startSeq = head.seq;
    if (head.schema_version !== this.storage.loadedSchemaVersion()) await this.storage.loadSchema(this.conn, head.schema_version);
    // A revocation committed since this process last looked: its listeners hear of it before any commit of this
    // transaction is authorized, so no commit of a credential revoked before now is written.
    if (Number(head.revocations) !== this.storage.seenRevocations()) await this.storage.revocationsMoved(Number(head.revocations));
  }

  /** Write the counter back and notify other processes (both inside the transaction, before COMMIT). */
  async beforeCommit(channel: string): Promise<void> {
    await this.flushBuffer();
    if (this.written.length > 0) {
      await this.run(PG_SQL.writeSeqAndNotify, [this.head, channel, String(this.written[this.written.length - 1]!.syncId)], false, true);
    } else if (this.head !== this.startSeq) await this.run(PG_SQL.writeSeq, [this.head], false, true);
  }

  /** One statement on the writer, inside the transaction. */
  private async run(sql: string, params: readonly PgValue[] = [], arrays = false, named = false): Promise<pg.QueryResult> {
    if (!this.open) throw abloError('transaction_ended');
    try {
      return await this.storage.query(this.conn, sql, params, arrays, named);
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }

  /** A statement that writes (counted for `unguarded`). */
  private runWrite(sql: string, params: readonly PgValue[] = [], arrays = false, named = false): Promise<pg.QueryResult> {
    this.writes++;
    return this.run(sql, params, arrays, named);
  }

  /** Send the buffered writes (one statement). Failing, the transaction must roll back: `TransactionDoomed`. */
  private async flushBuffer(): Promise<void> {
    if (this.buffer.empty) return;
    const st = this.buffer.statement();
    for (const key of this.buffer.rowKeys()) this.prefetched.delete(key);
    this.buffer = new PgWriteBuffer();
    let counts: { updated: number; deleted: number };
    try {
      counts = (await this.run(st.sql, st.params, false, true)).rows[0] as typeof counts;
    } catch (err) {
      this.broken = 'Writes buffered without a savepoint failed; the transaction must roll back.';
      throw new TransactionDoomed(err);
    }
    if (counts.updated !== st.updates || counts.deleted !== st.deletes) {
      this.failed = true;
      this.broken = 'A buffered update or delete found no row; the transaction must roll back.';
      throw new TransactionDoomed(new AbloServerError(this.broken, { code: 'storage_error' }));
    }
  }

  private bufferingNow(): boolean {
    return this.buffering && this.depth === 0;
  }

  private check(): void {
    if (!this.open) throw abloError('transaction_ended');
  }

  finish(): void {
    if (this.broken) throw new AbloServerError(this.broken, { code: 'savepoint_misuse' });
    if (this.depth !== 0) {
      throw new AbloServerError('The transaction function returned while a savepoint was still running; await every tx.savepoint().', { code: 'savepoint_misuse' });
    }
  }

  end(): void {
    this.open = false;
  }

  async headSyncId(): Promise<number> {
    this.check();
    return this.head;
  }

  async nextSyncId(): Promise<number> {
    this.check();
    return ++this.head;
  }

  async getRow(model: string, id: string): Promise<StoredRow | null> {
    this.check();
    const codec = this.storage.codec(model);
    const buffered = this.buffer.row(model, id);
    if (buffered !== undefined) return buffered;
    const ahead = this.prefetched.get(rowKey(model, id));
    if (ahead !== undefined) return ahead ? codec.decodeRow(ahead) : null;
    const { rows } = await this.run(codec.getSql, [escapeText(id)], true, true);
    return rows.length > 0 ? codec.decodeRow(rows[0] as unknown[]) : null;
  }

  async prefetchRows(refs: readonly RowRef[]): Promise<void> {
    this.check();
    const byModel = new Map<string, Set<string>>();
    for (const { model, id } of refs) {
      if (!this.storage.hasModel(model) || this.prefetched.has(rowKey(model, id)) || this.buffer.has(model, id)) continue;
      let ids = byModel.get(model);
      if (!ids) byModel.set(model, (ids = new Set()));
      ids.add(id);
    }
    for (const [model, ids] of byModel) {
      const codec = this.storage.codec(model);
      const { rows } = await this.run(codec.getManySql, [[...ids].map(escapeText)], true, true);
      for (const id of ids) this.prefetched.set(rowKey(model, id), null);
      for (const raw of rows as unknown[][]) this.prefetched.set(rowKey(model, unescapeText(raw[0] as string)), raw);
    }
  }

  /** This transaction writes the row (not through the buffer): what was read ahead of it is out of date. */
  private forget(model: string, id: string): void {
    if (this.prefetched.size > 0) this.prefetched.delete(rowKey(model, id));
  }

  async write(changes: readonly PlannedChange[]): Promise<ChangeRecord[]> {
    this.check();
    this.writes++;
    if (this.bufferingNow()) return this.bufferWrite(changes);
    for (const c of changes) this.forget(c.model, c.id);
    const out: ChangeRecord[] = [];
    const groups = new RowGroupChanges();
    // One holder, so TypeScript does not narrow what the closure changes.
    const batch: { pending: PendingCreates | null } = { pending: null };
    const flush = async (): Promise<void> => {
      if (batch.pending) await this.insertRows(batch.pending);
      batch.pending = null;
    };
    for (const planned of changes) {
      const syncId = this.head + 1;
      const codec = this.storage.codec(planned.model);
      const { model, id } = planned;
      if (planned.action === 'create') {
        planned.data.syncId = syncId;
        const p = batch.pending;
        if (p && (p.codec !== codec || p.params.length + codec.width > MAX_PARAMS)) await flush();
        const into = (batch.pending ??= { codec, params: [], ids: [] });
        codec.encodeInsert(planned.data, into.params);
        into.ids.push(id);
        groups.move(model, id, null, planned.groups);
      } else {
        await flush();
        if (planned.action === 'update') {
          planned.data.syncId = syncId;
          await this.updateEncoded(codec, id, planned.patch, { updatedAt: planned.data.updatedAt, syncId });
          if (planned.prevGroups) groups.move(model, id, planned.prevGroups, planned.groups);
        } else {
          if ((await this.run(codec.deleteSql, [escapeText(id)], false, true)).rowCount === 0) throw notFound(model, id);
          groups.move(model, id, planned.groups, null);
        }
      }
      const change = changeOf(planned, syncId);
      this.head = syncId;
      out.push(change);
    }
    // Creates still waiting go in the statement that appends the changes.
    await this.appendWithGroups(out, groups, batch.pending);
    return out;
  }

  /** `write` inside an unguarded unit: into the buffer (a row it holds already is sent first, unless both are updates). */
  private async bufferWrite(changes: readonly PlannedChange[]): Promise<ChangeRecord[]> {
    const out: ChangeRecord[] = [];
    for (const planned of changes) {
      const { model, id } = planned;
      const codec = this.storage.codec(model);
      if (this.buffer.has(model, id) && !(planned.action === 'update' && this.buffer.hasUpdate(model, id))) await this.flushBuffer();
      const syncId = this.head + 1;
      const groups = this.buffer.groups;
      if (planned.action === 'create') {
        planned.data.syncId = syncId;
        this.buffer.create(codec, planned.data);
        groups.move(model, id, null, planned.groups);
      } else if (planned.action === 'update') {
        planned.data.syncId = syncId;
        this.buffer.update(codec, planned.data, planned.patch, { updatedAt: planned.data.updatedAt, syncId });
        if (planned.prevGroups) groups.move(model, id, planned.prevGroups, planned.groups);
      } else {
        this.buffer.delete(codec, id, escapeText(id));
        groups.move(model, id, planned.groups, null);
      }
      const change = changeOf(planned, syncId);
      this.head = syncId;
      this.buffer.append([change]);
      this.written.push(change);
      out.push(change);
    }
    return out;
  }

  private async insertRows(p: PendingCreates): Promise<void> {
    try {
      await this.run(p.codec.insertSqlFor(p.ids.length), p.params, false, p.ids.length <= 16);
    } catch (err) {
      throw idExists(err, p);
    }
  }

  private async updateEncoded(codec: PgModelCodec, id: string, fields: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): Promise<void> {
    const { sql, params } = codec.encodeUpdate(id, fields, meta);
    if ((await this.run(sql, params, false, true)).rowCount === 0) throw notFound(codec.name, id);
  }

  async insertRow(model: string, row: StoredRow): Promise<void> {
    this.check();
    this.writes++;
    await this.flushBuffer();
    this.forget(model, row.id);
    const codec = this.storage.codec(model);
    await this.insertRows({ codec, params: codec.encodeInsert(row), ids: [row.id] });
    const groups = new RowGroupChanges();
    groups.move(model, row.id, null, this.storage.grouper(model).of(row));
    await groups.flush((sql, params) => this.run(sql, params));
  }

  async updateRow(model: string, id: string, fields: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): Promise<void> {
    this.check();
    this.writes++;
    await this.flushBuffer();
    const codec = this.storage.codec(model);
    const grouper = this.storage.grouper(model);
    const regroup = grouper.needsRow && Object.keys(fields).some((f) => grouper.fields.has(f));
    const before = regroup ? await this.getRow(model, id) : null;
    this.forget(model, id);
    await this.updateEncoded(codec, id, fields, meta);
    if (!before) return;
    const was = grouper.of(before);
    const now = grouper.of({ ...before, ...fields });
    if (was.length === now.length && now.every((g) => was.includes(g))) return;
    const groups = new RowGroupChanges();
    groups.move(model, id, was, now);
    await groups.flush((sql, params) => this.run(sql, params));
  }

  async deleteRow(model: string, id: string): Promise<void> {
    this.check();
    this.writes++;
    await this.flushBuffer();
    const codec = this.storage.codec(model);
    const grouper = this.storage.grouper(model);
    const before = grouper.needsRow ? await this.getRow(model, id) : null;
    this.forget(model, id);
    if ((await this.run(codec.deleteSql, [escapeText(id)], false, true)).rowCount === 0) throw notFound(model, id);
    const groups = new RowGroupChanges();
    groups.move(model, id, grouper.of(before ?? { id }), null);
    await groups.flush((sql, params) => this.run(sql, params));
  }

  async appendChange(change: ChangeRecord): Promise<void> {
    this.check();
    this.writes++;
    await this.flushBuffer();
    await this.appendEncoded([change]);
    if (change.syncId > this.head) this.head = change.syncId;
  }

  /** The change-log entries of a `write` with its row-group and change-group entries: one statement when they fit one. */
  private async appendWithGroups(changes: readonly ChangeRecord[], groups: RowGroupChanges, creates: PendingCreates | null): Promise<void> {
    const rowParams = creates?.params.length ?? 0;
    if (changes.length === 0 || changes.length * CHANGE_WIDTH + rowParams > MAX_PARAMS) {
      if (creates) await this.insertRows(creates);
      await groups.flush((sql, params) => this.run(sql, params));
      await this.appendEncoded(changes);
      return;
    }
    const { del, ins } = groups.take();
    const [grps, ids] = changeGroupArrays(changes);
    const params: PgValue[] = [...del, ...ins, grps, ids];
    for (const c of changes) pushChangeParams(c, params);
    const insert = creates ? creates.codec.insertSqlFor(creates.ids.length, params.length + 1) : null;
    if (creates) for (const v of creates.params) params.push(v);
    try {
      await this.run(appendWriteSql(changes.length, insert), params, false, changes.length <= 16);
    } catch (err) {
      throw creates ? idExists(err, creates) : err;
    }
    this.written.push(...changes);
  }

  /** Append change-log entries and their group entries (a few statements for the whole batch). */
  private async appendEncoded(changes: readonly ChangeRecord[]): Promise<void> {
    if (changes.length === 0) return;
    const perStatement = Math.floor(MAX_PARAMS / CHANGE_WIDTH);
    for (let from = 0; from < changes.length; from += perStatement) {
      const part = changes.slice(from, from + perStatement);
      const params: PgValue[] = [];
      for (const c of part) pushChangeParams(c, params);
      await this.run(insertChangesSql(part.length), params, false, part.length <= 16);
    }
    const [grps, ids] = changeGroupArrays(changes);
    if (grps.length > 0) await this.run(PG_SQL.insertChangeGroups, [grps, ids], false, true);
    this.written.push(...changes);
  }

  async rowChangesAfter(model: string, id: string, afterSyncId: number): Promise<RowChangeMeta[]> {
    this.check();
    const { rows } = await this.run(PG_SQL.rowChangesAfter, [model, escapeText(id), afterSyncId], false, true);
    // Buffered changes come after every stored one.
    return [...(rows as Parameters<typeof rowChangeFromRow>[0][]).map(rowChangeFromRow), ...this.buffer.rowChangesAfter(model, id, afterSyncId)];
  }

  async groupChangeAfter(group: string, afterSyncId: number): Promise<ChangeRecord | null> {
    this.check();
    const { rows } = await this.run(PG_SQL.groupChangeAfter, [escapeText(group), afterSyncId], false, true);
    return rows.length > 0 ? changeFromRow(rows[0] as ChangeRow) : this.buffer.groupChangeAfter(group, afterSyncId);
  }

  /**
   * The floor as this transaction sees it: read once (a prune takes the head row too, so it cannot move while
   * this transaction holds it).
   */
  async changeLogFloor(): Promise<number> {
    this.check();
    this.floor ??= await pgReadFloor({ query: (sql, params) => this.run(sql, params, false, true) });
    return this.floor;
  }

  async getIdempotency(key: string): Promise<IdempotencyRecord | null> {
    this.check();
    const buffered = this.buffer.getIdempotency(escapeText(key));
    if (buffered) return buffered;
    const { rows } = await this.run(PG_SQL.getIdempotency, [escapeText(key)], false, true);
    const row = rows[0] as { request_hash: string; receipt: string } | undefined;
    return row ? { requestHash: row.request_hash, receipt: JSON.parse(row.receipt) as IdempotencyRecord['receipt'] } : null;
  }

  async getMeta(key: string): Promise<string | null> {
    this.check();
    const { rows } = await this.run(PG_SQL.getMeta, [key], false, true);
    return rows.length > 0 ? String((rows[0] as { value: string }).value) : null;
  }

  async putMeta(key: string, value: string): Promise<void> {
    this.check();
    await this.runWrite(PG_SQL.putMeta, [key, value], false, true);
  }

  async deleteMeta(key: string): Promise<void> {
    this.check();
    await this.runWrite(PG_SQL.deleteMeta, [key], false, true);
  }

  async putIdempotency(key: string, record: IdempotencyRecord): Promise<void> {
    this.check();
    if (this.bufferingNow()) {
      this.writes++;
      // A second record under one key fails as the INSERT would (and dooms the transaction: the unit wrote).
      if (this.buffer.hasKey(escapeText(key))) throw new AbloServerError(`Idempotency key "${key}" stored twice in one transaction.`, { code: 'storage_error' });
      this.buffer.putIdempotency(escapeText(key), record, new Date().toISOString());
      return;
    }
    await this.runWrite(PG_SQL.putIdempotency, [escapeText(key), record.requestHash, JSON.stringify(record.receipt), new Date().toISOString()], false, true);
  }

  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    const level = this.depth;
    const name = quoteId(`_ablo_sp_${level}`);
    // Counted open before its first await: a transaction function that returns without awaiting it is refused.
    this.depth = level + 1;
    const headBefore = this.head;
    const writtenBefore = this.written.length;
    let result: T;
    try {
      await this.flushBuffer();
    } catch (err) {
      this.depth = level;
      throw err;
    }
    try {
      await this.run(`SAVEPOINT ${name}`);
      result = await fn();
    } catch (err) {
      await this.undo(level, name, headBefore, writtenBefore);
      throw err;
    }
    if (this.depth !== level + 1) {
      this.broken = 'Savepoints overlapped (one was started while another was running and not awaited inside it); run them one after another or nest them.';
      throw new AbloServerError(this.broken, { code: 'savepoint_misuse' });
    }
    await this.run(`RELEASE ${name}`);
    this.depth = level;
    return result;
  }

  async unguarded<T>(fn: () => Promise<T>): Promise<T> {
    if (this.depth !== 0) return this.savepoint(fn);
    this.check();
    const writesBefore = this.writes;
    const headBefore = this.head;
    const writtenBefore = this.written.length;
    const wasBuffering = this.buffering;
    this.buffering = true;
    try {
      return await fn();
    } catch (err) {
      // Its writes cannot be undone alone, and after a failed statement Postgres takes no other: roll back.
      if (this.writes !== writesBefore || this.failed) {
        this.broken = 'A unit run without a savepoint failed after writing; the transaction must roll back.';
        throw new TransactionDoomed(err);
      }
      this.head = headBefore;
      this.written.length = writtenBefore;
      throw err;
    } finally {
      this.buffering = wasBuffering;
    }
  }

  private async undo(level: number, name: string, headBefore: number, writtenBefore: number): Promise<void> {
    if (this.depth !== level + 1) {
      this.broken = 'Savepoints overlapped (one was started while another was running and not awaited inside it); run them one after another or nest them.';
      return;
    }
    this.depth = level;
    this.head = headBefore;
    this.written.length = writtenBefore;
    if (!this.open) return;
    await this.run(`ROLLBACK TO ${name}`);
    await this.run(`RELEASE ${name}`);
    this.failed = false;
  }
}

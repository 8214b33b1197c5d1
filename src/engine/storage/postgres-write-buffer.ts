/**
 * Postgres storage: the writes of `unguarded` units (the optimistic group
 * commit path) held back in memory and sent together, in ONE statement,
 * before COMMIT or before anything the buffer cannot stand in for (see
 * postgres-tx.ts). A batch of single-op commits then costs one round trip
 * for all its writes instead of two or three per commit.
 *
 * What it holds: rows created, updated (patches of one row merged: the last
 * value of each column wins, with the last updatedAt/syncId) and deleted;
 * the net row-group moves; change-log entries; idempotency records. Each row
 * appears in at most one of creates, updates and deletes (the transaction
 * flushes before any other second write of a buffered row), so the parts of
 * the statement — data-modifying CTEs, which all see the same snapshot —
 * never touch the same row.
 *
 * It also answers the transaction's reads of what it holds: a buffered row
 * (decoded from its encoded columns, as a read of the table would give it),
 * the buffered change-log entries of a row or a group (all after every stored
 * one), a buffered idempotency record.
 */
import { escapeText as escapeGroup, pgArrayType, type PgModelCodec, type PgValue } from './postgres-codec.js';
import { RowGroupChanges } from './postgres-groups.js';
import { CHANGE_COLUMNS, CHANGE_WIDTH, pushChangeParams } from './postgres-internal.js';
import type { ChangeRecord, IdempotencyRecord, RowChangeMeta, StoredRow } from './types.js';

const SYSTEM_ARRAY_TYPES = ['text[]', 'text[]', 'text[]', 'bigint[]'];
const CHANGE_ARRAY_TYPES = ['bigint[]', ...Array.from({ length: CHANGE_WIDTH - 1 }, () => 'text[]')];

interface BufferedUpdate {
  codec: PgModelCodec;
  /** Escaped id. */
  id: string;
  /** Encoded values by field name, in first-written order. */
  cols: Map<string, PgValue>;
  updatedAt: string;
  syncId: number;
}

/** One flush: the statement, its parameters, and how many rows its updates and deletes must touch. */
export interface BufferStatement {
  sql: string;
  params: PgValue[];
  updates: number;
  deletes: number;
}

export function rowKey(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

export class PgWriteBuffer {
  /** Rows written, as their encoded INSERT parameters (`null`: deleted), by `rowKey`. */
  private readonly rows = new Map<string, { codec: PgModelCodec; params: PgValue[] | null }>();
  private readonly creates = new Map<string, { codec: PgModelCodec; rows: PgValue[][] }>();
  private readonly updates = new Map<string, BufferedUpdate>();
  private readonly deletes = new Map<string, { codec: PgModelCodec; ids: string[] }>();
  readonly groups = new RowGroupChanges();
  private readonly changes: ChangeRecord[] = [];
  private readonly keys = new Map<string, { requestHash: string; receipt: string; at: string }>();

  get empty(): boolean {
    return this.rows.size === 0 && this.changes.length === 0 && this.keys.size === 0 && this.groups.size === 0;
  }

  /** The `rowKey`s of the rows written. */
  rowKeys(): IterableIterator<string> {
    return this.rows.keys();
  }

  /** Whether the row has a buffered write. */
  has(model: string, id: string): boolean {
    return this.rows.has(rowKey(model, id));
  }

  /** Whether the row's buffered write is an update (another update merges into it). */
  hasUpdate(model: string, id: string): boolean {
    return this.updates.has(rowKey(model, id));
  }

  /** The row as the table would show it after the buffered writes; `undefined` when none touched it. */
  row(model: string, id: string): StoredRow | null | undefined {
    const r = this.rows.get(rowKey(model, id));
    if (!r) return undefined;
    return r.params ? decodeEncoded(r.codec, r.params) : null;
  }

  create(codec: PgModelCodec, row: StoredRow): void {
    const params = codec.encodeInsert(row);
    let c = this.creates.get(codec.name);
    if (!c) this.creates.set(codec.name, (c = { codec, rows: [] }));
    c.rows.push(params);
    this.rows.set(rowKey(codec.name, row.id), { codec, params });
  }

  /** `patch`: the fields written; `after`: the whole row after the update. */
  update(codec: PgModelCodec, after: StoredRow, patch: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): void {
    const key = rowKey(codec.name, after.id);
    const encoded = codec.encodeUpdate(after.id, patch, meta).params;
    let u = this.updates.get(key);
    if (!u) this.updates.set(key, (u = { codec, id: encoded[encoded.length - 1] as string, cols: new Map(), updatedAt: '', syncId: 0 }));
    Object.keys(patch).forEach((name, i) => u.cols.set(name, encoded[i]!));
    u.updatedAt = encoded[encoded.length - 3] as string;
    u.syncId = meta.syncId;
    this.rows.set(key, { codec, params: codec.encodeInsert(after) });
  }

  delete(codec: PgModelCodec, id: string, escapedId: string): void {
    let d = this.deletes.get(codec.name);
    if (!d) this.deletes.set(codec.name, (d = { codec, ids: [] }));
    d.ids.push(escapedId);
    this.rows.set(rowKey(codec.name, id), { codec, params: null });
  }

  append(changes: readonly ChangeRecord[]): void {
    for (const c of changes) this.changes.push(c);
  }

  putIdempotency(escapedKey: string, record: IdempotencyRecord, at: string): void {
    this.keys.set(escapedKey, { requestHash: record.requestHash, receipt: JSON.stringify(record.receipt), at });
  }

  /** Whether `escapedKey` was stored here already (a second record under it fails the flush). */
  hasKey(escapedKey: string): boolean {
    return this.keys.has(escapedKey);
  }

  getIdempotency(escapedKey: string): IdempotencyRecord | null {
    const k = this.keys.get(escapedKey);
    return k ? { requestHash: k.requestHash, receipt: JSON.parse(k.receipt) as IdempotencyRecord['receipt'] } : null;
  }

  /** Buffered changes of one row after `afterSyncId`, in order. */
  rowChangesAfter(model: string, id: string, afterSyncId: number): RowChangeMeta[] {
    return this.changes
      .filter((c) => c.model === model && c.id === id && c.syncId > afterSyncId)
      .map((c) => ({
        syncId: c.syncId,
        action: c.action,
        fields: c.fields.slice(),
        participant: { ...c.participant },
        ...(c.onBehalfOf ? { onBehalfOf: { ...c.onBehalfOf } } : {}),
      }));
  }

  /** The first buffered change after `afterSyncId` whose groups or previous groups include `group`. */
  groupChangeAfter(group: string, afterSyncId: number): ChangeRecord | null {
    const c = this.changes.find((x) => x.syncId > afterSyncId && (x.groups.includes(group) || (x.prevGroups?.includes(group) ?? false)));
    return c ? (JSON.parse(JSON.stringify(c)) as ChangeRecord) : null;
  }

  /** Everything buffered as one statement (data-modifying CTEs); the caller checks the counts it returns. */
  statement(): BufferStatement {
    const params: PgValue[] = [];
    const p = (v: PgValue, type: string): string => {
      params.push(v);
      return `$${params.length}::${type}`;
    };
    const ctes: string[] = [];
    let i = 0;
    for (const { codec, rows } of this.creates.values()) {
      const types = [...SYSTEM_ARRAY_TYPES, ...codec.fields.map((f) => pgArrayType(f.kind))];
      const cols = types.map((t, c) => p(rows.map((r) => r[c]!), t));
      ctes.push(`c${i++} AS (INSERT INTO ${codec.table} (${codec.selectList}) SELECT * FROM unnest(${cols.join(', ')}))`);
    }
    const updateCtes: string[] = [];
    for (const group of groupUpdates(this.updates.values())) updateCtes.push(updateSql(group, p, updateCtes.length));
    const deleteCtes: string[] = [];
    for (const { codec, ids } of this.deletes.values()) {
      deleteCtes.push(`d${deleteCtes.length} AS (DELETE FROM ${codec.table} WHERE "id" = ANY(${p(ids, 'text[]')}) RETURNING 1)`);
    }
    ctes.push(...updateCtes, ...deleteCtes);
    if (this.groups.size > 0) {
      const { del, ins } = this.groups.take();
      const [dm, dg, dr] = del.map((a) => p(a, 'text[]'));
      const [im, ig, ir] = ins.map((a) => p(a, 'text[]'));
      ctes.push(`rg_del AS (DELETE FROM _ablo_row_groups g USING unnest(${dm}, ${dg}, ${dr}) AS d(model, grp, row_id) WHERE g.model = d.model AND g.grp = d.grp AND g.row_id = d.row_id)`);
      ctes.push(`rg_ins AS (INSERT INTO _ablo_row_groups (model, grp, row_id) SELECT * FROM unnest(${im}, ${ig}, ${ir}) ON CONFLICT DO NOTHING)`);
    }
    if (this.changes.length > 0) ctes.push(...changeCtes(this.changes, p));
    if (this.keys.size > 0) {
      const k = [...this.keys.entries()];
      const arrays = [k.map(([key]) => key), k.map(([, v]) => v.requestHash), k.map(([, v]) => v.receipt), k.map(([, v]) => v.at)].map((a) => p(a, 'text[]'));
      ctes.push(`ik AS (INSERT INTO _ablo_idempotency (key, request_hash, receipt, created_at) SELECT * FROM unnest(${arrays.join(', ')}))`);
    }
    const count = (names: string[], prefix: string): string =>
      names.length === 0 ? '0' : names.map((_, n) => `(SELECT count(*) FROM ${prefix}${n})`).join(' + ');
    const sql = `WITH ${ctes.join(', ')} SELECT (${count(updateCtes, 'u')})::int AS updated, (${count(deleteCtes, 'd')})::int AS deleted`;
    return { sql, params, updates: this.updates.size, deletes: [...this.deletes.values()].reduce((n, d) => n + d.ids.length, 0) };
  }
}

/** Buffered updates grouped by model and set of columns (one UPDATE each). */
function groupUpdates(updates: Iterable<BufferedUpdate>): BufferedUpdate[][] {
  const groups = new Map<string, BufferedUpdate[]>();
  for (const u of updates) {
    const key = `${u.codec.name}\u0000${[...u.cols.keys()].join('\u0000')}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(u);
  }
  return [...groups.values()];
}

function updateSql(group: BufferedUpdate[], p: (v: PgValue, type: string) => string, n: number): string {
  const { codec } = group[0]!;
  const names = [...group[0]!.cols.keys()];
  const arrays = [p(group.map((u) => u.id), 'text[]')];
  const sets: string[] = [];
  names.forEach((name, c) => {
    const f = codec.field(name)!;
    arrays.push(p(group.map((u) => u.cols.get(name)!), pgArrayType(f.kind)));
    sets.push(`${f.column} = v.c${c}`);
  });
  arrays.push(p(group.map((u) => u.updatedAt), 'text[]'), p(group.map((u) => u.syncId), 'bigint[]'));
  sets.push(`"updatedAt" = v.ua`, `"syncId" = v.si`);
  const alias = ['id', ...names.map((_, c) => `c${c}`), 'ua', 'si'].join(', ');
  return `u${n} AS (UPDATE ${codec.table} AS t SET ${sets.join(', ')} FROM unnest(${arrays.join(', ')}) AS v(${alias}) WHERE t."id" = v.id RETURNING 1)`;
}

/** The change-log entries and their change-group entries, as two CTEs of column arrays. */
function changeCtes(changes: readonly ChangeRecord[], p: (v: PgValue, type: string) => string): string[] {
  const columns: PgValue[][] = Array.from({ length: CHANGE_WIDTH }, () => []);
  const one: PgValue[] = [];
  const grps: string[] = [];
  const ids: number[] = [];
  for (const c of changes) {
    one.length = 0;
    pushChangeParams(c, one);
    for (let k = 0; k < CHANGE_WIDTH; k++) columns[k]!.push(one[k]!);
    for (const g of c.groups) grps.push(escapeGroup(g)), ids.push(c.syncId);
    if (c.prevGroups) for (const g of c.prevGroups) grps.push(escapeGroup(g)), ids.push(c.syncId);
  }
  const cols = columns.map((col, k) => p(col, CHANGE_ARRAY_TYPES[k]!));
  return [
    `ch AS (INSERT INTO _ablo_changes (${CHANGE_COLUMNS}) SELECT * FROM unnest(${cols.join(', ')}))`,
    `cg AS (INSERT INTO _ablo_change_groups (grp, sync_id) SELECT * FROM unnest(${p(grps, 'text[]')}, ${p(ids, 'bigint[]')}) ON CONFLICT DO NOTHING)`,
  ];
}

/** Encoded INSERT parameters → the row a read of the table gives (numbers of numeric columns parsed as Postgres would). */
function decodeEncoded(codec: PgModelCodec, params: readonly PgValue[]): StoredRow {
  const raw = params.map((v, i) => {
    const kind = i < 4 ? (i === 3 ? 'integer' : 'text') : codec.fields[i - 4]!.kind;
    return (kind === 'integer' || kind === 'real') && typeof v === 'string' ? Number(v) : v;
  });
  return codec.decodeRow(raw);
}

/**
 * Postgres storage: how fields map to columns and how values travel between
 * JavaScript and Postgres (the same kinds as SQLite, see sqlite-codec.ts).
 *
 * - string / enum / date, id, timestamps → text COLLATE "C" (code-point order)
 * - number → bigint when it has an int check, else double precision
 * - boolean → boolean
 * - json / array / object / record → text holding the JSON (as written by
 *   `stringifyJson`: filters compare that text, as SQLite does)
 * - syncId → bigint (read back as a number: see `PG_TYPES`)
 *
 * Postgres text cannot hold U+0000, which strings may contain. Text values
 * are stored escaped, order- and equality-preserving: U+0000 → U+0001 U+0001,
 * U+0001 → U+0001 U+0002 (`escapeText`), and unescaped when read. Strings
 * without either character (nearly all) are stored as they are.
 *
 * Parameters are `$n` placeholders; values are always bound.
 */
import pg from 'pg';
import { AbloValidationError } from '../../errors.js';
import { stringifyJson } from '../../protocol/json.js';
import type { FieldDescriptor, ModelDescriptor } from '../../schema/descriptor.js';
import { columnKind, quoteId, SYSTEM_COLUMNS, type ColumnInfo, type ColumnKind } from './sqlite-codec.js';
import type { StoredRow } from './types.js';

export { columnKind, quoteId, hasOwn, type ColumnKind, type ColumnInfo } from './sqlite-codec.js';

/** What may be bound to a parameter. */
export type PgValue = string | number | boolean | null | readonly PgValue[];

/** int8 (sync ids, counts) as JavaScript numbers; everything else as pg reads it. */
export const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
  },
};

const NEEDS_ESCAPE = /[\u0000\u0001]/;

/** A string as stored in a text column (see the file comment). */
export function escapeText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\u0000\u0001]/g, (c) => (c === '\u0000' ? '\u0001\u0001' : '\u0001\u0002'));
}

/** A text column's value as the string it stands for. */
export function unescapeText(s: string): string {
  if (s.indexOf('\u0001') < 0) return s;
  return s.replace(/\u0001([\u0001\u0002])/g, (_m, c: string) => (c === '\u0001' ? '\u0000' : '\u0001'));
}

export function pgType(kind: ColumnKind): string {
  switch (kind) {
    case 'text':
      return 'text COLLATE "C"';
    case 'integer':
      return 'bigint';
    case 'real':
      return 'double precision';
    case 'boolean':
      return 'boolean';
    default:
      return 'text';
  }
}

/** The array type of a kind's column (for `unnest` and `= ANY`). */
export function pgArrayType(kind: ColumnKind): string {
  switch (kind) {
    case 'integer':
      return 'bigint[]';
    case 'real':
      return 'float8[]';
    case 'boolean':
      return 'boolean[]';
    default:
      return 'text[]';
  }
}

function badValue(model: string, field: string, value: unknown): never {
  throw new AbloValidationError(`Model "${model}", field "${field}": cannot store a value of type ${Array.isArray(value) ? 'array' : typeof value}.`, {
    code: 'invalid_type',
    model,
    field,
  });
}

/** JS value → parameter for a column of `kind`. `undefined` and `null` become NULL. */
export function encodePg(kind: ColumnKind, value: unknown, model: string, field: string): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (kind === 'json') return stringifyJson(value);
  switch (typeof value) {
    case 'string':
      if (kind === 'text') return escapeText(value);
      if (kind === 'boolean') return badValue(model, field, value);
      return value;
    case 'number':
      if (kind === 'text') return String(value);
      if (kind === 'boolean') return value !== 0;
      return value;
    case 'bigint':
      return kind === 'text' ? String(value) : Number(value);
    case 'boolean':
      if (kind === 'boolean') return value;
      if (kind === 'text') return value ? '1' : '0';
      return value ? 1 : 0;
    default:
      return badValue(model, field, value);
  }
}

/** Column value (as pg parsed it) → JS value for a column of `kind`. */
export function decodePg(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (kind === 'json') return JSON.parse(value as string);
  if (kind === 'text') return unescapeText(value as string);
  return value;
}

export interface PgFieldCodec extends ColumnInfo {
  descriptor: FieldDescriptor;
}

const SYSTEM_BY_NAME = new Map(SYSTEM_COLUMNS.map((c) => [c.name, c]));

/** Column definitions of a model's table, for CREATE TABLE. */
export function pgTableColumnsSql(descriptor: ModelDescriptor): string {
  const cols = ['"id" text COLLATE "C" PRIMARY KEY', '"createdAt" text COLLATE "C" NOT NULL', '"updatedAt" text COLLATE "C" NOT NULL', '"syncId" bigint NOT NULL'];
  for (const [name, d] of Object.entries(descriptor.fields)) cols.push(`${quoteId(name)} ${pgType(columnKind(d))}`);
  return cols.join(', ');
}

/** `$1, $2, …, $n` from `from`. */
export function placeholders(n: number, from = 1): string {
  return Array.from({ length: n }, (_, i) => `$${i + from}`).join(', ');
}

/**
 * Everything the storage needs to read and write one model's table, built
 * once per schema version (see sqlite-codec.ts's ModelCodec).
 */
export class PgModelCodec {
  readonly table: string;
  readonly fields: readonly PgFieldCodec[];
  private readonly byName: Map<string, PgFieldCodec>;
  readonly selectList: string;
  readonly getSql: string;
  /** The rows of an array of (escaped) ids. */
  readonly getManySql: string;
  readonly deleteSql: string;
  readonly scanAfterSql: string;
  /** Columns per row of an INSERT (system + fields). */
  readonly width: number;
  private readonly insertSql = new Map<string, string>();
  private readonly updateSql = new Map<string, string>();

  constructor(
    readonly name: string,
    descriptor: ModelDescriptor,
  ) {
    this.table = quoteId(name);
    this.fields = Object.entries(descriptor.fields).map(([field, d]) => ({ name: field, column: quoteId(field), kind: columnKind(d), descriptor: d }));
    this.byName = new Map(this.fields.map((f) => [f.name, f]));
    const columns = [...SYSTEM_COLUMNS, ...this.fields].map((c) => c.column);
    this.width = columns.length;
    this.selectList = columns.join(', ');
    this.getSql = `SELECT ${this.selectList} FROM ${this.table} WHERE "id" = $1`;
    this.getManySql = `SELECT ${this.selectList} FROM ${this.table} WHERE "id" = ANY($1::text[])`;
    this.deleteSql = `DELETE FROM ${this.table} WHERE "id" = $1`;
    this.scanAfterSql = `SELECT ${this.selectList} FROM ${this.table} WHERE "id" > $1 ORDER BY "id" LIMIT $2`;
  }

  field(name: string): PgFieldCodec | undefined {
    return this.byName.get(name);
  }

  column(name: string): ColumnInfo | undefined {
    return this.byName.get(name) ?? SYSTEM_BY_NAME.get(name);
  }

  /** A row in `selectList` order (array mode) → a decoded row with every field key. */
  decodeRow(raw: unknown[]): StoredRow {
    const row: StoredRow = {
      id: unescapeText(raw[0] as string),
      createdAt: unescapeText(raw[1] as string),
      updatedAt: unescapeText(raw[2] as string),
      syncId: raw[3] as number,
    };
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      row[f.name] = decodePg(f.kind, raw[i + 4]);
    }
    return row;
  }

  /** INSERT of `rows` rows (multi-row VALUES) with parameters from `$from`, text cached per row count and start. */
  insertSqlFor(rows: number, from = 1): string {
    const key = `${rows}:${from}`;
    let sql = this.insertSql.get(key);
    if (sql === undefined) {
      const values = Array.from({ length: rows }, (_, r) => `(${placeholders(this.width, from + r * this.width)})`);
      sql = `INSERT INTO ${this.table} (${this.selectList}) VALUES ${values.join(', ')}`;
      if (this.insertSql.size >= 64) this.insertSql.clear();
      this.insertSql.set(key, sql);
    }
    return sql;
  }

  /** Parameters of one row of an INSERT. Keys that are not fields of the model are refused. */
  encodeInsert(row: StoredRow, out: PgValue[] = []): PgValue[] {
    for (const key of Object.keys(row)) {
      if (!this.byName.has(key) && !SYSTEM_BY_NAME.has(key)) this.unknownField(key);
    }
    out.push(escapeText(row.id), escapeText(row.createdAt), escapeText(row.updatedAt), row.syncId);
    for (const f of this.fields) out.push(encodePg(f.kind, row[f.name], this.name, f.name));
    return out;
  }

  /** SQL and parameters of an update of `fields` plus updatedAt/syncId (text cached per column set). */
  encodeUpdate(id: string, fields: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): { sql: string; params: PgValue[] } {
    const names = Object.keys(fields);
    const params: PgValue[] = [];
    for (const name of names) {
      const f = this.byName.get(name);
      if (!f) this.unknownField(name);
      params.push(encodePg(f.kind, fields[name], this.name, name));
    }
    params.push(escapeText(meta.updatedAt), meta.syncId, escapeText(id));
    const key = names.join(',');
    let sql = this.updateSql.get(key);
    if (sql === undefined) {
      const sets = names.map((n, i) => `${this.byName.get(n)!.column} = $${i + 1}`);
      sets.push(`"updatedAt" = $${names.length + 1}`, `"syncId" = $${names.length + 2}`);
      sql = `UPDATE ${this.table} SET ${sets.join(', ')} WHERE "id" = $${names.length + 3}`;
      if (this.updateSql.size >= 256) this.updateSql.clear();
      this.updateSql.set(key, sql);
    }
    return { sql, params };
  }

  unknownField(name: string): never {
    throw new AbloValidationError(`Model "${this.name}" has no field "${name}".`, { code: 'unknown_field', model: this.name, field: name });
  }
}

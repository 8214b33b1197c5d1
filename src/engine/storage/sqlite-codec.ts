/**
 * SQLite storage: how fields map to columns and how values travel between
 * JavaScript and SQLite.
 *
 * - string / enum / date → TEXT
 * - number → INTEGER when it has an int check, else REAL
 * - boolean → INTEGER 0/1
 * - json / array / object / record → TEXT holding JSON
 *
 * Every table also has `id`, `createdAt`, `updatedAt` (TEXT) and `syncId`
 * (INTEGER). NULL stands for an absent value and reads back as `null`.
 */
import { AbloValidationError } from '../../errors.js';
import { stringifyJson } from '../../protocol/json.js';
import type { FieldDescriptor, ModelDescriptor } from '../../schema/descriptor.js';
import type { StoredRow } from './types.js';

/** What may be bound to a statement parameter. */
export type SqlValue = string | number | bigint | Buffer | null;

export type ColumnKind = 'text' | 'integer' | 'real' | 'boolean' | 'json';

/**
 * A quoted identifier. Callers only ever pass names they checked against the
 * schema (or internal names); the doubling of `"` is a second line of defence.
 */
export function quoteId(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

export function columnKind(d: FieldDescriptor): ColumnKind {
  switch (d.type) {
    case 'string':
    case 'enum':
    case 'date':
      return 'text';
    case 'number':
      return d.checks?.some((c) => c.kind === 'int') ? 'integer' : 'real';
    case 'boolean':
      return 'boolean';
    default:
      return 'json';
  }
}

export function sqlType(kind: ColumnKind): 'TEXT' | 'INTEGER' | 'REAL' {
  switch (kind) {
    case 'integer':
    case 'boolean':
      return 'INTEGER';
    case 'real':
      return 'REAL';
    default:
      return 'TEXT';
  }
}

function badValue(model: string, field: string, value: unknown): never {
  throw new AbloValidationError(`Model "${model}", field "${field}": cannot store a value of type ${Array.isArray(value) ? 'array' : typeof value}.`, {
    code: 'invalid_type',
    model,
    field,
  });
}

/** JS value → SQL parameter for a column of `kind`. `undefined` and `null` become NULL. */
export function encodeValue(kind: ColumnKind, value: unknown, model: string, field: string): SqlValue {
  if (value === null || value === undefined) return null;
  // Any depth: rows restored with `Ablo-Restore: deep-json` nest up to 2,048 levels.
  if (kind === 'json') return stringifyJson(value);
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'bigint':
      return value;
    case 'boolean':
      return value ? 1 : 0;
    default:
      return badValue(model, field, value);
  }
}

/** SQL value → JS value for a column of `kind`. */
export function decodeValue(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (kind === 'boolean') return value !== 0 && value !== 0n;
  if (kind === 'json') return JSON.parse(value as string);
  return value;
}

export interface ColumnInfo {
  name: string;
  /** The quoted identifier. */
  column: string;
  kind: ColumnKind;
}

export interface FieldCodec extends ColumnInfo {
  descriptor: FieldDescriptor;
}

export const SYSTEM_COLUMNS: readonly ColumnInfo[] = [
  { name: 'id', column: '"id"', kind: 'text' },
  { name: 'createdAt', column: '"createdAt"', kind: 'text' },
  { name: 'updatedAt', column: '"updatedAt"', kind: 'text' },
  { name: 'syncId', column: '"syncId"', kind: 'integer' },
];
const SYSTEM_BY_NAME = new Map(SYSTEM_COLUMNS.map((c) => [c.name, c]));

/** Column definitions of a model's table, for CREATE TABLE. */
export function tableColumnsSql(descriptor: ModelDescriptor): string {
  const cols = ['"id" TEXT PRIMARY KEY', '"createdAt" TEXT NOT NULL', '"updatedAt" TEXT NOT NULL', '"syncId" INTEGER NOT NULL'];
  for (const [name, d] of Object.entries(descriptor.fields)) cols.push(`${quoteId(name)} ${sqlType(columnKind(d))}`);
  return cols.join(', ');
}

/**
 * Everything the storage needs to read and write one model's table, built
 * once per schema version: the column list, per-field codecs and the SQL text
 * of the fixed statements (the statements themselves are cached by text).
 */
export class ModelCodec {
  readonly table: string;
  readonly fields: readonly FieldCodec[];
  private readonly byName: Map<string, FieldCodec>;
  /** `"id", "createdAt", "updatedAt", "syncId", "f1", ...` */
  readonly selectList: string;
  readonly getSql: string;
  readonly insertSql: string;
  readonly deleteSql: string;
  readonly scanFirstSql: string;
  readonly scanAfterSql: string;
  private readonly updateSql = new Map<string, string>();

  constructor(
    readonly name: string,
    descriptor: ModelDescriptor,
  ) {
    this.table = quoteId(name);
    this.fields = Object.entries(descriptor.fields).map(([field, d]) => ({
      name: field,
      column: quoteId(field),
      kind: columnKind(d),
      descriptor: d,
    }));
    this.byName = new Map(this.fields.map((f) => [f.name, f]));
    const columns = [...SYSTEM_COLUMNS, ...this.fields].map((c) => c.column);
    this.selectList = columns.join(', ');
    this.getSql = `SELECT ${this.selectList} FROM ${this.table} WHERE "id" = ?`;
    this.insertSql = `INSERT INTO ${this.table} (${this.selectList}) VALUES (${columns.map(() => '?').join(', ')})`;
    this.deleteSql = `DELETE FROM ${this.table} WHERE "id" = ?`;
    this.scanFirstSql = `SELECT ${this.selectList} FROM ${this.table} ORDER BY "id" LIMIT ?`;
    this.scanAfterSql = `SELECT ${this.selectList} FROM ${this.table} WHERE "id" > ? ORDER BY "id" LIMIT ?`;
  }

  field(name: string): FieldCodec | undefined {
    return this.byName.get(name);
  }

  /** A field or a system column, or undefined when the model has no such name. */
  column(name: string): ColumnInfo | undefined {
    return this.byName.get(name) ?? SYSTEM_BY_NAME.get(name);
  }

  /** A row in `selectList` order (raw mode) → a decoded row with every field key. */
  decodeRow(raw: unknown[]): StoredRow {
    const row: StoredRow = {
      id: raw[0] as string,
      createdAt: raw[1] as string,
      updatedAt: raw[2] as string,
      syncId: raw[3] as number,
    };
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const v = raw[i + 4];
      row[f.name] = v === null ? null : f.kind === 'boolean' ? v !== 0 : f.kind === 'json' ? JSON.parse(v as string) : v;
    }
    return row;
  }

  /** Parameters of `insertSql`. Keys that are not fields of the model are refused. */
  encodeInsert(row: StoredRow): SqlValue[] {
    for (const key of Object.keys(row)) {
      if (!this.byName.has(key) && !SYSTEM_BY_NAME.has(key)) this.unknownField(key);
    }
    const out: SqlValue[] = [row.id, row.createdAt, row.updatedAt, row.syncId];
    for (const f of this.fields) out.push(encodeValue(f.kind, row[f.name], this.name, f.name));
    return out;
  }

  /**
   * SQL and parameters of an update of `fields` plus updatedAt/syncId. The
   * SQL text is cached per column set (in the order given).
   */
  encodeUpdate(id: string, fields: Record<string, unknown>, meta: { updatedAt: string; syncId: number }): { sql: string; params: SqlValue[] } {
    const names = Object.keys(fields);
    const params: SqlValue[] = [];
    for (const name of names) {
      const f = this.byName.get(name);
      if (!f) this.unknownField(name);
      params.push(encodeValue(f.kind, fields[name], this.name, name));
    }
    params.push(meta.updatedAt, meta.syncId, id);
    const key = names.join(',');
    let sql = this.updateSql.get(key);
    if (sql === undefined) {
      const sets = names.map((n) => `${this.byName.get(n)!.column} = ?`);
      sets.push('"updatedAt" = ?', '"syncId" = ?');
      sql = `UPDATE ${this.table} SET ${sets.join(', ')} WHERE "id" = ?`;
      if (this.updateSql.size >= 256) this.updateSql.clear();
      this.updateSql.set(key, sql);
    }
    return { sql, params };
  }

  unknownField(name: string): never {
    throw new AbloValidationError(`Model "${this.name}" has no field "${name}".`, { code: 'unknown_field', model: this.name, field: name });
  }
}

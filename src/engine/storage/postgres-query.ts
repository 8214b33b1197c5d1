/**
 * Postgres storage: the SQL of `listRows` — filters, sort keys and keyset
 * pagination, as sqlite-query.ts. Only names the model codec resolves are
 * interpolated (as quoted identifiers); every value is a bound parameter.
 *
 * Ordering as the port promises: NULL below every value (ascending keys
 * `NULLS FIRST`, descending `NULLS LAST`), text in code-point order (the
 * columns are COLLATE "C"), `id` ascending last.
 */
import { encodePg, pgArrayType, type ColumnInfo, type PgModelCodec, type PgValue } from './postgres-codec.js';
import { resolveSortKeys, unknownField } from './list-keys.js';
import type { OrderBy } from './types.js';

export interface PgSortKey {
  col: ColumnInfo;
  desc: boolean;
}

/** Parameters of one statement: `add(v)` binds a value and returns its placeholder. */
export class Params {
  readonly values: PgValue[] = [];
  add(v: PgValue): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}


export function pgSortKeys(codec: PgModelCodec, orderBy: readonly OrderBy[] | undefined): PgSortKey[] {
  return resolveSortKeys(codec, orderBy);
}

/** A value an integer column can never equal (a non-integer number): matches nothing. */
function impossible(col: ColumnInfo, v: unknown): boolean {
  return col.kind === 'integer' && typeof v === 'number' && !Number.isInteger(v);
}

/** `WHERE` conditions for equality / IN / IS NULL filters. */
export function pgWhere(codec: PgModelCodec, where: Record<string, unknown> | undefined, params: Params): string[] {
  const parts: string[] = [];
  if (!where) return parts;
  for (const name of Object.keys(where)) {
    const value = where[name];
    if (value === undefined) continue;
    const col = codec.column(name);
    if (!col) unknownField(codec, name, 'filter');
    if (value === null) {
      parts.push(`${col.column} IS NULL`);
    } else if (Array.isArray(value)) {
      const present = value.filter((v) => v !== null && v !== undefined);
      const withNull = present.length < value.length;
      const values = present.filter((v) => !impossible(col, v)).map((v) => encodePg(col.kind, v, codec.name, name));
      // One array parameter whatever the length: the statement text does not vary with it.
      if (values.length === 0) parts.push(withNull ? `${col.column} IS NULL` : 'FALSE');
      else {
        const inList = `${col.column} = ANY(${params.add(values)}::${pgArrayType(col.kind)})`;
        parts.push(withNull ? `(${inList} OR ${col.column} IS NULL)` : inList);
      }
    } else if (impossible(col, value)) {
      parts.push('FALSE');
    } else {
      parts.push(`${col.column} = ${params.add(encodePg(col.kind, value, codec.name, name))}`);
    }
  }
  return parts;
}

export function pgAnchorSql(codec: PgModelCodec, keys: readonly PgSortKey[]): string {
  return `SELECT ${keys.map((k) => k.col.column).join(', ')} FROM ${codec.table} WHERE "id" = $1`;
}

/**
 * Rows strictly after the anchor in the order of `keys` (see
 * sqlite-query.ts's keysetClause): OR over i of (keys before i equal to the
 * anchor AND key i after it), with a leading range on the first key.
 */
export function pgKeyset(keys: readonly PgSortKey[], anchor: readonly unknown[], params: Params): string {
  const disjuncts: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const a = (anchor[i] ?? null) as PgValue;
    const c = k.col.column;
    let after: string;
    if (!k.desc) after = a === null ? `${c} IS NOT NULL` : `${c} > ${params.add(a)}`;
    else after = a === null ? '' : `(${c} < ${params.add(a)} OR ${c} IS NULL)`;
    if (!after) continue;
    const conj: string[] = [];
    for (let j = 0; j < i; j++) {
      const prev = keys[j]!;
      const b = (anchor[j] ?? null) as PgValue;
      conj.push(b === null ? `${prev.col.column} IS NULL` : `${prev.col.column} = ${params.add(b)}`);
    }
    conj.push(after);
    disjuncts.push(conj.length === 1 ? conj[0]! : `(${conj.join(' AND ')})`);
  }
  if (disjuncts.length === 0) return 'FALSE';
  const first = keys[0]!;
  const a0 = (anchor[0] ?? null) as PgValue;
  const c0 = first.col.column;
  let lead = '';
  if (!first.desc && a0 !== null) lead = `${c0} >= ${params.add(a0)}`;
  else if (first.desc && a0 !== null) lead = `(${c0} <= ${params.add(a0)} OR ${c0} IS NULL)`;
  else if (first.desc && a0 === null) lead = `${c0} IS NULL`;
  const body = disjuncts.length === 1 ? disjuncts[0]! : `(${disjuncts.join(' OR ')})`;
  return lead ? `${lead} AND ${body}` : body;
}

export function pgOrder(keys: readonly PgSortKey[]): string {
  return keys.map((k) => `${k.col.column} ${k.desc ? 'DESC NULLS LAST' : 'ASC NULLS FIRST'}`).join(', ');
}

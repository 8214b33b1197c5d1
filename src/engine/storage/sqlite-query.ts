/**
 * SQLite storage: the SQL of `listRows` — filters, sort keys and keyset
 * pagination. Only names the model codec resolves are interpolated (as quoted
 * identifiers); every value is a bound parameter.
 *
 * Ordering: SQLite sorts NULL below every other value, so NULLs come first in
 * an ascending key and last in a descending one. `id` ascending is always the
 * final key, which makes the order total and the keyset well defined.
 */
import { encodeValue, type ColumnInfo, type ModelCodec, type SqlValue } from './sqlite-codec.js';
import { resolveSortKeys, unknownField } from './list-keys.js';
import type { OrderBy } from './types.js';

export interface SortKey {
  col: ColumnInfo;
  desc: boolean;
}


/** Resolve sort keys: known names only, each once, ending with `id` ascending. */
export function sortKeys(codec: ModelCodec, orderBy: readonly OrderBy[] | undefined): SortKey[] {
  return resolveSortKeys(codec, orderBy);
}

/** `WHERE` conditions for equality / IN / IS NULL filters. */
export function whereClause(codec: ModelCodec, where: Record<string, unknown> | undefined): { parts: string[]; params: SqlValue[] } {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  if (!where) return { parts, params };
  for (const name of Object.keys(where)) {
    const value = where[name];
    if (value === undefined) continue;
    const col = codec.column(name);
    if (!col) unknownField(codec, name, 'filter');
    if (value === null) {
      parts.push(`${col.column} IS NULL`);
    } else if (Array.isArray(value)) {
      const values = value.filter((v) => v !== null && v !== undefined).map((v) => encodeValue(col.kind, v, codec.name, name));
      const withNull = values.length < value.length;
      // One parameter whatever the length: the statement text does not vary
      // with the array and no parameter limit applies.
      const inList = `${col.column} IN (SELECT value FROM json_each(?))`;
      if (values.length === 0) parts.push(withNull ? `${col.column} IS NULL` : '0');
      else {
        parts.push(withNull ? `(${inList} OR ${col.column} IS NULL)` : inList);
        params.push(JSON.stringify(values.map((v) => (typeof v === 'bigint' ? Number(v) : v))));
      }
    } else {
      parts.push(`${col.column} = ?`);
      params.push(encodeValue(col.kind, value, codec.name, name));
    }
  }
  return { parts, params };
}

/** `SELECT` of the anchor row's sort values (raw, in key order). */
export function anchorSql(codec: ModelCodec, keys: readonly SortKey[]): string {
  return `SELECT ${keys.map((k) => k.col.column).join(', ')} FROM ${codec.table} WHERE "id" = ?`;
}

/**
 * Rows strictly after the anchor in the order of `keys`:
 * `OR` over i of (keys before i equal to the anchor AND key i after it).
 * "After" honours the direction and NULLs-lowest; equality uses `IS`.
 * A leading range condition on the first key lets SQLite use an index on it.
 */
export function keysetClause(keys: readonly SortKey[], anchor: readonly SqlValue[]): { sql: string; params: SqlValue[] } {
  const params: SqlValue[] = [];
  const disjuncts: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const a = anchor[i] ?? null;
    let after: string;
    const afterParams: SqlValue[] = [];
    if (!k.desc) {
      if (a === null) after = `${k.col.column} IS NOT NULL`;
      else {
        after = `${k.col.column} > ?`;
        afterParams.push(a);
      }
    } else {
      // Descending, NULLs last: nothing sorts after a NULL.
      if (a === null) after = '';
      else {
        after = `(${k.col.column} < ? OR ${k.col.column} IS NULL)`;
        afterParams.push(a);
      }
    }
    if (after) {
      const conj: string[] = [];
      for (let j = 0; j < i; j++) {
        const prev = keys[j]!;
        const b = anchor[j] ?? null;
        if (b === null) conj.push(`${prev.col.column} IS NULL`);
        else {
          conj.push(`${prev.col.column} = ?`);
          params.push(b);
        }
      }
      conj.push(after);
      params.push(...afterParams);
      disjuncts.push(conj.length === 1 ? conj[0]! : `(${conj.join(' AND ')})`);
    }
    // Once a key is NULL-equal, later keys still break ties; keep going.
  }
  if (disjuncts.length === 0) return { sql: '0', params: [] };
  const first = keys[0]!;
  const a0 = anchor[0] ?? null;
  const lead: string[] = [];
  const leadParams: SqlValue[] = [];
  if (!first.desc && a0 !== null) {
    lead.push(`${first.col.column} >= ?`);
    leadParams.push(a0);
  } else if (first.desc && a0 !== null) {
    lead.push(`(${first.col.column} <= ? OR ${first.col.column} IS NULL)`);
    leadParams.push(a0);
  } else if (first.desc && a0 === null) {
    lead.push(`${first.col.column} IS NULL`);
  }
  const body = disjuncts.length === 1 ? disjuncts[0]! : `(${disjuncts.join(' OR ')})`;
  return { sql: lead.length ? `${lead[0]} AND ${body}` : body, params: [...leadParams, ...params] };
}

export function orderClause(keys: readonly SortKey[]): string {
  return keys.map((k) => `${k.col.column} ${k.desc ? 'DESC' : 'ASC'}`).join(', ');
}

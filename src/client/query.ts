/**
 * Local evaluation of a checked `ListQuery` over rows in memory. Matches the
 * engine's storage: equality and IN, null matches null, nulls sort lowest,
 * booleans as false < true, `id` ascending as the last tie-breaker.
 */
import type { ListQuery, OrderBy } from '../protocol/listQuery.js';
import type { RowData } from './store.js';

function matches(row: RowData, where: Record<string, unknown>): boolean {
  for (const field in where) {
    const want = where[field];
    const have = row[field] ?? null;
    if (Array.isArray(want)) {
      let hit = false;
      for (const w of want) {
        if (w === have) {
          hit = true;
          break;
        }
      }
      if (!hit) return false;
    } else if (want !== have) return false;
  }
  return true;
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'boolean' || typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  // Strings: compare by UTF-8 bytes like SQLite's BINARY collation.
  return compareUtf8(String(a), String(b));
}

/** Code-point order, which equals UTF-8 byte order (JS `<` compares UTF-16 units instead). */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

export function compareRows(orderBy: readonly OrderBy[]): (a: RowData, b: RowData) => number {
  return (a, b) => {
    for (const o of orderBy) {
      const c = compareValues(a[o.field], b[o.field]);
      if (c !== 0) return o.direction === 'asc' ? c : -c;
    }
    return compareUtf8(a.id, b.id);
  };
}

/** Rows matching `query`, sorted and limited. */
export function runQuery(rows: Iterable<RowData>, query: Pick<ListQuery, 'where' | 'orderBy'> & { limit?: number }): RowData[] {
  const out: RowData[] = [];
  const where = query.where && Object.keys(query.where).length > 0 ? query.where : null;
  for (const row of rows) if (!where || matches(row, where)) out.push(row);
  out.sort(compareRows(query.orderBy ?? []));
  return query.limit !== undefined && out.length > query.limit ? out.slice(0, query.limit) : out;
}

export function countMatching(rows: Iterable<RowData>, where: Record<string, unknown> | undefined): number {
  if (!where || Object.keys(where).length === 0) {
    let n = 0;
    for (const _ of rows) n++;
    return n;
  }
  let n = 0;
  for (const row of rows) if (matches(row, where)) n++;
  return n;
}

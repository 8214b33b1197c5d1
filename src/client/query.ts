/**
 * Local evaluation of a checked `ListQuery` over rows in memory. Matches the
 * engine's storage: equality and IN, null matches null, nulls sort lowest,
 * booleans as false < true, `id` ascending as the last tie-breaker.
 */
import type { ListQuery, OrderBy } from '../protocol/listQuery.js';
import type { RowData } from './store.js';

/** `row` passes `where` (equality, arrays as any of, a missing field counts as null). */
export function matches(row: RowData, where: Record<string, unknown>): boolean {
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
  // null and a missing field are the same value (lowest), so the order is total.
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'boolean' || typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  // Strings: compare by UTF-8 bytes like SQLite's BINARY collation.
  return compareUtf8(String(a), String(b));
}

/**
 * Code-point order, which equals UTF-8 byte order (SQLite's BINARY collation).
 * UTF-16 unit order (JS `<`) differs only where a surrogate meets a unit in
 * U+E000–U+FFFF, so the first differing unit is remapped to fix that case.
 */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixUnit(x) - fixUnit(y);
  }
  return a.length - b.length;
}

function fixUnit(u: number): number {
  if (u >= 0xe000) return u - 0x800;
  if (u >= 0xd800) return u + 0x2000;
  return u;
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
  const compare = compareRows(query.orderBy ?? []);
  const limit = query.limit;
  // A small page of many matches: keep the best `limit` in a heap (n log k) instead of sorting all.
  if (limit !== undefined && limit < 1000 && out.length > limit * 4) return topK(out, limit, compare);
  out.sort(compare);
  return limit !== undefined && out.length > limit ? out.slice(0, limit) : out;
}

/** The `k` smallest rows under `compare`, in order: a max-heap of size k over one pass. */
function topK(rows: RowData[], k: number, compare: (a: RowData, b: RowData) => number): RowData[] {
  if (k <= 0) return [];
  const heap: RowData[] = [];
  const up = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compare(heap[i]!, heap[parent]!) <= 0) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < heap.length && compare(heap[l]!, heap[top]!) > 0) top = l;
      if (r < heap.length && compare(heap[r]!, heap[top]!) > 0) top = r;
      if (top === i) return;
      [heap[i], heap[top]] = [heap[top]!, heap[i]!];
      i = top;
    }
  };
  for (const row of rows) {
    if (heap.length < k) {
      heap.push(row);
      up(heap.length - 1);
    } else if (compare(row, heap[0]!) < 0) {
      heap[0] = row;
      down(0);
    }
  }
  return heap.sort(compare);
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

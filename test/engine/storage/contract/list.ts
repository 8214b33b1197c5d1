/**
 * `listRows`: filters (equality, IN, null) and keyset pages (orderBy on every
 * scalar kind, ties, NULLs lowest, `id` ascending last, startingAfter, limit,
 * hasMore), checked page by page against a JS oracle on generated data — and
 * against the SDK's local evaluation of the same query, which must agree.
 *
 * The order the port promises (src/protocol/listQuery.ts, docs/sdk.md): NULL
 * below every value; false < true; numbers by value; strings (and ids) by
 * Unicode code point (UTF-8 byte order, not UTF-16 units, not a locale).
 */
import { describe, expect, it } from 'vitest';
import { runQuery } from '../../../../src/client/query.js';
import type { OrderBy, Storage, StoredRow } from '../../../../src/engine/storage/types.js';
import { AbloNotFoundError, AbloValidationError } from '../../../../src/errors.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import { change, insertRows, rng, type ContractContext } from './harness.js';

const listSchema = defineSchema({
  items: model({
    name: z.string().nullable(),
    title: z.string(),
    count: z.number().int().nullable(),
    score: z.number().nullable(),
    flag: z.boolean().nullable(),
    done: z.boolean(),
    status: z.enum(['a', 'b', 'c']).nullable(),
    due: z.iso.datetime().nullable(),
    tags: z.array(z.string()).optional(),
  }),
});

/** Sortable and filterable fields, each with the values generated rows take (null where the field allows it). */
const POOLS: Record<string, readonly unknown[]> = {
  name: ['', 'a', 'B', 'b', 'Z', 'zz', 'é', 'e\u0301', '\uFF5E', '\uFFFD', '😀', '𝄞', 'a😀', 'a\uFFFD', '10', '9', null],
  title: ['alpha', 'beta', 'gamma', 'delta'],
  count: [-(2 ** 53 - 1), -5, -1, 0, 1, 2, 3, 1000, 2 ** 53 - 1, null],
  score: [-1e10, -2.5, -0.5, 0, 0.1, 0.2, 0.30000000000000004, 1, 1.5, 3, 1e300, null],
  flag: [true, false, null],
  done: [true, false],
  status: ['a', 'b', 'c', null],
  due: ['2023-12-31T23:59:59.999Z', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.001Z', '2024-06-15T12:00:00.000Z', '2031-01-01T00:00:00.000Z', null],
  createdAt: ['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', '2024-01-03T00:00:00.000Z'],
  updatedAt: ['2024-02-01T00:00:00.000Z', '2024-02-01T00:00:00.001Z', '2024-03-01T00:00:00.000Z', '2024-01-15T00:00:00.000Z'],
};
const SORTABLE = [...Object.keys(POOLS), 'syncId', 'id'];
const ID_PREFIXES = ['a', 'B', 'é', '😀', '\uFF5E', 'a_'];

function codePoints(s: string): number[] {
  return Array.from(s, (c) => c.codePointAt(0)!);
}

/** The oracle's value order. */
function compareValues(a: unknown, b: unknown): number {
  if (a === null && b === null) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'boolean') return Number(a) - Number(b as boolean);
  if (typeof a === 'number') return a < (b as number) ? -1 : a > (b as number) ? 1 : 0;
  const x = codePoints(a as string);
  const y = codePoints(b as string);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** The oracle's order: the keys up to the first `id`, then `id` ascending. */
function sortLike(rows: readonly StoredRow[], orderBy: readonly OrderBy[]): StoredRow[] {
  const keys: OrderBy[] = [];
  for (const k of orderBy) {
    if (keys.some((o) => o.field === k.field)) continue;
    keys.push(k);
    if (k.field === 'id') break;
  }
  if (!keys.some((k) => k.field === 'id')) keys.push({ field: 'id', direction: 'asc' });
  return [...rows].sort((x, y) => {
    for (const k of keys) {
      const c = compareValues(x[k.field] ?? null, y[k.field] ?? null);
      if (c !== 0) return k.direction === 'asc' ? c : -c;
    }
    return 0;
  });
}

function matches(row: StoredRow, where: Record<string, unknown>): boolean {
  return Object.entries(where).every(([f, want]) => {
    const have = row[f] ?? null;
    return Array.isArray(want) ? want.some((w) => w === have) : want === have;
  });
}

function generateRows(n: number, seed: number): Array<{ id: string } & Record<string, unknown>> {
  const r = rng(seed);
  const pick = <T>(pool: readonly T[]): T => pool[Math.floor(r() * pool.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const row: { id: string } & Record<string, unknown> = {
      // Ids not in insertion order, in several scripts.
      id: `${ID_PREFIXES[i % ID_PREFIXES.length]}${String((i * 7919) % 1009).padStart(4, '0')}`,
    };
    for (const [field, pool] of Object.entries(POOLS)) row[field] = pick(pool);
    row.tags = r() < 0.5 ? ['x'] : null;
    return row;
  });
}

/** Seed with the primitives (so createdAt / updatedAt take generated values too). */
async function seed(s: Storage, rows: ReadonlyArray<{ id: string } & Record<string, unknown>>): Promise<StoredRow[]> {
  await s.transaction(async (tx) => {
    for (const { id, createdAt, updatedAt, ...fields } of rows) {
      const syncId = await tx.nextSyncId();
      await tx.insertRow('items', { id, createdAt: createdAt as string, updatedAt: updatedAt as string, syncId, ...fields });
      await tx.appendChange(change(syncId, 'items', id, { fields: Object.keys(fields) }));
    }
  });
  return s.scanRows('items', null, 100_000);
}

/**
 * Page through a query and check every page against the oracle: its rows,
 * `hasMore`, and that a page is full unless it is the last.
 */
async function expectPages(s: Storage, all: readonly StoredRow[], orderBy: OrderBy[], limit: number, where?: Record<string, unknown>): Promise<void> {
  const expected = sortLike(where ? all.filter((r) => matches(r, where)) : all, orderBy).map((r) => r.id);
  const label = JSON.stringify({ orderBy, where, limit });
  const got: string[] = [];
  let startingAfter: string | undefined;
  for (let page = 0; ; page++) {
    const result = await s.listRows('items', { orderBy, limit, ...(where ? { where } : {}), ...(startingAfter !== undefined ? { startingAfter } : {}) });
    const ids = result.rows.map((r) => r.id);
    expect(ids, `${label} page ${page}`).toEqual(expected.slice(page * limit, (page + 1) * limit));
    expect(result.hasMore, `${label} page ${page}`).toBe(expected.length > (page + 1) * limit);
    got.push(...ids);
    if (!result.hasMore) break;
    startingAfter = ids.at(-1)!;
  }
  expect(got, label).toEqual(expected);
}

function orderings(seed: number): OrderBy[][] {
  const out: OrderBy[][] = [[]];
  for (const field of SORTABLE) for (const direction of ['asc', 'desc'] as const) out.push([{ field, direction }]);
  const r = rng(seed);
  for (let i = 0; i < 14; i++) {
    const n = 2 + Math.floor(r() * 3);
    out.push(Array.from({ length: n }, () => ({ field: SORTABLE[Math.floor(r() * SORTABLE.length)]!, direction: r() < 0.5 ? ('asc' as const) : ('desc' as const) })));
  }
  // `id` in the middle: keys after it never matter.
  out.push([
    { field: 'flag', direction: 'desc' },
    { field: 'id', direction: 'desc' },
    { field: 'name', direction: 'asc' },
  ]);
  return out;
}

function randomWhere(r: () => number, all: readonly StoredRow[]): Record<string, unknown> {
  const fields = [...Object.keys(POOLS), 'id'];
  const where: Record<string, unknown> = {};
  const n = 1 + Math.floor(r() * 2);
  for (let i = 0; i < n; i++) {
    const field = fields[Math.floor(r() * fields.length)]!;
    const pool = field === 'id' ? [...all.slice(0, 40).map((row) => row.id), 'missing'] : POOLS[field]!;
    const one = () => pool[Math.floor(r() * pool.length)];
    const kind = r();
    if (kind < 0.45) where[field] = one();
    else if (kind < 0.9) where[field] = Array.from({ length: 1 + Math.floor(r() * 4) }, one);
    else where[field] = field === 'id' ? [] : [null];
  }
  return where;
}

export function listContract(ctx: ContractContext): void {
  describe('listRows: keyset pages against an oracle', () => {
    it('orders by every scalar kind (strings in code-point order, numbers, booleans, enums, dates, system fields), asc and desc, with NULLs and ties, page after page', async () => {
      const s = await ctx.withSchema(listSchema.serialized);
      const all = await seed(s, generateRows(300, 7));
      expect(all).toHaveLength(300);
      const list = orderings(11);
      for (const [i, orderBy] of list.entries()) {
        await expectPages(s, all, orderBy, 7);
        await expectPages(s, all, orderBy, 300);
        // Every row as an anchor once: each NULL / tie situation at a page boundary.
        if (i % 3 === 0) await expectPages(s, all, orderBy, 1);
      }
      // The rows are whole rows, as getRow returns them.
      const page = await s.listRows('items', { orderBy: [{ field: 'score', direction: 'desc' }], limit: 300 });
      for (const row of page.rows) expect(row).toEqual(await s.getRow('items', row.id));
    });

    it('filters (equality, IN, null, several fields) and pages the result, for generated queries', async () => {
      const s = await ctx.withSchema(listSchema.serialized);
      const all = await seed(s, generateRows(300, 99));
      const r = rng(5);
      const list = orderings(13);
      let nonEmpty = 0;
      for (let i = 0; i < 60; i++) {
        const where = randomWhere(r, all);
        const orderBy = list[Math.floor(r() * list.length)]!;
        if (all.some((row) => matches(row, where))) nonEmpty++;
        await expectPages(s, all, orderBy, 1 + Math.floor(r() * 9), where);
      }
      // The generator made queries that match something.
      expect(nonEmpty).toBeGreaterThan(30);
    });

    it('pages after an anchor the filter excludes (a position in the order), and after the last row', async () => {
      const s = await ctx.withSchema(listSchema.serialized);
      const all = await seed(s, generateRows(120, 3));
      const orderBy: OrderBy[] = [
        { field: 'status', direction: 'desc' },
        { field: 'score', direction: 'asc' },
      ];
      const where = { done: true };
      const ordered = sortLike(all, orderBy);
      for (const anchor of ordered.filter((row) => row.done === false).slice(0, 25)) {
        const after = ordered.slice(ordered.indexOf(anchor) + 1).filter((row) => matches(row, where));
        const page = await s.listRows('items', { where, orderBy, limit: 4, startingAfter: anchor.id });
        expect(page.rows.map((row) => row.id)).toEqual(after.slice(0, 4).map((row) => row.id));
        expect(page.hasMore).toBe(after.length > 4);
      }
      expect(await s.listRows('items', { orderBy, limit: 5, startingAfter: ordered.at(-1)!.id })).toEqual({ rows: [], hasMore: false });
    });

    it('agrees with the SDK’s local evaluation of the same query', async () => {
      const s = await ctx.withSchema(listSchema.serialized);
      const all = await seed(s, generateRows(200, 21));
      const r = rng(8);
      for (const orderBy of orderings(17)) {
        const where = r() < 0.5 ? randomWhere(r, all) : undefined;
        const stored = (await s.listRows('items', { orderBy, limit: 1000, ...(where ? { where } : {}) })).rows.map((row) => row.id);
        const local = runQuery(all, { orderBy, ...(where ? { where } : {}) }).map((row) => row.id);
        expect(stored, JSON.stringify({ orderBy, where })).toEqual(local);
      }
    });

    it('pages with a filter and a page size that divides the result; an exact last page has hasMore false', async () => {
      const s = await ctx.withSchema(listSchema.serialized);
      const all = await seed(s, generateRows(250, 42));
      await expectPages(
        s,
        all,
        [
          { field: 'score', direction: 'asc' },
          { field: 'title', direction: 'asc' },
        ],
        7,
        { done: true, status: ['a', 'b', null] },
      );
      const exact = await s.listRows('items', { limit: 250 });
      expect(exact.rows).toHaveLength(250);
      expect(exact.hasMore).toBe(false);
      expect(await s.listRows('items', { limit: 10, startingAfter: exact.rows[249]!.id })).toEqual({ rows: [], hasMore: false });
      const divides = sortLike(all, []).length / 10;
      await expectPages(s, all, [], divides);
      expect(await s.listRows('items', { limit: 0 })).toEqual({ rows: [], hasMore: true });
    });
  });

  describe('listRows: filters and refusals', () => {
    it('filters by equality, IN, null, booleans, numbers and whole JSON values', async () => {
      const s = await ctx.withSchema(listSchema.serialized);
      await insertRows(s, 'items', [
        { id: 'i1', title: 'a', done: true, count: 1, score: 1.5, status: 'a', tags: ['x'], name: '😀' },
        { id: 'i2', title: 'b', done: false, count: null, score: null, status: null, tags: null, flag: null },
        { id: 'i3', title: 'c', done: true, count: 3, score: 3, status: 'b', tags: ['x', 'y'], flag: true },
        { id: 'i4', title: 'd', done: false, count: 1, score: 2, status: 'c', tags: [], flag: false },
      ]);
      const ids = async (where: Record<string, unknown>) => (await s.listRows('items', { where, limit: 100 })).rows.map((r) => r.id);
      expect(await ids({ done: true })).toEqual(['i1', 'i3']);
      expect(await ids({ done: false })).toEqual(['i2', 'i4']);
      expect(await ids({ flag: false })).toEqual(['i4']);
      expect(await ids({ flag: null })).toEqual(['i1', 'i2']);
      expect(await ids({ flag: [true, null] })).toEqual(['i1', 'i2', 'i3']);
      expect(await ids({ count: 1 })).toEqual(['i1', 'i4']);
      expect(await ids({ count: null })).toEqual(['i2']);
      expect(await ids({ count: [3, 1] })).toEqual(['i1', 'i3', 'i4']);
      expect(await ids({ count: [3, null] })).toEqual(['i2', 'i3']);
      expect(await ids({ count: [] })).toEqual([]);
      expect(await ids({ count: [null] })).toEqual(['i2']);
      expect(await ids({ count: 1.5 })).toEqual([]);
      expect(await ids({ score: 3 })).toEqual(['i3']);
      expect(await ids({ score: [1.5, 2] })).toEqual(['i1', 'i4']);
      expect(await ids({ done: [true] })).toEqual(['i1', 'i3']);
      expect(await ids({ status: ['a', 'c'], done: false })).toEqual(['i4']);
      expect(await ids({ name: '😀' })).toEqual(['i1']);
      expect(await ids({ name: ['😀', 'x'] })).toEqual(['i1']);
      expect(await ids({ tags: ['x'] })).toEqual([]); // an array value means IN, not equality
      expect(await ids({ tags: [['x', 'y'], []] })).toEqual(['i3', 'i4']);
      expect(await ids({ id: ['i4', 'i2'] })).toEqual(['i2', 'i4']);
      expect(await ids({ id: 'i3' })).toEqual(['i3']);
      expect(await ids({ syncId: [1, 4] })).toEqual(['i1', 'i4']);
      expect(await ids({ title: 'c', done: true })).toEqual(['i3']);
      expect(await ids({ title: undefined })).toEqual(['i1', 'i2', 'i3', 'i4']);
      // A long IN list is one filter, whatever its length.
      const many = Array.from({ length: 5000 }, (_, i) => `i${i}`);
      expect(await ids({ id: many })).toEqual(['i1', 'i2', 'i3', 'i4']);
    });

    it('refuses unknown fields and SQL-looking names in where and orderBy, a bad direction, an operator object and an unknown startingAfter', async () => {
      const s = await ctx.withSchema(listSchema.serialized);
      await insertRows(s, 'items', [{ id: 'i1', title: 'a', done: true, count: 1, score: 1, status: 'a' }]);
      const evil = 'title" = \'a\'; DROP TABLE items; --';
      await expect(s.listRows('items', { where: { [evil]: 1 }, limit: 1 })).rejects.toBeInstanceOf(AbloValidationError);
      await expect(s.listRows('items', { where: { constructor: 1 }, limit: 1 })).rejects.toBeInstanceOf(AbloValidationError);
      await expect(s.listRows('items', { orderBy: [{ field: evil, direction: 'asc' }], limit: 1 })).rejects.toBeInstanceOf(AbloValidationError);
      await expect(s.listRows('items', { orderBy: [{ field: 'title', direction: 'sideways' as 'asc' }], limit: 1 })).rejects.toBeInstanceOf(
        AbloValidationError,
      );
      await expect(s.listRows('items', { where: { title: { $gt: 'a' } }, limit: 1 })).rejects.toBeInstanceOf(AbloValidationError);
      await expect(s.listRows('items', { limit: 1, startingAfter: 'missing' })).rejects.toBeInstanceOf(AbloNotFoundError);
      await expect(s.listRows('items', { limit: 1, startingAfter: 'missing' })).rejects.toMatchObject({ code: 'row_not_found' });
      await expect(s.listRows('nope', { limit: 1 })).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      expect((await s.listRows('items', { limit: 5 })).rows).toHaveLength(1);
    });
  });
}

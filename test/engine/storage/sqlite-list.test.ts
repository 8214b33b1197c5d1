import { describe, expect, it } from 'vitest';
import type { OrderBy, Storage, StoredRow } from '../../../src/engine/storage/types.js';
import { AbloNotFoundError, AbloValidationError } from '../../../src/errors.js';
import { defineSchema, model, z } from '../../../src/schema/index.js';
import { insertRows, push, useTempStorage } from './helpers.js';

const schema = defineSchema({
  items: model({
    title: z.string(),
    done: z.boolean(),
    priority: z.number().int().optional(),
    estimate: z.number().nullable(),
    status: z.enum(['a', 'b', 'c']).nullable(),
    tags: z.array(z.string()).optional(),
  }),
});

const t = useTempStorage();

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

function makeRows(n: number): Array<{ id: string } & Record<string, unknown>> {
  const r = rng(42);
  const rows: Array<{ id: string } & Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    const pick = r();
    rows.push({
      // Ids not in insertion order.
      id: `it_${String((i * 7919) % 1000).padStart(4, '0')}`,
      // Few distinct values: many ties.
      title: ['alpha', 'beta', 'gamma', 'delta'][Math.floor(r() * 4)]!,
      done: r() < 0.5,
      priority: pick < 0.2 ? null : Math.floor(r() * 5),
      estimate: r() < 0.25 ? null : Math.floor(r() * 6) / 2,
      status: r() < 0.15 ? null : (['a', 'b', 'c'] as const)[Math.floor(r() * 3)]!,
      tags: r() < 0.5 ? ['x'] : null,
    });
  }
  return rows;
}

/** The order the storage promises: NULL lowest, `id` ascending last unless `id` is a key. */
function sortLike(rows: StoredRow[], orderBy: OrderBy[]): StoredRow[] {
  const keys = [...orderBy];
  if (!keys.some((k) => k.field === 'id')) keys.push({ field: 'id', direction: 'asc' });
  const cmp = (a: unknown, b: unknown): number => {
    if (a === null && b === null) return 0;
    if (a === null) return -1;
    if (b === null) return 1;
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  };
  return [...rows].sort((x, y) => {
    for (const k of keys) {
      const c = cmp(x[k.field], y[k.field]);
      if (c !== 0) return k.direction === 'asc' ? c : -c;
    }
    return 0;
  });
}

async function pageAll(s: Storage, orderBy: OrderBy[], where?: Record<string, unknown>, limit = 20): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let startingAfter: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await s.listRows('items', { orderBy, limit, ...(where ? { where } : {}), ...(startingAfter ? { startingAfter } : {}) });
    pages++;
    expect(page.rows.length).toBeLessThanOrEqual(limit);
    ids.push(...page.rows.map((r) => r.id));
    if (!page.hasMore) break;
    expect(page.rows).toHaveLength(limit);
    startingAfter = page.rows[page.rows.length - 1]!.id;
    if (pages > 10_000) throw new Error('pagination does not end');
  }
  return { ids, pages };
}

async function seeded(n = 250): Promise<{ s: Storage; all: StoredRow[] }> {
  const s = await t.open();
  await push(s, schema.serialized);
  await insertRows(s, 'items', makeRows(n));
  const all = await s.scanRows('items', null, 10_000);
  expect(all).toHaveLength(n);
  return { s, all };
}

describe('SQLite storage: listRows', () => {
  it('pages through 250 rows in pages of 20 in exactly the sorted order, for asc/desc mixes with NULLs and ties', async () => {
    const { s, all } = await seeded();
    const orderings: OrderBy[][] = [
      [],
      [{ field: 'priority', direction: 'asc' }],
      [{ field: 'priority', direction: 'desc' }],
      [
        { field: 'priority', direction: 'asc' },
        { field: 'title', direction: 'desc' },
      ],
      [
        { field: 'estimate', direction: 'desc' },
        { field: 'done', direction: 'asc' },
        { field: 'status', direction: 'desc' },
      ],
      [
        { field: 'status', direction: 'asc' },
        { field: 'estimate', direction: 'asc' },
        { field: 'priority', direction: 'desc' },
      ],
      [
        { field: 'done', direction: 'desc' },
        { field: 'id', direction: 'desc' },
      ],
      [{ field: 'syncId', direction: 'desc' }],
    ];
    for (const orderBy of orderings) {
      const expected = sortLike(all, orderBy).map((r) => r.id);
      const { ids, pages } = await pageAll(s, orderBy);
      expect(ids, JSON.stringify(orderBy)).toEqual(expected);
      expect(pages).toBe(13);
      // Every row as an anchor once: each NULL / tie situation at a page boundary.
      expect((await pageAll(s, orderBy, undefined, 1)).ids, JSON.stringify(orderBy)).toEqual(expected);
    }
  });

  it('pages with a filter and a page size that divides the result', async () => {
    const { s, all } = await seeded();
    const orderBy: OrderBy[] = [
      { field: 'estimate', direction: 'asc' },
      { field: 'title', direction: 'asc' },
    ];
    const expected = sortLike(
      all.filter((r) => r.done === true && r.status !== 'c'),
      orderBy,
    ).map((r) => r.id);
    const { ids } = await pageAll(s, orderBy, { done: true, status: ['a', 'b', null] }, 7);
    expect(ids).toEqual(expected);

    const exact = await s.listRows('items', { limit: 250 });
    expect(exact.rows).toHaveLength(250);
    expect(exact.hasMore).toBe(false);
    const lastPage = await s.listRows('items', { limit: 10, startingAfter: exact.rows[249]!.id });
    expect(lastPage).toEqual({ rows: [], hasMore: false });
  });

  it('filters by equality, IN, null, booleans and JSON values', async () => {
    const s = await t.open();
    await push(s, schema.serialized);
    await insertRows(s, 'items', [
      { id: 'i1', title: 'a', done: true, priority: 1, estimate: 1.5, status: 'a', tags: ['x'] },
      { id: 'i2', title: 'b', done: false, priority: null, estimate: null, status: null, tags: null },
      { id: 'i3', title: 'c', done: true, priority: 3, estimate: 3, status: 'b', tags: ['x', 'y'] },
      { id: 'i4', title: 'd', done: false, priority: 1, estimate: 2, status: 'c', tags: [] },
    ]);
    const ids = async (where: Record<string, unknown>) => (await s.listRows('items', { where, limit: 100 })).rows.map((r) => r.id);
    expect(await ids({ done: true })).toEqual(['i1', 'i3']);
    expect(await ids({ done: false })).toEqual(['i2', 'i4']);
    expect(await ids({ priority: 1 })).toEqual(['i1', 'i4']);
    expect(await ids({ priority: null })).toEqual(['i2']);
    expect(await ids({ priority: [3, 1] })).toEqual(['i1', 'i3', 'i4']);
    expect(await ids({ priority: [3, null] })).toEqual(['i2', 'i3']);
    expect(await ids({ priority: [] })).toEqual([]);
    expect(await ids({ priority: [null] })).toEqual(['i2']);
    expect(await ids({ estimate: 3 })).toEqual(['i3']);
    expect(await ids({ estimate: [1.5, 2] })).toEqual(['i1', 'i4']);
    expect(await ids({ done: [true] })).toEqual(['i1', 'i3']);
    expect(await ids({ status: ['a', 'c'], done: false })).toEqual(['i4']);
    expect(await ids({ tags: ['x'] })).toEqual([]); // an array value means IN, not equality
    expect(await ids({ tags: [['x', 'y'], []] })).toEqual(['i3', 'i4']);
    expect(await ids({ id: ['i4', 'i2'] })).toEqual(['i2', 'i4']);
    expect(await ids({ title: 'c', done: true })).toEqual(['i3']);
    expect(await ids({ title: undefined })).toEqual(['i1', 'i2', 'i3', 'i4']);
    const many = Array.from({ length: 5000 }, (_, i) => `i${i}`);
    expect(await ids({ id: many })).toEqual(['i1', 'i2', 'i3', 'i4']);
    expect(await s.listRows('items', { limit: 0 })).toEqual({ rows: [], hasMore: true });
  });

  it('refuses unknown fields and SQL-looking names in where and orderBy, and an unknown startingAfter', async () => {
    const s = await t.open();
    await push(s, schema.serialized);
    await insertRows(s, 'items', [{ id: 'i1', title: 'a', done: true, priority: 1, estimate: 1, status: 'a' }]);
    const evil = 'title" = \'a\'; DROP TABLE items; --';
    await expect(s.listRows('items', { where: { [evil]: 1 }, limit: 1 })).rejects.toBeInstanceOf(AbloValidationError);
    await expect(s.listRows('items', { orderBy: [{ field: evil, direction: 'asc' }], limit: 1 })).rejects.toBeInstanceOf(AbloValidationError);
    await expect(s.listRows('items', { orderBy: [{ field: 'title', direction: 'sideways' as 'asc' }], limit: 1 })).rejects.toBeInstanceOf(
      AbloValidationError,
    );
    await expect(s.listRows('items', { where: { title: { $gt: 'a' } }, limit: 1 })).rejects.toBeInstanceOf(AbloValidationError);
    await expect(s.listRows('items', { limit: 1, startingAfter: 'missing' })).rejects.toBeInstanceOf(AbloNotFoundError);
    await expect(s.listRows('nope', { limit: 1 })).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
    expect((await s.listRows('items', { limit: 5 })).rows).toHaveLength(1);
  });
});

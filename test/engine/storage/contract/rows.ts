/**
 * Rows: every field kind written and read back unchanged (through the
 * primitives, the RowSink, the commit path, every read and the change log),
 * typed refusals, and `scanRows`.
 */
import { describe, expect, it } from 'vitest';
import type { Storage, StoredRow } from '../../../../src/engine/storage/types.js';
import { AbloNotFoundError, AbloValidationError } from '../../../../src/errors.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import { change, commit, insertRows, T0, type ContractContext } from './harness.js';

/** One field of every kind the schema supports (all but `str` may be empty). */
export const kindFields = {
  str: z.string(),
  optStr: z.string().nullable().optional(),
  int: z.number().int().nullable(),
  real: z.number().nullable(),
  flag: z.boolean().nullable(),
  status: z.enum(['todo', 'doing', 'done']).nullable(),
  due: z.iso.datetime().nullable(),
  day: z.iso.date().nullable(),
  tags: z.array(z.string()).nullable(),
  meta: z.object({ a: z.number(), b: z.string().optional() }).nullable(),
  extra: z.json().nullable(),
  labels: z.record(z.string(), z.string()).nullable(),
};

export const kindsSchema = defineSchema({
  kinds: model(kindFields),
});

/** Field values that must come back exactly as written. */
export const KIND_ROWS: Array<{ id: string } & Record<string, unknown>> = [
  {
    id: 'k_astral',
    str: 'clef 𝄞, face 😀, family 👩‍👩‍👧, flag 🇫🇷, é (e + U+0301), 中文, עברית',
    optStr: '\uFF5E fullwidth tilde, \uFFFD replacement',
    int: 0,
    real: 0.1,
    flag: true,
    status: 'todo',
    due: '2024-02-29T23:59:59.999Z',
    day: '2024-02-29',
    tags: ['😀', '', 'a,b', '"quoted"'],
    meta: { a: 1, b: '𝄞' },
    extra: { nested: [1, { deep: null, more: [true, false, 'x'] }], '😀 key': '😀 value', empty: {}, none: [] },
    labels: { '𝄞': 'clef', k: '' },
  },
  {
    id: 'k_edges',
    str: '',
    optStr: `quotes ' " \` backslash \\ newline \n tab \t percent % underscore _ "; DROP TABLE kinds; --`,
    int: Number.MAX_SAFE_INTEGER,
    real: -2.5,
    flag: false,
    status: 'done',
    due: '1970-01-01T00:00:00.000Z',
    day: '1999-12-31',
    tags: [],
    meta: { a: -0.5 },
    extra: 'a JSON string',
    labels: {},
  },
  {
    id: 'k_numbers',
    str: '123',
    optStr: 'null',
    int: -Number.MAX_SAFE_INTEGER,
    real: 1e-300,
    flag: null,
    status: null,
    due: null,
    day: null,
    tags: null,
    meta: null,
    extra: 42.5,
    labels: null,
  },
  {
    id: 'k_more_numbers',
    str: 'true',
    optStr: null,
    int: -1,
    real: 1.7976931348623157e308,
    flag: true,
    status: 'doing',
    due: '2024-01-01T00:00:00.000Z',
    day: '2024-01-01',
    tags: ['x'],
    meta: { a: 0 },
    extra: [1, 'two', null, { three: 3 }],
    labels: { a: 'b' },
  },
  {
    id: 'k_whole_real',
    str: 'x'.repeat(100_000),
    optStr: '0',
    int: 7,
    real: 3,
    flag: false,
    status: 'todo',
    due: '2099-12-31T23:59:59.000Z',
    day: '2099-12-31',
    tags: ['x'.repeat(1000)],
    meta: { a: 1e21 },
    extra: false,
    labels: { long: 'y'.repeat(10_000) },
  },
  {
    id: 'k_nulls',
    str: 'only the required field',
    optStr: null,
    int: null,
    real: null,
    flag: null,
    status: null,
    due: null,
    day: null,
    tags: null,
    meta: null,
    extra: null,
    labels: null,
  },
];

const FIELDS = Object.keys(kindsSchema.serialized.models.kinds!.fields);

/** The fields of a row (without the system fields). */
function fieldsOf(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(FIELDS.map((f) => [f, row[f] ?? null]));
}

/** Every value has the JS type it was written with. */
function expectSameTypes(got: Record<string, unknown>, want: Record<string, unknown>): void {
  for (const f of FIELDS) {
    const w = want[f] ?? null;
    const g = got[f];
    expect(w === null ? g : typeof g, `${f}`).toBe(w === null ? null : typeof w);
    if (Array.isArray(w)) expect(Array.isArray(g), f).toBe(true);
  }
}

async function expectEverywhere(s: Storage, want: Array<{ id: string } & Record<string, unknown>>): Promise<void> {
  const byId = new Map(want.map((r) => [r.id, r]));
  const sorted = [...want].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const r of want) {
    const got = await s.getRow('kinds', r.id);
    expect(got, r.id).not.toBeNull();
    expect(fieldsOf(got!), r.id).toEqual(fieldsOf(r));
    expectSameTypes(got!, r);
  }
  const listed = await s.listRows('kinds', { limit: 100 });
  expect(listed.rows.map((r) => r.id)).toEqual(sorted.map((r) => r.id));
  for (const got of listed.rows) expect(fieldsOf(got)).toEqual(fieldsOf(byId.get(got.id)!));
  const scanned = await s.scanRows('kinds', null, 100);
  expect(scanned).toEqual(listed.rows);
  expect(await s.scanGroupRows('kinds', 'default', null, 100)).toEqual(listed.rows);
}

export function rowsContract(ctx: ContractContext): void {
  describe('rows', () => {
    it('round-trips every field kind through the primitives: insert, get, update, delete', async () => {
      const s = await ctx.withSchema(kindsSchema.serialized);
      await insertRows(s, 'kinds', KIND_ROWS);
      await expectEverywhere(s, KIND_ROWS);
      const one = await s.getRow('kinds', 'k_astral');
      expect(one).toMatchObject({ id: 'k_astral', createdAt: T0, updatedAt: T0, syncId: 1 });

      // Update every field of every row to the values of the next row (nulls included), and back to null.
      const T1 = '2024-01-02T00:00:00.000Z';
      const rotated = KIND_ROWS.map((r, i) => ({ ...KIND_ROWS[(i + 1) % KIND_ROWS.length]!, id: r.id }));
      await s.transaction(async (tx) => {
        for (const r of rotated) {
          const syncId = await tx.nextSyncId();
          await tx.updateRow('kinds', r.id, fieldsOf(r), { updatedAt: T1, syncId });
          // The transaction sees its own write.
          expect(fieldsOf((await tx.getRow('kinds', r.id))!)).toEqual(fieldsOf(r));
          await tx.appendChange(change(syncId, 'kinds', r.id, { action: 'update', fields: FIELDS }));
        }
      });
      await expectEverywhere(s, rotated);
      expect(await s.getRow('kinds', 'k_edges')).toMatchObject({ createdAt: T0, updatedAt: T1 });

      // A partial update leaves the other fields as they were.
      await s.transaction(async (tx) => {
        const syncId = await tx.nextSyncId();
        await tx.updateRow('kinds', 'k_astral', { int: null, extra: [1, 'two'], real: 7 }, { updatedAt: T1, syncId });
        await tx.appendChange(change(syncId, 'kinds', 'k_astral', { action: 'update', fields: ['int', 'extra', 'real'] }));
      });
      expect(fieldsOf((await s.getRow('kinds', 'k_astral'))!)).toEqual({ ...fieldsOf(rotated[0]!), int: null, extra: [1, 'two'], real: 7 });
      expect((await s.getRow('kinds', 'k_astral'))!.syncId).toBe(await s.lastSyncId());

      await s.transaction(async (tx) => {
        await tx.deleteRow('kinds', 'k_edges');
        expect(await tx.getRow('kinds', 'k_edges')).toBeNull();
      });
      expect(await s.getRow('kinds', 'k_edges')).toBeNull();
      expect(await s.getRow('kinds', 'nope')).toBeNull();
      expect((await s.scanRows('kinds', null, 100)).map((r) => r.id)).not.toContain('k_edges');

      // A row read back has every field key; a field left out is null.
      await insertRows(s, 'kinds', [{ id: 'k_bare', str: 'bare' }]);
      const head = await s.lastSyncId();
      expect(await s.getRow('kinds', 'k_bare')).toEqual({ id: 'k_bare', createdAt: T0, updatedAt: T0, syncId: head, ...fieldsOf({ str: 'bare' }) });
    });

    it('round-trips every field kind through the commit path (RowSink), its change-log entries and the feed', async () => {
      const s = await ctx.withSchema(kindsSchema.serialized);
      const announced: unknown[] = [];
      s.feed.subscribe((b) => announced.push(...b.changes.map((c) => c.data)));
      const first = fieldsOf(KIND_ROWS[0]!);
      const outcome = await commit(
        s,
        KIND_ROWS.map(({ id, ...data }) => ({ op: 'create' as const, model: 'kinds', id, data })),
      );
      expect(outcome.receipt.status).toBe('committed');
      await expectEverywhere(s, KIND_ROWS);
      // The change log holds each row as written, and the feed announced the same.
      const log = await s.changesAfter(0, 100);
      expect(log.map((c) => c.id)).toEqual(KIND_ROWS.map((r) => r.id));
      for (const [i, c] of log.entries()) {
        expect(c.data).toEqual(await s.getRow('kinds', c.id));
        expect(fieldsOf(c.data!)).toEqual(fieldsOf(KIND_ROWS[i]!));
      }
      expect(announced).toEqual(log.map((c) => c.data));

      // Updates through the commit path: each field to another value, then to null.
      await commit(s, [{ op: 'update', model: 'kinds', id: 'k_nulls', data: first }]);
      expect(fieldsOf((await s.getRow('kinds', 'k_nulls'))!)).toEqual(fieldsOf(KIND_ROWS[0]!));
      const nulls = Object.fromEntries(FIELDS.filter((f) => f !== 'str').map((f) => [f, null]));
      await commit(s, [{ op: 'update', model: 'kinds', id: 'k_nulls', data: nulls }]);
      expect(fieldsOf((await s.getRow('kinds', 'k_nulls'))!)).toEqual({ ...fieldsOf(nulls), str: KIND_ROWS[0]!.str });
      const last = (await s.changesAfter(0, 100)).at(-1)!;
      expect(last).toMatchObject({ action: 'update', id: 'k_nulls', fields: Object.keys(nulls) });
      expect(last.data).toEqual(await s.getRow('kinds', 'k_nulls'));
    });

    it('refuses unknown models, unknown fields, duplicate ids and missing rows with typed errors, and changes nothing', async () => {
      const s = await ctx.withSchema(kindsSchema.serialized);
      await expect(s.getRow('nope', 'x')).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      await expect(s.getRow('nope', 'x')).rejects.toMatchObject({ code: 'unknown_model' });
      // Names of Object.prototype are not models.
      await expect(s.getRow('constructor', 'x')).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      await expect(s.getRow('__proto__', 'x')).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      await expect(s.listRows('nope', { limit: 1 })).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      await expect(s.scanRows('nope', null, 1)).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      await insertRows(s, 'kinds', [{ id: 'p1', str: 'P' }]);
      const attempt = (fn: Parameters<Storage['transaction']>[0]) => s.transaction(fn);
      const row = (extra: Record<string, unknown>): StoredRow => ({ id: 'p2', createdAt: T0, updatedAt: T0, syncId: 9, str: 's', ...extra });
      await expect(attempt((tx) => tx.insertRow('kinds', row({ bogus: 1 })))).rejects.toMatchObject({ code: 'unknown_field' });
      await expect(attempt((tx) => tx.insertRow('kinds', row({ bogus: 1 })))).rejects.toBeInstanceOf(AbloValidationError);
      await expect(attempt((tx) => tx.insertRow('nope', row({})))).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      // A duplicate id.
      const dup = await attempt((tx) => tx.insertRow('kinds', { ...row({}), id: 'p1' })).catch((e: unknown) => e);
      expect(dup).toBeInstanceOf(AbloValidationError);
      expect((dup as AbloValidationError).code).toBe('id_exists');
      await expect(attempt((tx) => tx.updateRow('kinds', 'p1', { 'str" = 1; --': 'x' }, { updatedAt: T0, syncId: 9 }))).rejects.toMatchObject({
        code: 'unknown_field',
      });
      await expect(attempt((tx) => tx.updateRow('kinds', 'zzz', { str: 'x' }, { updatedAt: T0, syncId: 9 }))).rejects.toMatchObject({ code: 'row_not_found' });
      await expect(attempt((tx) => tx.updateRow('kinds', 'zzz', { str: 'x' }, { updatedAt: T0, syncId: 9 }))).rejects.toBeInstanceOf(AbloNotFoundError);
      await expect(attempt((tx) => tx.deleteRow('kinds', 'zzz'))).rejects.toBeInstanceOf(AbloNotFoundError);
      // A value of the wrong shape for a scalar column.
      await expect(attempt((tx) => tx.insertRow('kinds', row({ str: { not: 'a string' } })))).rejects.toBeInstanceOf(AbloValidationError);
      expect(await s.getRow('kinds', 'p1')).toMatchObject({ str: 'P', syncId: 1 });
      expect(await s.getRow('kinds', 'p2')).toBeNull();
      expect(await s.lastSyncId()).toBe(1);
    });

    it('stores SQL-looking values and LIKE wildcards as plain data', async () => {
      const s = await ctx.withSchema(kindsSchema.serialized);
      const evil = `"; DROP TABLE kinds; --`;
      await insertRows(s, 'kinds', [
        { id: 'k_x', str: evil, tags: [evil], extra: { [evil]: evil } },
        { id: 'k_pct', str: '%' },
        { id: 'k_und', str: '_' },
        { id: 'k_a', str: 'a' },
      ]);
      expect(await s.getRow('kinds', 'k_x')).toMatchObject({ str: evil, tags: [evil], extra: { [evil]: evil } });
      const ids = async (where: Record<string, unknown>) => (await s.listRows('kinds', { where, limit: 10 })).rows.map((r) => r.id);
      expect(await ids({ str: evil })).toEqual(['k_x']);
      expect(await ids({ str: [evil, `'); DROP TABLE kinds; --`] })).toEqual(['k_x']);
      expect(await ids({ str: '%' })).toEqual(['k_pct']);
      expect(await ids({ str: '_' })).toEqual(['k_und']);
      expect(await s.scanRows('kinds', null, 10)).toHaveLength(4);
    });

    it('scans rows in id order after an id, at most limit', async () => {
      const s = await ctx.withSchema(kindsSchema.serialized);
      // Code-point order: 'B' < 'a' < 'é' < '～' (U+FF5E) < '😀' (U+1F600).
      await insertRows(
        s,
        'kinds',
        ['p3', 'p1', 'p5', 'p2', 'p4', 'a', 'B', 'é', '～', '😀'].map((id) => ({ id, str: id })),
      );
      expect((await s.scanRows('kinds', null, 2)).map((r) => r.id)).toEqual(['B', 'a']);
      expect((await s.scanRows('kinds', 'a', 2)).map((r) => r.id)).toEqual(['p1', 'p2']);
      expect((await s.scanRows('kinds', 'p2', 2)).map((r) => r.id)).toEqual(['p3', 'p4']);
      expect((await s.scanRows('kinds', 'p4', 10)).map((r) => r.id)).toEqual(['p5', 'é', '～', '😀']);
      expect(await s.scanRows('kinds', '😀', 10)).toEqual([]);
      // An id that is not stored is a position, not an error.
      expect((await s.scanRows('kinds', 'p25', 1)).map((r) => r.id)).toEqual(['p3']);
      expect(await s.scanRows('kinds', null, 0)).toEqual([]);
      const all = await s.scanRows('kinds', null, 100);
      expect(all).toHaveLength(10);
      for (const r of all) expect(r).toEqual(await s.getRow('kinds', r.id));
    });
  });
}

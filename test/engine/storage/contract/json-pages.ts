/**
 * `scanGroupRowsJson`: the bootstrap's pages of rows as JSON bytes, encoded
 * by the storage. Every row must parse to exactly what
 * `JSON.stringify(scanGroupRows row)` gives — every field kind, nulls and
 * absent fields, unicode, quotes, control characters, big and odd numbers,
 * deep JSON — and the pages must cover a group exactly once, in id order,
 * within their row and byte budgets, leaving out the rows of `skipGroups`.
 */
import { describe, expect, it } from 'vitest';
import type { EncodedRowPage, ScanJsonOptions, Storage } from '../../../../src/engine/storage/types.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import { insertRows, rng, type ContractContext } from './harness.js';
import { KIND_ROWS, kindFields } from './rows.js';

const jsonSchema = defineSchema({
  // Every row in `default`: the storage may read the table alone.
  kinds: model(kindFields),
  // Rows in `team:<team>`: read through the group index.
  teamKinds: model({ ...kindFields, team: z.string() }, {}, { syncGroupFormat: 'team:{team}' }),
  // Constant groups: every row in both.
  memos: model({ body: z.string() }, {}, { syncGroupFormat: ['everyone', 'staff'] }),
  // Two templates: a row may be in two groups a hello asks for.
  pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
});

/** Every character below 0x80, the line separators, astral characters and combining marks. */
const ALL_ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('');
const ODD_TEXT = `${ALL_ASCII}\u2028\u2029\u00a0\ufeff𝄞😀👩‍👩‍👧é\u0301"\\/'`;

/** JSON nested `depth` levels: [[[…"leaf"…]]] inside an object. */
function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

/** Doubles from random bit patterns (finite ones), plus the edges. */
function oddNumbers(n: number): number[] {
  const next = rng(12);
  const view = new DataView(new ArrayBuffer(8));
  const out = [0, -0, 1, -1, 0.1, 0.1 + 0.2, 1 / 3, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 63, 1e21, 1e-7, 5e-324, -5e-324, 2.2250738585072014e-308];
  out.push(Number.MAX_VALUE, -Number.MAX_VALUE, Number.MAX_SAFE_INTEGER, 123456789.12345679, 1700000000000.5, 1e300, 9007199254740993);
  while (out.length < n) {
    view.setUint32(0, Math.floor(next() * 2 ** 32));
    view.setUint32(4, Math.floor(next() * 2 ** 32));
    const x = view.getFloat64(0);
    if (Number.isFinite(x)) out.push(x);
    // And numbers of everyday sizes.
    out.push(Math.round((next() - 0.5) * 1e6) / 100);
  }
  return out.slice(0, n);
}

/** What the bootstrap used to send for a row: its JSON text, parsed back (as a client reads it). */
function wire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** Every page of a group, checked against its budgets; returns the parsed rows and the pages. */
async function readPages(s: Storage, model: string, group: string, options: Partial<ScanJsonOptions> = {}): Promise<{ rows: Array<Record<string, unknown>>; pages: EncodedRowPage[] }> {
  const limit = options.limit ?? 1000;
  const rows: Array<Record<string, unknown>> = [];
  const pages: EncodedRowPage[] = [];
  let after: string | null = null;
  for (let i = 0; i < 100_000; i++) {
    const page = await s.scanGroupRowsJson(model, group, after, { ...options, limit });
    pages.push(page);
    expect(Buffer.isBuffer(page.json)).toBe(true);
    const parsed = JSON.parse(`[${page.json.toString('utf8')}]`) as Array<Record<string, unknown>>;
    expect(parsed).toHaveLength(page.rows);
    expect(page.rows).toBeLessThanOrEqual(limit);
    if (options.maxBytes !== undefined && page.rows > 1) expect(page.json.length).toBeLessThanOrEqual(options.maxBytes);
    rows.push(...parsed);
    if (page.done) return { rows, pages };
    expect(page.lastId).not.toBeNull();
    after = page.lastId;
  }
  throw new Error('paging did not end');
}

/** The group's rows as `scanGroupRows` reads them, as they went on the wire. */
async function expected(s: Storage, model: string, group: string): Promise<unknown[]> {
  return (await s.scanGroupRows(model, group, null, 100_000)).map(wire);
}

export function jsonPagesContract(ctx: ContractContext): void {
  describe('bootstrap pages as JSON: scanGroupRowsJson', () => {
    it('encodes every field kind exactly as the row reads (nulls, unicode, control characters, odd numbers, deep JSON), read from the table and through the group index', async () => {
      const s = await ctx.withSchema(jsonSchema.serialized);
      const numbers = oddNumbers(3000);
      const base = KIND_ROWS.map((r) => ({ ...r }));
      base.push(
        { id: 'k_odd_text', str: ODD_TEXT, optStr: ODD_TEXT.split('').reverse().join(''), tags: [ODD_TEXT, ''], labels: { [ODD_TEXT]: ODD_TEXT }, extra: { [ODD_TEXT]: [ODD_TEXT, 1e21, -0, null, true] } },
        // Deeper than SQLite's JSON parser goes (1,000 levels): encoded the ordinary way, same result.
        { id: 'k_deep', str: 'deep', extra: nested(1500) },
        { id: 'k_deepish', str: 'deepish', extra: nested(900) },
        // Left out on insert: stored as null, sent as null.
        { id: 'k_absent', str: 'absent' },
        { id: `k_"quoted\\id'\u0001`, str: 'an id that needs escaping', flag: true, int: 2 ** 53 - 1, real: -1e-300 },
      );
      for (let i = 0; i < numbers.length; i += 2) {
        const id = `n_${String(i).padStart(5, '0')}`;
        base.push({ id, str: id, real: numbers[i]!, int: Math.trunc(numbers[i + 1]! % Number.MAX_SAFE_INTEGER), flag: i % 3 === 0 ? null : i % 3 === 1, extra: numbers.slice(i, i + 2) });
      }
      await insertRows(s, 'kinds', base);
      await insertRows(s, 'teamKinds', base.map((r, i) => ({ ...r, team: i % 2 ? 'a' : 'b' })));

      for (const [model, group] of [['kinds', 'default'], ['teamKinds', 'team:a'], ['teamKinds', 'team:b']] as const) {
        const want = await expected(s, model, group);
        expect(want.length).toBeGreaterThan(700);
        const { rows } = await readPages(s, model, group, { limit: 97 });
        expect(rows).toStrictEqual(want);
        // Numbers are the same doubles, not just close.
        for (let i = 0; i < rows.length; i++) {
          expect(Object.is(rows[i]!.real, (want[i] as Record<string, unknown>).real), `${rows[i]!.id} real`).toBe(true);
          expect(typeof rows[i]!.flag === 'boolean' || rows[i]!.flag === null).toBe(true);
        }
      }
      const deep = (await readPages(s, 'kinds', 'default')).rows.find((r) => r.id === 'k_deep')!;
      expect(deep.extra).toStrictEqual(nested(1500));
      // The ids of a group every row is in, and of a group that is not the model's.
      expect(await readPages(s, 'kinds', 'team:a')).toMatchObject({ rows: [] });
      expect(await readPages(s, 'teamKinds', 'default')).toMatchObject({ rows: [] });
    });

    it('pages a group in id order after afterId, within limit and maxBytes (a larger row alone), each row once', async () => {
      const s = await ctx.withSchema(jsonSchema.serialized);
      const next = rng(3);
      const rows = Array.from({ length: 300 }, (_, i) => ({
        id: `m${String(i).padStart(3, '0')}`,
        body: i === 150 ? 'B'.repeat(5000) : 'x'.repeat(Math.floor(next() * 400)),
      }));
      await insertRows(s, 'memos', [...rows].reverse());
      for (const group of ['everyone', 'staff']) {
        const want = await expected(s, 'memos', group);
        expect(want.map((r) => (r as { id: string }).id)).toEqual(rows.map((r) => r.id));
        for (const options of [{ limit: 1 }, { limit: 7 }, { limit: 1000, maxBytes: 2000 }, { limit: 50, maxBytes: 1 }]) {
          const { rows: got, pages } = await readPages(s, 'memos', group, options);
          expect(got, JSON.stringify(options)).toStrictEqual(want);
          if (options.maxBytes === 1) expect(pages.filter((p) => p.rows > 0).every((p) => p.rows === 1)).toBe(true);
        }
        // The row over the budget went alone.
        const { pages } = await readPages(s, 'memos', group, { limit: 1000, maxBytes: 2000 });
        expect(pages.filter((p) => p.json.length > 2000).map((p) => p.rows)).toEqual([1]);
      }
      // afterId is a position: an id that is not a row's works too.
      const page = await s.scanGroupRowsJson('memos', 'staff', 'n', { limit: 2 });
      expect(page).toMatchObject({ rows: 0, lastId: null, done: true });
      const mid = await s.scanGroupRowsJson('memos', 'staff', 'm1105', { limit: 2 });
      expect(JSON.parse(`[${mid.json.toString()}]`).map((r: { id: string }) => r.id)).toEqual(['m111', 'm112']);
      expect(mid).toMatchObject({ rows: 2, lastId: 'm112', done: false });
      // A full page cannot know it was the last; the next one says so.
      expect(await s.scanGroupRowsJson('memos', 'staff', 'm297', { limit: 2 })).toMatchObject({ rows: 2, lastId: 'm299', done: false });
      expect(await s.scanGroupRowsJson('memos', 'staff', 'm297', { limit: 3 })).toMatchObject({ rows: 2, lastId: 'm299', done: true });
      expect(await readPages(s, 'memos', 'nobody')).toMatchObject({ rows: [] });
    });

    it('leaves out rows also in skipGroups (read, counted, not sent): a hello of several groups gets each row once', async () => {
      const s = await ctx.withSchema(jsonSchema.serialized);
      await insertRows(s, 'pins', [
        { id: 'p1', boardId: 'x', ownerId: 'u' },
        { id: 'p2', boardId: 'y', ownerId: 'u' },
        { id: 'p3', boardId: 'x', ownerId: 'v' },
        { id: 'p4', boardId: 'z', ownerId: 'u' },
      ]);
      const ids = (rows: Array<Record<string, unknown>>) => rows.map((r) => r.id);
      expect(ids((await readPages(s, 'pins', 'owner:u')).rows)).toEqual(['p1', 'p2', 'p4']);
      const skipped = await readPages(s, 'pins', 'owner:u', { skipGroups: ['board:x'], limit: 1 });
      expect(ids(skipped.rows)).toEqual(['p2', 'p4']);
      // p1 was read (a page with no row but a position), so paging goes on past it.
      expect(skipped.pages[0]).toMatchObject({ rows: 0, lastId: 'p1', done: false });
      expect(ids((await readPages(s, 'pins', 'owner:u', { skipGroups: ['board:x', 'board:z', 'board:x'] })).rows)).toEqual(['p2']);
      expect(ids((await readPages(s, 'pins', 'owner:u', { skipGroups: ['owner:u'] })).rows)).toEqual([]);
      expect(ids((await readPages(s, 'pins', 'owner:u', { skipGroups: [] })).rows)).toEqual(['p1', 'p2', 'p4']);
      // Constant groups: every row is in both.
      await insertRows(s, 'memos', [{ id: 'm1', body: 'a' }]);
      expect(ids((await readPages(s, 'memos', 'staff', { skipGroups: ['everyone'] })).rows)).toEqual([]);
      expect((await readPages(s, 'pins', 'owner:u', { skipGroups: ['board:x'] })).rows).toStrictEqual(
        [await s.getRow('pins', 'p2'), await s.getRow('pins', 'p4')].map(wire),
      );
    });

    it('encodes a model of 150 fields of every kind (more than one SQL function call takes)', async () => {
      const kinds = [z.string().nullable(), z.number().nullable(), z.number().int().nullable(), z.boolean().nullable(), z.json().nullable()];
      const wide = defineSchema({ wide: model(Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`f${i}`, kinds[i % kinds.length]!]))) });
      const s = await ctx.withSchema(wide.serialized);
      const value = (i: number, r: number) => [`${ODD_TEXT}${r}`, r + i / 7, r * i, (r + i) % 2 === 0, { r, i, t: ODD_TEXT }][i % kinds.length];
      await insertRows(s, 'wide', Array.from({ length: 20 }, (_, r) => ({ id: `w${r}`, ...Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`f${i}`, (r + i) % 9 === 0 ? null : value(i, r)])) })));
      const { rows } = await readPages(s, 'wide', 'default', { limit: 6 });
      expect(rows).toHaveLength(20);
      expect(rows).toStrictEqual(await expected(s, 'wide', 'default'));
      expect(Object.keys(rows[0]!)).toHaveLength(154);
    });

    it('counts the rows it reads, sees only committed rows, and follows updates and deletes', async () => {
      const s = await ctx.withSchema(jsonSchema.serialized);
      await insertRows(s, 'teamKinds', [
        { id: 'a', str: 'a', team: 't', flag: true },
        { id: 'b', str: 'b', team: 't', flag: false },
      ]);
      const before = s.readStats().rowsRead;
      await readPages(s, 'teamKinds', 'team:t');
      expect(s.readStats().rowsRead - before).toBe(2);
      let seenInside: unknown[] = [];
      await s.transaction(async (tx) => {
        await tx.updateRow('teamKinds', 'a', { str: 'changed', flag: null, team: 'u' }, { updatedAt: '2024-01-02T00:00:00.000Z', syncId: await tx.nextSyncId() });
        await tx.deleteRow('teamKinds', 'b');
        seenInside = (await readPages(s, 'teamKinds', 'team:t')).rows;
      });
      expect(seenInside.map((r) => (r as { str: string }).str)).toEqual(['a', 'b']);
      expect((await readPages(s, 'teamKinds', 'team:t')).rows).toEqual([]);
      expect((await readPages(s, 'teamKinds', 'team:u')).rows).toStrictEqual(await expected(s, 'teamKinds', 'team:u'));
      expect((await readPages(s, 'teamKinds', 'team:u')).rows[0]).toMatchObject({ id: 'a', str: 'changed', flag: null, team: 'u' });
    });
  });
}

import { describe, expect, test } from 'vitest';
import { compareRows, runQuery } from '../../src/client/query.js';
import type { RowData } from '../../src/client/store.js';

function row(id: string, fields: Record<string, unknown>): RowData {
  return { id, createdAt: '', updatedAt: '', syncId: 1, ...fields };
}

// A tiny deterministic PRNG so failures reproduce.
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe('local ordering matches the engine (SQLite BINARY collation, nulls lowest)', () => {
  test('strings order by UTF-8 bytes, including astral and U+E000–U+FFFF characters', () => {
    const alphabet = ['a', 'B', 'z', 'é', '中', '\uE000', '\uFFFD', '😀', '𝒳', ' '];
    const rand = rng(7);
    const words = Array.from({ length: 400 }, () =>
      Array.from({ length: 1 + Math.floor(rand() * 4) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''),
    );
    const rows = words.map((w, i) => row(`r${i}`, { w }));
    const sorted = rows.slice().sort(compareRows([{ field: 'w', direction: 'asc' }])).map((r) => r.w as string);
    const bytes = words.slice().sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(sorted).toEqual(bytes);
    // JS's default comparison gets some of these wrong, so the test can tell the difference.
    expect(words.slice().sort()).not.toEqual(bytes);
  });

  test('nulls sort lowest; booleans false < true; id breaks ties', () => {
    const rows = [row('c', { n: 2, b: true }), row('a', { n: null, b: false }), row('b', { n: 2, b: false }), row('d', { n: 1, b: null })];
    expect(runQuery(rows, { orderBy: [{ field: 'n', direction: 'asc' }] }).map((r) => r.id)).toEqual(['a', 'd', 'b', 'c']);
    expect(runQuery(rows, { orderBy: [{ field: 'n', direction: 'desc' }] }).map((r) => r.id)).toEqual(['b', 'c', 'd', 'a']);
    expect(runQuery(rows, { orderBy: [{ field: 'b', direction: 'asc' }] }).map((r) => r.id)).toEqual(['d', 'a', 'b', 'c']);
  });

  test('a small limit over many rows (heap selection) returns exactly the first rows of the full sort', () => {
    const rand = rng(11);
    const rows = Array.from({ length: 5000 }, (_, i) => row(`id${String(i).padStart(5, '0')}`, { n: Math.floor(rand() * 50), s: rand() < 0.1 ? null : String(Math.floor(rand() * 1000)) }));
    for (const orderBy of [
      [{ field: 'n', direction: 'desc' as const }],
      [{ field: 's', direction: 'asc' as const }, { field: 'n', direction: 'asc' as const }],
    ]) {
      for (const limit of [1, 7, 20, 200]) {
        const full = rows.slice().sort(compareRows(orderBy)).slice(0, limit).map((r) => r.id);
        expect(runQuery(rows, { orderBy, limit }).map((r) => r.id)).toEqual(full);
      }
    }
  });

  test('where: equality, IN and null', () => {
    const rows = [row('a', { s: 'x', n: null }), row('b', { s: 'y', n: 1 }), row('c', { s: 'z', n: 2 })];
    expect(runQuery(rows, { where: { s: ['x', 'z'] } }).map((r) => r.id)).toEqual(['a', 'c']);
    expect(runQuery(rows, { where: { n: null } }).map((r) => r.id)).toEqual(['a']);
    expect(runQuery(rows, { where: { n: [null, 2] } }).map((r) => r.id)).toEqual(['a', 'c']);
  });
});

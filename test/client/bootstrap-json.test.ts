/**
 * End to end: the engine's bootstrap frames carry rows encoded by the
 * storage (SQLite builds the JSON; the sync server never parses or
 * re-encodes a row). A real engine, rows of every field type with awkward
 * values, and a fresh SDK client: what it holds after its bootstrap equals
 * what `list` and `retrieve` return over HTTP, value for value.
 */
import { afterEach, describe, expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../../src/testing/index.js';

const fields = {
  title: z.string(),
  note: z.string().optional(),
  maybe: z.string().nullable(),
  count: z.number().int(),
  score: z.number().nullable(),
  done: z.boolean(),
  flag: z.boolean().nullable().optional(),
  status: z.enum(['todo', 'doing', 'done']),
  due: z.iso.datetime().nullable(),
  day: z.iso.date().optional(),
  tags: z.array(z.string()),
  meta: z.object({ a: z.number(), b: z.string().optional() }).nullable(),
  extra: z.json().optional(),
  labels: z.record(z.string(), z.number()).optional(),
};

const schema = defineSchema({
  // In `default`: the storage reads the table.
  items: model(fields),
  // In `team:<team>`: read through the group index.
  teamItems: model({ ...fields, team: z.string() }, {}, { syncGroupFormat: 'team:{team}' }),
  // In two groups at once: sent once.
  pins: model({ boardId: z.string(), ownerId: z.string(), weight: z.number() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
});

const ODD = `quote " backslash \\ slash / apostrophe ' nul \u0000 bell \u0007 esc \u001b del \u007f tab \t newline \n cr \r ls \u2028 ps \u2029 bom \ufeff 𝄞 😀 👩‍👩‍👧 é\u0301 中文 עברית`;
const NUMBERS = [0, -0, 0.1, 0.1 + 0.2, 1 / 3, -2.5, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2, 123456789.12345679, 1700000000000, 1700000000000.5];

function nested(depth: number): unknown {
  let v: unknown = ODD;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v, i] : { [`k${i}`]: v };
  return v;
}

function row(i: number): Record<string, unknown> {
  const score = NUMBERS[i % NUMBERS.length]!;
  const data: Record<string, unknown> = {
    title: i % 5 === 0 ? ODD : `row ${i}`,
    maybe: i % 3 === 0 ? null : [...ODD].slice(0, i % 90).join(''),
    count: i % 7 === 0 ? Number.MAX_SAFE_INTEGER : i % 7 === 1 ? -Number.MAX_SAFE_INTEGER : i * 1000 - 7,
    score: i % 11 === 0 ? null : score,
    done: i % 2 === 0,
    status: (['todo', 'doing', 'done'] as const)[i % 3],
    due: i % 4 === 0 ? null : '2024-02-29T23:59:59.999Z',
    tags: i % 6 === 0 ? [] : [ODD, '', 'a,b', `${i}`],
    meta: i % 8 === 0 ? null : { a: score, ...(i % 2 ? { b: ODD } : {}) },
  };
  // Optional fields left out on some rows (stored and sent as null).
  if (i % 2) data.note = ODD;
  if (i % 3) data.flag = i % 3 === 1;
  if (i % 4) data.day = '2024-01-31';
  if (i % 5) data.extra = i % 10 === 1 ? nested(60) : { list: NUMBERS, text: ODD, no: null, yes: true, empty: {}, none: [] };
  if (i % 6) data.labels = { [ODD]: score, plain: i };
  return data;
}

let engine: TestEngine | null = null;
const clients: Array<{ dispose(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.dispose();
  await engine?.stop();
  engine = null;
});

async function commit(e: TestEngine, operations: unknown[]): Promise<void> {
  const res = await fetch(`${e.url}/v1/commits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${e.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ operations }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe('bootstrap of storage-encoded rows', () => {
  test('a fresh SDK client holds exactly what list and retrieve return, for every field type', async () => {
    engine = await startTestEngine({ schema });
    const e = engine;
    const N = 240;
    const items = Array.from({ length: N }, (_, i) => ({ op: 'create', model: 'items', id: `item_${String(i).padStart(3, '0')}`, data: row(i) }));
    const teamItems = Array.from({ length: N }, (_, i) => ({ op: 'create', model: 'teamItems', id: `team_${String(i).padStart(3, '0')}`, data: { ...row(i + 1), team: i % 3 ? 'a' : 'b' } }));
    const pins = Array.from({ length: 60 }, (_, i) => ({
      op: 'create',
      model: 'pins',
      id: `pin_${String(i).padStart(2, '0')}`,
      data: { boardId: i % 2 ? 'x' : 'y', ownerId: i % 3 ? 'u' : 'v', weight: NUMBERS[i % NUMBERS.length] },
    }));
    for (let i = 0; i < N; i += 60) await commit(e, [...items.slice(i, i + 60), ...teamItems.slice(i, i + 60)]);
    await commit(e, pins);
    // One update and one delete, so rows are not all as created.
    await commit(e, [
      { op: 'update', model: 'items', id: 'item_001', data: { title: `updated ${ODD}`, flag: null, extra: [ODD, 1e21] } },
      { op: 'delete', model: 'teamItems', id: 'team_002' },
    ]);

    const client = Ablo({ schema, apiKey: e.apiKey, baseURL: e.url, syncGroups: ['default', 'team:a', 'board:x', 'owner:u'] });
    clients.push(client);
    await client.ready();

    const listed = {
      items: (await client.items.list({ limit: 1000 })).data,
      teamItems: (await client.teamItems.list({ limit: 1000 })).data.filter((r) => r.team === 'a'),
      pins: (await client.pins.list({ limit: 1000 })).data.filter((r) => r.boardId === 'x' || r.ownerId === 'u'),
    };
    expect(listed.items).toHaveLength(N);
    expect(listed.teamItems.length).toBeGreaterThan(100);
    expect(listed.pins.length).toBeGreaterThan(30);
    expect([...client.items.getAll()].sort(byId)).toStrictEqual([...listed.items].sort(byId));
    expect([...client.teamItems.getAll()].sort(byId)).toStrictEqual([...listed.teamItems].sort(byId));
    expect([...client.pins.getAll()].sort(byId)).toStrictEqual([...listed.pins].sort(byId));
    // Numbers are the same doubles.
    for (const r of client.items.getAll()) {
      const other = listed.items.find((l) => l.id === r.id)!;
      expect(Object.is(r.score, other.score), r.id).toBe(true);
    }
    for (const id of ['item_000', 'item_001', 'item_011', 'item_060']) {
      expect(client.items.get(id)).toStrictEqual(await client.items.retrieve({ id }));
    }
    expect(client.items.get('item_001')).toMatchObject({ title: `updated ${ODD}`, flag: null, extra: [ODD, 1e21] });
    expect(client.teamItems.get('team_002')).toBeUndefined();
  });
});

/**
 * Undo across two engine processes' worth of engines on one Postgres database: A on one engine, B on the other.
 * B's changes reach A through the database's change feed, and A's own changes may arrive after their receipts;
 * undo still tells A's own changes (which move its guard) from B's (which hold it).
 */
import { afterEach, expect, test } from 'vitest';
import Ablo, { type AbloClient } from '../../src/index.js';
import { createEngine, generateApiKey, type Engine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), status: z.enum(['todo', 'doing', 'done']).default('todo') }),
});

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engines(): Promise<{ one: Engine; two: Engine; apiKey: string }> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const apiKey = generateApiKey('test');
  const start = async () => {
    const engine = await createEngine({ databaseUrl: db.url, port: 0, schema, devKey: apiKey, log: () => {} });
    cleanups.push(() => engine.close());
    return engine;
  };
  const one = await start();
  const two = await start();
  return { one, two, apiKey };
}

async function client(engine: Engine, apiKey: string, id: string): Promise<AbloClient<typeof schema>> {
  const c = Ablo({ schema, apiKey, baseURL: engine.url, participant: { kind: 'user', id }, syncGroups: ['default'], reconnect: { baseMs: 20, maxMs: 200 } });
  cleanups.push(() => c.dispose());
  await c.ready();
  return c;
}

test('on two engines: A undoes two edits of one field in a row; after B changes the field, A’s undo is held', async () => {
  const { one, two, apiKey } = await engines();
  const a = await client(one, apiKey, 'ana');
  const b = await client(two, apiKey, 'ben');
  const t = await a.tasks.create({ data: { title: 'one' } });
  await a.tasks.update({ id: t.id, data: { title: 'two' } });
  await a.tasks.update({ id: t.id, data: { title: 'three' } });
  expect((await a.undo()).status).toBe('applied');
  expect((await a.undo()).status).toBe('applied');
  await until(b, () => b.tasks.get(t.id)?.title === 'one', 10_000);

  expect((await a.redo()).status).toBe('applied');
  await until(b, () => b.tasks.get(t.id)?.title === 'two', 10_000);
  await b.tasks.update({ id: t.id, data: { title: 'Ben’s' } });
  await until(a, () => a.tasks.get(t.id)?.title === 'Ben’s', 10_000);
  const held = await a.undo();
  expect(held.status).toBe('held');
  expect((await b.tasks.retrieve({ id: t.id })).title).toBe('Ben’s');
  expect(a.conflicts.list().map((c) => ({ mine: c.mine, theirs: c.theirs }))).toEqual([{ mine: { title: 'one' }, theirs: { title: 'Ben’s' } }]);
});

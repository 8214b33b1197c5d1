/**
 * An engine on Postgres end to end: `createEngine({ databaseUrl })` on a
 * database of the test's own, real SDK clients over HTTP and WebSocket, and a
 * restart of the engine on the same database.
 */
import pg from 'pg';
import { afterEach, expect, test } from 'vitest';
import Ablo, { type AbloClient } from '../../src/index.js';
import { createEngine, generateApiKey, type Engine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({
  tasks: model({ title: z.string().min(1), done: z.boolean().default(false), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
});

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

async function engineOn(db: TestDatabase, apiKey: string): Promise<Engine> {
  const engine = await createEngine({ databaseUrl: db.url, port: 0, schema, devKey: apiKey, log: () => {} });
  cleanups.push(() => engine.close());
  return engine;
}

function client(engine: Engine, apiKey: string, id: string): AbloClient<typeof schema> {
  const c = Ablo({ schema, apiKey, baseURL: engine.url, participant: { kind: 'user', id }, syncGroups: ['board:b1'], reconnect: { baseMs: 20, maxMs: 200 } });
  cleanups.push(() => c.dispose());
  return c;
}

test('an engine on Postgres: one client commits, another receives the change; a restart on the same database keeps the data', async () => {
  const db = await database();
  const apiKey = generateApiKey('test');
  const first = await engineOn(db, apiKey);
  expect(first.storage.kind).toBe('postgres');

  const writer = client(first, apiKey, 'writer');
  const reader = client(first, apiKey, 'reader');
  await Promise.all([writer.ready(), reader.ready()]);
  const created = await writer.tasks.create({ id: 't1', data: { title: 'on postgres', boardId: 'b1' } });
  expect(created).toMatchObject({ id: 't1', title: 'on postgres', done: false });
  expect((await until(reader, () => reader.tasks.get('t1'))).title).toBe('on postgres');
  await writer.tasks.update({ id: 't1', data: { done: true } });
  await until(reader, () => reader.tasks.get('t1')?.done === true);
  const head = first.lastSyncId();
  expect(head).toBe(2);

  // The tables live in the `ablo` schema of the database.
  const direct = new pg.Client({ connectionString: db.url });
  await direct.connect();
  try {
    const { rows } = await direct.query(`SELECT "title", "done" FROM ablo."tasks" WHERE "id" = 't1'`);
    expect(rows).toEqual([{ title: 'on postgres', done: true }]);
    expect((await direct.query(`SELECT seq::int AS seq FROM ablo._ablo_head`)).rows).toEqual([{ seq: 2 }]);
  } finally {
    await direct.end();
  }

  writer.dispose();
  reader.dispose();
  await first.close();

  // A new engine process on the same database: the data, the sync ids and the key are still there.
  const second = await engineOn(db, apiKey);
  expect(second.lastSyncId()).toBe(head);
  const later = client(second, apiKey, 'later');
  await later.ready();
  expect(later.tasks.get('t1')).toMatchObject({ title: 'on postgres', done: true });
  await later.tasks.create({ id: 't2', data: { title: 'after restart', boardId: 'b1' } });
  expect(second.lastSyncId()).toBe(head + 1);
  expect((await second.storage.getRow('tasks', 't2'))?.syncId).toBe(head + 1);
});

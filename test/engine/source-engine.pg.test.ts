/**
 * Data Source mode with the engine itself on Postgres (its cache, change log,
 * journal and events cursor in the engine's database): commits reach the
 * source and fan out, an external write arrives through events, echoes are
 * dropped, the guarded counter holds, and a journaled commit is finished by
 * a restarted engine.
 */
import { afterEach, expect, test } from 'vitest';
import { createEngine, generateApiKey, type Engine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startMemorySource, type MemorySource } from '../helpers/memorySource.js';
import { createTestDatabase } from '../helpers/postgres.js';

const schema = defineSchema({ tasks: model({ title: z.string(), n: z.number().int().default(0) }) });

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function call(engine: Engine, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(engine.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

test('Postgres engine: commits, events, echoes, the guarded counter and journal recovery', async () => {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const src: MemorySource = await startMemorySource();
  cleanups.push(() => src.close());
  const key = generateApiKey('test');
  const sources = { app: { url: src.url, models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0 } };
  let engine = await createEngine({ databaseUrl: db.url, port: 0, schema, devKey: key, log: () => {}, sources });
  cleanups.push(() => engine.close());
  await engine.sources!.ready();

  const created = await call(engine, key, 'POST', '/v1/models/tasks', { data: { title: 'pg' } });
  expect(created.status).toBe(201);
  const id = created.body.id;
  expect(src.table('tasks').get(id)).toMatchObject({ title: 'pg', n: 0 });
  src.external('tasks', id, { title: 'renamed in the app' });
  await engine.sources!.pull('app');
  expect((await call(engine, key, 'GET', `/v1/models/tasks/${id}`)).body.title).toBe('renamed in the app');
  // Two changes so far (the create, the external update): the create's echo added nothing.
  expect((await engine.storage.changesAfter(0, 100)).map((c) => c.action)).toEqual(['create', 'update']);

  let conflicts = 0;
  const writer = async (): Promise<void> => {
    for (let done = 0; done < 10; ) {
      const row = await call(engine, key, 'GET', `/v1/models/tasks/${id}`);
      const res = await call(engine, key, 'PATCH', `/v1/models/tasks/${id}`, { data: { n: row.body.n + 1 }, readAt: row.body.syncId });
      if (res.status === 200) done++;
      else if (res.status === 409) conflicts++;
      else throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
  expect((await call(engine, key, 'GET', `/v1/models/tasks/${id}`)).body.n).toBe(80);
  expect(src.table('tasks').get(id)!.n).toBe(80);
  expect(conflicts).toBeGreaterThan(0);

  // A commit the source applied but whose answer the engine never applied (it closed first): journaled, finished at restart.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  src.onCommitApplied = () => held;
  const inFlight = call(engine, key, 'POST', '/v1/commits', { operations: [{ op: 'create', model: 'tasks', id: 'task_j', data: { title: 'journaled' } }], idempotencyKey: 'tx_j' }).catch(() => null);
  while (!src.table('tasks').has('task_j')) await new Promise((r) => setTimeout(r, 10));
  const journal = await engine.storage.listMeta('source_journal:');
  expect(journal.map((j) => j.key)).toEqual(['source_journal:app:tx_j']);
  // Stop this engine without it hearing the answer: its HTTP server goes, the source's answer is dropped.
  const closing = engine.close();
  release();
  await closing;
  await inFlight;
  src.onCommitApplied = null;
  const appliedBefore = src.applied;
  engine = await createEngine({ databaseUrl: db.url, port: 0, devKey: key, log: () => {}, sources });
  cleanups.push(() => engine.close());
  await engine.sources!.ready();
  expect(src.applied).toBe(appliedBefore);
  expect(await engine.storage.getRow('tasks', 'task_j')).toMatchObject({ title: 'journaled' });
  expect(await engine.storage.listMeta('source_journal:')).toEqual([]);
  const resent = await call(engine, key, 'POST', '/v1/commits', { operations: [{ op: 'create', model: 'tasks', id: 'task_j', data: { title: 'journaled' } }], idempotencyKey: 'tx_j' });
  expect(resent.status).toBe(200);
  expect(resent.body.clientTxId).toBe('tx_j');
  const changesForJ = (await engine.storage.changesAfter(0, 1000)).filter((c) => c.id === 'task_j');
  expect(changesForJ).toHaveLength(1);
});

/**
 * Several Postgres storages on one database, as several engine processes
 * share it: the head-row lock serializes their write transactions, so sync
 * ids stay gap-free and commit-ordered across instances, reads inside a
 * transaction see every other instance's commits (the stale guard's input),
 * each write transaction NOTIFYs `<schema>_changes` with its last sync id, and
 * a schema pushed by one instance is loaded by the other before its next write.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CommitBatcher } from '../../../src/engine/commit/batcher.js';
import { applyCommit } from '../../../src/engine/commit/apply.js';
import { createPostgresStorage } from '../../../src/engine/storage/postgres.js';
import type { Storage } from '../../../src/engine/storage/types.js';
import { compileSchema } from '../../../src/schema/compile.js';
import { defineSchema, model, z } from '../../../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { planSchemaChange } from '../../../src/schema/plan.js';
import { plannedCreate, push, range, USER, wholeLog } from './contract/harness.js';

const v1 = defineSchema({ counters: model({ n: z.number().int() }), tasks: model({ title: z.string(), by: z.string() }) });
const v2 = defineSchema({ counters: model({ n: z.number().int() }), tasks: model({ title: z.string(), by: z.string() }), notes: model({ body: z.string() }) });
const v3 = defineSchema({ counters: model({ n: z.number().int() }), tasks: model({ title: z.string(), by: z.string() }), notes: model({ body: z.string() }), extra: model({ x: z.string() }) });

let db: TestDatabase;
const open: Storage[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const s of open) await s.close();
  await db?.drop();
});

async function storage(schema = 'shared'): Promise<Storage> {
  const s = createPostgresStorage({ url: db.url, schema, poolSize: 2 });
  open.push(s);
  await s.open();
  return s;
}

test('two instances on one schema: gap-free commit-ordered ids, exact read-modify-write, NOTIFY hints, schema reload', async () => {
  const a = await storage();
  const b = await storage();
  await push(a, v1.serialized);
  const listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  const hints: number[] = [];
  listener.on('notification', (m) => {
    if (m.channel === 'shared_changes') hints.push(Number(m.payload));
  });
  await listener.query('LISTEN shared_changes');

  // Both instances increment one counter through the commit path, concurrently, through their batchers.
  const compiled = compileSchema(v1.serialized);
  await a.transaction((tx) => tx.write([{ participant: USER, clientTxId: null, commitId: 'c0', at: 'x', model: 'counters', id: 'c', action: 'create', fields: ['n'], data: { id: 'c', createdAt: 'x', updatedAt: 'x', syncId: 0, n: 0 }, groups: ['default'] }]));
  const batchers = [new CommitBatcher({ storage: a, maxBatch: 8 }), new CommitBatcher({ storage: b, maxBatch: 8 })];
  const increments = range(40).map((i) =>
    batchers[i % 2]!.submit(async (tx) => {
      const row = await tx.getRow('counters', 'c');
      const outcome = await applyCommit(tx, { request: { operations: [{ op: 'update', model: 'counters', id: 'c', data: { n: (row!.n as number) + 1 } }, { op: 'create', model: 'tasks', id: `t${i}`, data: { title: 't', by: i % 2 ? 'b' : 'a' } }] }, participant: USER, scope: 'all' }, compiled, new Date());
      return outcome;
    }),
  );
  const outcomes = await Promise.all(increments);
  await Promise.all(batchers.map((x) => x.close()));
  // No lost update: each transaction read the counter after every commit of the other instance.
  expect((await b.getRow('counters', 'c'))!.n).toBe(40);
  const log = await wholeLog(a);
  expect(log.map((c) => c.syncId)).toEqual(range(81));
  expect(outcomes.map((o) => o.receipt.lastSyncId).sort((x, y) => x - y)).toEqual(range(40).map((i) => 1 + 2 * i));
  // Each instance's feed announced its own commits, in order.
  await new Promise((r) => setTimeout(r, 100));
  expect(hints.length).toBeGreaterThan(1);
  expect(Math.max(...hints)).toBe(81);
  expect([...hints].sort((x, y) => x - y)).toEqual(hints);
  await listener.end();

  // A schema pushed through `a` is loaded by `b` (its notice), before any write of b's.
  await push(a, v2.serialized);
  for (const end = Date.now() + 5000; (await b.getSchema())?.version !== 2; ) {
    if (Date.now() > end) throw new Error('b did not load schema version 2');
    await new Promise((r) => setTimeout(r, 10));
  }
  await b.transaction(async (tx) => {
    await tx.insertRow('notes', { id: 'n1', createdAt: 'x', updatedAt: 'x', syncId: await tx.nextSyncId(), body: 'from b' });
  });
  expect((await b.getSchema())?.version).toBe(2);
  expect(await a.getRow('notes', 'n1')).toMatchObject({ body: 'from b', syncId: 82 });
  // A plan made against a schema another instance has since replaced is refused, even once `a` loaded the new one.
  const stale = planSchemaChange(v2.serialized, v1.serialized);
  await push(b, v3.serialized);
  await expect(a.applySchema(stale, v1.serialized, 2)).rejects.toMatchObject({ code: 'schema_apply_failed' });
  expect((await a.getSchema())?.version).toBe(3);
  await expect(a.applySchema(stale, v1.serialized, 2)).rejects.toMatchObject({ code: 'schema_apply_failed' });
  expect((await a.getSchema())?.version).toBe(3);
});

test('storages in different Postgres schemas of one database do not see each other', async () => {
  const x = await storage('app_one');
  const y = await storage('app_two');
  await push(x, v1.serialized);
  expect(await y.getSchema()).toBeNull();
  await x.transaction(async (tx) => {
    await tx.insertRow('tasks', { id: 't1', createdAt: 'x', updatedAt: 'x', syncId: await tx.nextSyncId(), title: 'one', by: 'x' });
  });
  await push(y, v1.serialized);
  expect(await y.getRow('tasks', 't1')).toBeNull();
  expect(await x.getRow('tasks', 't1')).toMatchObject({ title: 'one' });
});

test('a writer connection the server ended is made again for the next transaction', async () => {
  const s = await storage('reconnect');
  await push(s, v1.serialized);
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    const ended = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ablo writer' AND pid <> pg_backend_pid()`,
    );
    expect(ended.rowCount).toBeGreaterThan(0);
  } finally {
    await admin.end();
  }
  // The idle writer learns of it by an error event; the next transaction connects again.
  await new Promise((r) => setTimeout(r, 100));
  await s.transaction(async (tx) => {
    await tx.insertRow('tasks', { id: 't1', createdAt: 'x', updatedAt: 'x', syncId: await tx.nextSyncId(), title: 'after', by: 's' });
  });
  expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'after', syncId: 1 });
});

test('a planned create of an id that exists fails its savepoint with id_exists (the batched write names the id)', async () => {
  const s = await storage('dup');
  await push(s, v1.serialized);
  await s.transaction((tx) => tx.write([plannedCreate('tasks', { id: 'a"b\u0000', title: 'first', by: 's' }, ['default'])]));
  const outcome = await s.transaction(async (tx) => {
    const err = await tx
      .savepoint(() => tx.write([plannedCreate('tasks', { id: 'fresh', title: 'x', by: 's' }, ['default']), plannedCreate('tasks', { id: 'a"b\u0000', title: 'again', by: 's' }, ['default'])]))
      .catch((e: unknown) => e);
    // The transaction goes on after the savepoint.
    await tx.write([plannedCreate('tasks', { id: 'after', title: 'y', by: 's' }, ['default'])]);
    return err;
  });
  expect(outcome).toMatchObject({ code: 'id_exists' });
  expect((outcome as Error).message).toContain('A tasks row with id "a"b\u0000" already exists');
  expect(await s.getRow('tasks', 'a"b\u0000')).toMatchObject({ title: 'first', syncId: 1 });
  expect(await s.getRow('tasks', 'fresh')).toBeNull();
  expect((await wholeLog(s)).map((c) => [c.syncId, c.id])).toEqual([
    [1, 'a"b\u0000'],
    [2, 'after'],
  ]);
});

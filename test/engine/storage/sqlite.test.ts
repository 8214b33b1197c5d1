import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AbloNotFoundError, AbloServerError, AbloValidationError } from '../../../src/errors.js';
import { belongsTo, defineSchema, hasMany, model, z } from '../../../src/schema/index.js';
import { planSchemaChange } from '../../../src/schema/plan.js';
import type { CommitReceipt } from '../../../src/protocol/commit.js';
import { change, insertIn, insertRows, push, T0, useTempStorage } from './helpers.js';

const schema = defineSchema({
  projects: model({ name: z.string() }, { tasks: hasMany('tasks', 'projectId') }),
  tasks: model(
    {
      title: z.string(),
      done: z.boolean().default(false),
      priority: z.number().int().optional(),
      estimate: z.number().nullable().optional(),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      due: z.iso.datetime().optional(),
      tags: z.array(z.string()).default([]),
      meta: z.object({ a: z.number(), b: z.string().optional() }).optional(),
      extra: z.json().optional(),
      labels: z.record(z.string(), z.string()).optional(),
      projectId: z.string().optional(),
      ownerId: z.string().optional(),
    },
    { project: belongsTo('projects', 'projectId') },
    { syncGroupFormat: 'project:{projectId}' },
  ),
});

const t = useTempStorage();

async function ready() {
  const s = await t.open();
  await s.applySchema(planSchemaChange(null, schema.serialized), schema.serialized);
  return s;
}

describe('SQLite storage: tables', () => {
  it('creates typed tables, internal tables and foreign-key indexes from a plan', async () => {
    const s = await t.open();
    expect(await s.getSchema()).toBeNull();
    const record = await s.applySchema(planSchemaChange(null, schema.serialized), schema.serialized);
    expect(record.version).toBe(1);
    expect(record.serialized.hash).toBe(schema.serialized.hash);
    expect(await s.getSchema()).toEqual(record);

    const db = new Database(t.file(), { readonly: true });
    try {
      const types = Object.fromEntries((db.prepare(`SELECT name, type FROM pragma_table_info('tasks')`).all() as Array<{ name: string; type: string }>).map((c) => [c.name, c.type]));
      expect(types).toEqual({
        id: 'TEXT',
        createdAt: 'TEXT',
        updatedAt: 'TEXT',
        syncId: 'INTEGER',
        title: 'TEXT',
        done: 'INTEGER',
        priority: 'INTEGER',
        estimate: 'REAL',
        status: 'TEXT',
        due: 'TEXT',
        tags: 'TEXT',
        meta: 'TEXT',
        extra: 'TEXT',
        labels: 'TEXT',
        projectId: 'TEXT',
        ownerId: 'TEXT',
      });
      const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all() as string[]).sort();
      expect(tables).toEqual([
        '_ablo_api_keys',
        '_ablo_change_groups',
        '_ablo_changes',
        '_ablo_idempotency',
        '_ablo_meta',
        '_ablo_row_groups',
        '_ablo_schema_versions',
        'projects',
        'tasks',
      ]);
      // belongsTo and hasMany both point at tasks.projectId: one index.
      const indexed = (db.prepare(`SELECT name FROM pragma_index_list('tasks') WHERE origin = 'c'`).pluck().all() as string[]).map(
        (idx) => db.prepare(`SELECT name FROM pragma_index_info(?)`).pluck().all(idx),
      );
      expect(indexed).toEqual([['projectId']]);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('refuses to open without a file path', async () => {
    await expect(t.open({ file: ':memory:' })).rejects.toBeInstanceOf(AbloServerError);
  });
});

describe('SQLite storage: rows', () => {
  it('round-trips every field type through insert, get, update and delete', async () => {
    const s = await ready();
    const full = {
      title: 'Write docs',
      done: true,
      priority: 3,
      estimate: 2.5,
      status: 'doing',
      due: '2024-02-03T04:05:06.000Z',
      tags: ['a', 'b'],
      meta: { a: 1, b: 'x' },
      extra: { nested: [1, { deep: null }], flag: false },
      labels: { k: 'v' },
      projectId: 'prj_1',
      ownerId: null,
    };
    await insertRows(s, 'tasks', [{ id: 'tsk_1', ...full }, { id: 'tsk_2', title: 'Bare', done: false, tags: [], status: 'todo' }]);

    const one = await s.getRow('tasks', 'tsk_1');
    expect(one).toEqual({ id: 'tsk_1', createdAt: T0, updatedAt: T0, syncId: 1, ...full });
    expect(typeof one!.done).toBe('boolean');

    // A row read back has every field key, unset ones null.
    const two = await s.getRow('tasks', 'tsk_2');
    expect(two).toEqual({
      id: 'tsk_2',
      createdAt: T0,
      updatedAt: T0,
      syncId: 2,
      title: 'Bare',
      done: false,
      priority: null,
      estimate: null,
      status: 'todo',
      due: null,
      tags: [],
      meta: null,
      extra: null,
      labels: null,
      projectId: null,
      ownerId: null,
    });

    await s.transaction(async (tx) => {
      const syncId = await tx.nextSyncId();
      await tx.updateRow('tasks', 'tsk_1', { done: false, priority: null, extra: [1, 'two'], estimate: 7 }, { updatedAt: '2024-01-02T00:00:00.000Z', syncId });
      // The transaction sees its own write.
      expect(await tx.getRow('tasks', 'tsk_1')).toMatchObject({ done: false, priority: null, extra: [1, 'two'], estimate: 7, syncId });
      await tx.appendChange(change(syncId, 'tasks', 'tsk_1', { action: 'update', fields: ['done', 'priority', 'extra', 'estimate'] }));
    });
    expect(await s.getRow('tasks', 'tsk_1')).toEqual({
      id: 'tsk_1',
      createdAt: T0,
      updatedAt: '2024-01-02T00:00:00.000Z',
      syncId: 3,
      ...full,
      done: false,
      priority: null,
      extra: [1, 'two'],
      estimate: 7,
    });

    await s.transaction(async (tx) => {
      await tx.deleteRow('tasks', 'tsk_2');
      expect(await tx.getRow('tasks', 'tsk_2')).toBeNull();
    });
    expect(await s.getRow('tasks', 'tsk_2')).toBeNull();
    expect(await s.getRow('tasks', 'nope')).toBeNull();
  });

  it('refuses unknown models, unknown fields, duplicate ids and missing rows with typed errors', async () => {
    const s = await ready();
    await expect(s.getRow('nope', 'x')).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
    await expect(s.getRow('constructor', 'x')).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
    await insertRows(s, 'projects', [{ id: 'p1', name: 'P' }]);
    const attempt = (fn: Parameters<typeof s.transaction>[0]) => s.transaction(fn);
    await expect(attempt((tx) => tx.insertRow('projects', { id: 'p2', createdAt: T0, updatedAt: T0, syncId: 9, bogus: 1 }))).rejects.toBeInstanceOf(
      AbloValidationError,
    );
    await expect(attempt((tx) => tx.insertRow('projects', { id: 'p1', createdAt: T0, updatedAt: T0, syncId: 9, name: 'again' }))).rejects.toMatchObject({
      code: 'id_exists',
    });
    await expect(attempt((tx) => tx.updateRow('projects', 'p1', { 'name" = 1; --': 'x' }, { updatedAt: T0, syncId: 9 }))).rejects.toMatchObject({
      code: 'unknown_field',
    });
    await expect(attempt((tx) => tx.updateRow('projects', 'zzz', { name: 'x' }, { updatedAt: T0, syncId: 9 }))).rejects.toBeInstanceOf(AbloNotFoundError);
    await expect(attempt((tx) => tx.deleteRow('projects', 'zzz'))).rejects.toBeInstanceOf(AbloNotFoundError);
    expect(await s.getRow('projects', 'p1')).toMatchObject({ name: 'P' });
  });

  it('stores a SQL-looking value as plain data', async () => {
    const s = await ready();
    const evil = `"; DROP TABLE tasks; --`;
    await insertRows(s, 'tasks', [{ id: 'tsk_x', title: evil, tags: [evil], status: 'todo', done: false, extra: { [evil]: evil } }]);
    expect(await s.getRow('tasks', 'tsk_x')).toMatchObject({ title: evil, tags: [evil], extra: { [evil]: evil } });
    expect((await s.listRows('tasks', { where: { title: evil }, limit: 10 })).rows.map((r) => r.id)).toEqual(['tsk_x']);
    expect((await s.listRows('tasks', { where: { title: [evil, `'); DROP TABLE tasks; --`] }, limit: 10 })).rows).toHaveLength(1);
    expect(await s.scanRows('tasks', null, 10)).toHaveLength(1);
  });

  it('scans rows in id order after an id', async () => {
    const s = await ready();
    await insertRows(
      s,
      'projects',
      ['p3', 'p1', 'p5', 'p2', 'p4'].map((id) => ({ id, name: id })),
    );
    expect((await s.scanRows('projects', null, 2)).map((r) => r.id)).toEqual(['p1', 'p2']);
    expect((await s.scanRows('projects', 'p2', 2)).map((r) => r.id)).toEqual(['p3', 'p4']);
    expect((await s.scanRows('projects', 'p4', 10)).map((r) => r.id)).toEqual(['p5']);
    expect(await s.scanRows('projects', 'p5', 10)).toEqual([]);
  });
});

describe('SQLite storage: transactions and sync ids', () => {
  it('allocates gap-free sync ids across transactions and restores them after a rollback', async () => {
    const s = await ready();
    expect(await s.lastSyncId()).toBe(0);
    await insertRows(s, 'projects', [
      { id: 'p1', name: 'a' },
      { id: 'p2', name: 'b' },
    ]);
    expect(await s.lastSyncId()).toBe(2);

    await expect(
      s.transaction(async (tx) => {
        await insertIn(tx, 'projects', 'p3', { name: 'c' });
        await insertIn(tx, 'projects', 'p4', { name: 'd' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await s.lastSyncId()).toBe(2);
    expect(await s.getRow('projects', 'p3')).toBeNull();

    await insertRows(s, 'projects', [{ id: 'p5', name: 'e' }]);
    const ids = (await s.changesAfter(0, 100)).map((c) => c.syncId);
    expect(ids).toEqual([1, 2, 3]);
    expect(await s.lastSyncId()).toBe(3);
  });

  it('undoes a failed savepoint (rows, changes, idempotency, sync ids) and keeps the others', async () => {
    const s = await ready();
    const receipt = (id: string): CommitReceipt => ({ object: 'commit', id, clientTxId: id, status: 'committed', lastSyncId: 1, results: [] });
    const outcome = await s.transaction(async (tx) => {
      const a = await tx.savepoint(async () => {
        await insertIn(tx, 'projects', 'pa', { name: 'a' });
        await tx.putIdempotency('ka', { requestHash: 'h', receipt: receipt('a') });
        return 'a';
      });
      const b = await tx
        .savepoint(async () => {
          await insertIn(tx, 'projects', 'pb', { name: 'b' });
          await tx.putIdempotency('kb', { requestHash: 'h', receipt: receipt('b') });
          throw new Error('b failed');
        })
        .catch((e: Error) => e.message);
      expect(await tx.getRow('projects', 'pb')).toBeNull();
      expect(await tx.getIdempotency('kb')).toBeNull();
      // The id allocated inside the failed savepoint is handed out again.
      const c = await tx.savepoint(async () => (await insertIn(tx, 'projects', 'pc', { name: 'c' })).syncId);
      // Nested savepoints.
      const d = await tx.savepoint(async () => {
        await insertIn(tx, 'projects', 'pd', { name: 'd' });
        await tx.savepoint(async () => {
          await insertIn(tx, 'projects', 'pe', { name: 'e' });
          throw new Error('inner');
        }).catch(() => undefined);
        return 'd';
      });
      expect(await tx.getIdempotency('ka')).toMatchObject({ requestHash: 'h' });
      return [a, b, c, d];
    });
    expect(outcome).toEqual(['a', 'b failed', 2, 'd']);
    expect(await s.getRow('projects', 'pa')).toMatchObject({ syncId: 1 });
    expect(await s.getRow('projects', 'pb')).toBeNull();
    expect(await s.getRow('projects', 'pc')).toMatchObject({ syncId: 2 });
    expect(await s.getRow('projects', 'pd')).toMatchObject({ syncId: 3 });
    expect(await s.getRow('projects', 'pe')).toBeNull();
    expect((await s.changesAfter(0, 10)).map((c) => [c.syncId, c.id])).toEqual([
      [1, 'pa'],
      [2, 'pc'],
      [3, 'pd'],
    ]);
    expect(await s.lastSyncId()).toBe(3);
  });

  it('never shows uncommitted writes to reads outside the transaction', async () => {
    const s = await ready();
    await insertRows(s, 'projects', [{ id: 'p1', name: 'before' }]);
    await s.transaction(async (tx) => {
      await insertIn(tx, 'projects', 'p2', { name: 'new' });
      const syncId = await tx.nextSyncId();
      await tx.updateRow('projects', 'p1', { name: 'after' }, { updatedAt: T0, syncId });
      await tx.appendChange(change(syncId, 'projects', 'p1', { action: 'update', fields: ['name'] }));
      expect(await s.getRow('projects', 'p2')).toBeNull();
      expect(await s.getRow('projects', 'p1')).toMatchObject({ name: 'before' });
      expect((await s.listRows('projects', { limit: 10 })).rows.map((r) => r.id)).toEqual(['p1']);
      expect(await s.changesAfter(1, 10)).toEqual([]);
      expect(await s.lastSyncId()).toBe(1);
    });
    expect(await s.getRow('projects', 'p2')).toMatchObject({ name: 'new' });
    expect(await s.getRow('projects', 'p1')).toMatchObject({ name: 'after', syncId: 3 });
    expect(await s.lastSyncId()).toBe(3);
  });

  it('refuses a nested transaction and runs concurrent ones one after another', async () => {
    const s = await ready();
    await expect(s.transaction(async () => s.transaction(async () => 1))).rejects.toMatchObject({ code: 'nested_transaction' });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        s.transaction(async (tx) => {
          await insertIn(tx, 'projects', `p${i}`, { name: String(i) });
          await new Promise((r) => setTimeout(r, 1));
          await insertIn(tx, 'projects', `q${i}`, { name: String(i) });
        }),
      ),
    );
    const ids = (await s.changesAfter(0, 100)).map((c) => c.syncId);
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // A key write while a transaction is open waits for it instead of joining it.
    let release!: () => void;
    const blocker = s.transaction(() => new Promise<void>((r) => (release = r)));
    const keyWrite = s.insertApiKey({
      id: 'k1',
      name: 'dev',
      prefix: 'sk_',
      hash: 'h1',
      createdAt: T0,
      revokedAt: null,
      participant: { kind: 'system', id: 'dev' },
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(await s.countApiKeys()).toBe(0);
    release();
    await Promise.all([blocker, keyWrite]);
    expect(await s.countApiKeys()).toBe(1);
  });

  it('keeps data, sync ids, schema and keys across close and reopen', async () => {
    const s = await ready();
    await insertRows(s, 'tasks', [{ id: 't1', title: 'persist', done: true, tags: ['x'], status: 'done' }]);
    await s.insertApiKey({ id: 'k1', name: 'dev', prefix: 'sk_', hash: 'h1', createdAt: T0, revokedAt: null, participant: { kind: 'system', id: 'dev' } });
    await s.close();
    await s.close(); // idempotent
    await expect(s.getRow('tasks', 't1')).rejects.toMatchObject({ code: 'storage_closed' });
    // The WAL was checkpointed into the main file on close.
    expect(existsSync(`${t.file()}-wal`) ? statSync(`${t.file()}-wal`).size : 0).toBe(0);

    const again = await t.open();
    expect((await again.getSchema())?.version).toBe(1);
    expect(await again.getRow('tasks', 't1')).toMatchObject({ title: 'persist', done: true, tags: ['x'], syncId: 1 });
    expect(await again.lastSyncId()).toBe(1);
    expect(await again.changeLogFloor()).toBe(0);
    await insertRows(again, 'tasks', [{ id: 't2', title: 'next', done: false, tags: [], status: 'todo' }]);
    expect(await again.getRow('tasks', 't2')).toMatchObject({ syncId: 2 });
    expect(await again.findApiKeyByHash('h1')).toMatchObject({ id: 'k1' });
  });

  it('works with durability normal', async () => {
    const s = await t.open({ file: join(t.dir(), 'normal.db'), durability: 'normal' });
    await s.applySchema(planSchemaChange(null, schema.serialized), schema.serialized);
    await insertRows(s, 'projects', [{ id: 'p1', name: 'n' }]);
    expect(await s.getRow('projects', 'p1')).toMatchObject({ name: 'n' });
  });
});

describe('SQLite storage: change log and idempotency', () => {
  it('finds later changes to a row and to a group (current or previous groups)', async () => {
    const s = await ready();
    await s.transaction(async (tx) => {
      await tx.appendChange(change(1, 'tasks', 't1', { groups: ['project:a'], fields: ['title', 'projectId'] }));
      await tx.appendChange(change(2, 'tasks', 't2', { groups: ['project:b'] }));
      await tx.appendChange(
        change(3, 'tasks', 't1', {
          action: 'update',
          fields: ['projectId'],
          groups: ['project:b'],
          prevGroups: ['project:a'],
          participant: { kind: 'agent', id: 'bot' },
          clientTxId: 'ctx',
        }),
      );
      await tx.appendChange(change(4, 'projects', 't1', { groups: ['project:c'] }));
      await tx.appendChange(change(5, 'tasks', 't1', { action: 'delete', fields: ['title', 'projectId'], groups: ['project:"x"'] }));

      expect(await tx.rowChangesAfter('tasks', 't1', 0)).toEqual([
        { syncId: 1, action: 'create', fields: ['title', 'projectId'], participant: { kind: 'user', id: 'u1' } },
        { syncId: 3, action: 'update', fields: ['projectId'], participant: { kind: 'agent', id: 'bot' } },
        { syncId: 5, action: 'delete', fields: ['title', 'projectId'], participant: { kind: 'user', id: 'u1' } },
      ]);
      expect((await tx.rowChangesAfter('tasks', 't1', 3)).map((c) => c.syncId)).toEqual([5]);
      expect(await tx.rowChangesAfter('tasks', 't1', 5)).toEqual([]);

      expect((await tx.groupChangeAfter('project:a', 0))?.syncId).toBe(1);
      // Change 3 moved t1 out of project:a: it counts for project:a through prevGroups.
      const moved = await tx.groupChangeAfter('project:a', 1);
      expect(moved).toMatchObject({ syncId: 3, prevGroups: ['project:a'], groups: ['project:b'], clientTxId: 'ctx', commitId: 'c3' });
      expect(await tx.groupChangeAfter('project:a', 3)).toBeNull();
      expect((await tx.groupChangeAfter('project:b', 2))?.syncId).toBe(3);
      expect((await tx.groupChangeAfter('project:"x"', 0))?.syncId).toBe(5);
      // A substring of a group is not a match.
      expect(await tx.groupChangeAfter('project', 0)).toBeNull();
    });
    const all = await s.changesAfter(0, 10);
    expect(all.map((c) => c.syncId)).toEqual([1, 2, 3, 4, 5]);
    expect(all[0]).toEqual(change(1, 'tasks', 't1', { groups: ['project:a'], fields: ['title', 'projectId'] }));
    expect(all[0]).not.toHaveProperty('prevGroups');
    expect((await s.changesAfter(2, 2)).map((c) => c.syncId)).toEqual([3, 4]);
  });

  it('stores and reads idempotency records inside transactions', async () => {
    const s = await ready();
    const receipt: CommitReceipt = {
      object: 'commit',
      id: 'cmt_1',
      clientTxId: 'key-1',
      status: 'committed',
      lastSyncId: 4,
      results: [{ op: 'create', model: 'tasks', id: 't1', status: 'applied', syncId: 4 }],
    };
    await s.transaction(async (tx) => {
      expect(await tx.getIdempotency('key-1')).toBeNull();
      await tx.putIdempotency('key-1', { requestHash: 'abc', receipt });
    });
    await s.transaction(async (tx) => {
      expect(await tx.getIdempotency('key-1')).toEqual({ requestHash: 'abc', receipt });
    });
    await expect(
      s.transaction(async (tx) => {
        await tx.putIdempotency('key-2', { requestHash: 'x', receipt });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow();
    await s.transaction(async (tx) => expect(await tx.getIdempotency('key-2')).toBeNull());
  });

  it('refuses to use a transaction handle after the transaction ended', async () => {
    const s = await ready();
    let leaked: Parameters<Parameters<typeof s.transaction>[0]>[0] | undefined;
    await s.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.nextSyncId()).rejects.toMatchObject({ code: 'transaction_ended' });
  });
});

describe('SQLite storage: API keys', () => {
  it('inserts, finds by hash, lists, revokes and counts keys', async () => {
    const s = await ready();
    expect(await s.countApiKeys()).toBe(0);
    const k1 = { id: 'key_1', name: 'dev', prefix: 'sk_test_AbC1', hash: 'h1', createdAt: T0, revokedAt: null, participant: { kind: 'system' as const, id: 'dev' } };
    const k2 = { ...k1, id: 'key_2', name: 'agent', hash: 'h2', createdAt: '2024-01-02T00:00:00.000Z', participant: { kind: 'agent' as const, id: 'bot' } };
    await s.insertApiKey(k1);
    await s.insertApiKey(k2);
    await expect(s.insertApiKey({ ...k2, id: 'key_3' })).rejects.toThrow(); // hash is unique
    expect(await s.findApiKeyByHash('h2')).toEqual(k2);
    expect(await s.findApiKeyByHash('nope')).toBeNull();
    expect(await s.listApiKeys()).toEqual([k1, k2]);
    expect(await s.countApiKeys()).toBe(2);
    expect(await s.revokeApiKey('key_1', '2024-02-01T00:00:00.000Z')).toBe(true);
    expect(await s.revokeApiKey('key_1', '2024-03-01T00:00:00.000Z')).toBe(true);
    expect(await s.revokeApiKey('missing', '2024-02-01T00:00:00.000Z')).toBe(false);
    expect(await s.findApiKeyByHash('h1')).toEqual({ ...k1, revokedAt: '2024-02-01T00:00:00.000Z' });
    expect(await s.countApiKeys()).toBe(2);
  });
});

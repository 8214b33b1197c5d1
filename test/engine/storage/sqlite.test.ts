/**
 * What only the SQLite storage does: its tables and pragmas, its file (WAL
 * checkpoint on close, durability setting, a second writer of the file).
 * Everything the Storage port promises is in the storage contract
 * (test/engine/storage/contract, run by sqlite.contract.test.ts).
 */
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AbloServerError } from '../../../src/errors.js';
import { belongsTo, defineSchema, hasMany, model, z } from '../../../src/schema/index.js';
import { planSchemaChange } from '../../../src/schema/plan.js';
import { change, insertIn, insertRows, T0, useTempStorage } from './helpers.js';

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

describe('SQLite storage: file specifics', () => {
  it('checkpoints the WAL into the main file on close, and reopens from the file alone', async () => {
    const s = await ready();
    await insertRows(s, 'tasks', [{ id: 't1', title: 'persist', done: true, tags: ['x'], status: 'done' }]);
    await s.close();
    expect(existsSync(`${t.file()}-wal`) ? statSync(`${t.file()}-wal`).size : 0).toBe(0);
    const again = await t.open();
    expect(await again.getRow('tasks', 't1')).toMatchObject({ title: 'persist', syncId: 1 });
  });

  it('works with durability normal', async () => {
    const s = await t.open({ file: join(t.dir(), 'normal.db'), durability: 'normal' });
    await s.applySchema(planSchemaChange(null, schema.serialized), schema.serialized);
    await insertRows(s, 'projects', [{ id: 'p1', name: 'n' }]);
    expect(await s.getRow('projects', 'p1')).toMatchObject({ name: 'n' });
  });

  it('allocates sync ids from the change log inside the transaction, not from a counter kept in memory (another writer of the file)', async () => {
    const s = await ready();
    await insertRows(s, 'projects', [{ id: 'p1', name: 'one' }]);
    // Another writer of the same database (as engine processes sharing one Postgres would be) appends sync id 10.
    const other = new Database(t.file());
    try {
      other
        .prepare(
          `INSERT INTO _ablo_changes (sync_id, model, row_id, action, fields, data, groups, prev_groups, participant_kind, participant_id, client_tx_id, commit_id, at)
           VALUES (10, 'projects', 'elsewhere', 'create', '[]', NULL, '["default"]', NULL, 'system', 'other', NULL, 'cmt_other', ?)`,
        )
        .run(T0);
    } finally {
      other.close();
    }
    const written = await s.transaction(async (tx) => {
      const syncId = await tx.nextSyncId();
      await tx.appendChange(change(syncId, 'projects', 'p1', { action: 'update' }));
      return syncId;
    });
    expect(written).toBe(11);
    const seeded = await s.transaction((tx) => insertIn(tx, 'projects', 'p3', { name: 'three' }));
    expect(seeded.syncId).toBe(12);
    expect((await s.changesAfter(0, 10)).map((c) => c.syncId)).toEqual([1, 10, 11, 12]);
  });
});

describe('SQLite storage: format 3 (the change log keeps the credential and onBehalfOf)', () => {
  it('adds the columns to a format-2 file when it is opened: old entries read without them, new ones keep them', async () => {
    const s = await ready();
    await insertRows(s, 'projects', [{ id: 'p1', name: 'before' }]);
    await s.close();
    // A file as format 2 left it: no audit columns.
    const old = new Database(t.file());
    old.exec(`ALTER TABLE _ablo_changes DROP COLUMN credential_id; ALTER TABLE _ablo_changes DROP COLUMN on_behalf_kind;
      ALTER TABLE _ablo_changes DROP COLUMN on_behalf_id; UPDATE _ablo_meta SET value = '2' WHERE key = 'storage_format';`);
    old.close();

    const again = await t.open();
    const [before] = await again.changesAfter(0, 10);
    expect(before).toMatchObject({ syncId: 1, model: 'projects', id: 'p1' });
    expect(before).not.toHaveProperty('credentialId');
    expect(before).not.toHaveProperty('onBehalfOf');
    await again.transaction(async (tx) => {
      await tx.appendChange(change(2, 'projects', 'p1', { action: 'update', credentialId: 'key_1', onBehalfOf: { kind: 'user', id: 'ana' } }));
    });
    expect((await again.changesAfter(1, 10))[0]).toMatchObject({ credentialId: 'key_1', onBehalfOf: { kind: 'user', id: 'ana' } });
    expect((await again.changesWhere({ participant: { kind: 'user', id: 'ana' } }, 0, 10)).map((c) => c.syncId)).toEqual([2]);
    await again.close();

    const check = new Database(t.file(), { readonly: true });
    try {
      expect(check.prepare(`SELECT value FROM _ablo_meta WHERE key = 'storage_format'`).pluck().get()).toBe('3');
      const columns = check.prepare(`SELECT name FROM pragma_table_info('_ablo_changes')`).pluck().all();
      expect(columns).toEqual(expect.arrayContaining(['credential_id', 'on_behalf_kind', 'on_behalf_id']));
    } finally {
      check.close();
    }
  });
});

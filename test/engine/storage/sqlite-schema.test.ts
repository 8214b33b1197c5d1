import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/engine/storage/types.js';
import { AbloServerError } from '../../../src/errors.js';
import { belongsTo, defineSchema, hasMany, model, z } from '../../../src/schema/index.js';
import type { SerializedSchema } from '../../../src/schema/descriptor.js';
import { planSchemaChange, type SchemaPlan } from '../../../src/schema/plan.js';
import { insertIn, insertRows, push, T0, useTempStorage } from './helpers.js';

const t = useTempStorage();

async function withSchema(serialized: SerializedSchema): Promise<Storage> {
  const s = await t.open();
  await push(s, serialized);
  return s;
}

/** Foreign-key indexes of a table as `column` names (read through a separate connection). */
function indexedColumns(file: string, table: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    const names = db.prepare(`SELECT name FROM pragma_index_list(?) WHERE origin = 'c'`).pluck().all(table) as string[];
    return names.flatMap((n) => db.prepare(`SELECT name FROM pragma_index_info(?)`).pluck().all(n) as string[]).sort();
  } finally {
    db.close();
  }
}

function columnsOf(file: string, table: string): Record<string, string> {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries((db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(table) as Array<{ name: string; type: string }>).map((c) => [c.name, c.type]));
  } finally {
    db.close();
  }
}

describe('SQLite storage: applySchema', () => {
  it('adds fields and fills existing rows with their defaults', async () => {
    const v1 = defineSchema({ tasks: model({ title: z.string() }) }).serialized;
    const v2 = defineSchema({
      tasks: model({
        title: z.string(),
        done: z.boolean().default(true),
        points: z.number().int().default(5),
        note: z.string().optional(),
        tags: z.array(z.string()).default(['x']),
        kind: z.enum(['bug', 'feature']).default('bug'),
      }),
    }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'tasks', [
      { id: 't1', title: 'one' },
      { id: 't2', title: 'two' },
    ]);
    const record = await push(s, v2);
    expect(record.version).toBe(2);
    expect((await s.getSchema())?.serialized.hash).toBe(v2.hash);
    expect(await s.getRow('tasks', 't1')).toEqual({ id: 't1', createdAt: T0, updatedAt: T0, syncId: 1, title: 'one', done: true, points: 5, note: null, tags: ['x'], kind: 'bug' });
    // The storage's statements follow the new columns.
    await insertRows(s, 'tasks', [{ id: 't3', title: 'three', done: false, points: 1, note: 'n', tags: [], kind: 'feature' }]);
    expect(await s.getRow('tasks', 't3')).toMatchObject({ done: false, points: 1, note: 'n', tags: [], kind: 'feature' });
    expect((await s.listRows('tasks', { where: { done: true }, limit: 10 })).rows.map((r) => r.id)).toEqual(['t1', 't2']);
  });

  it('renames a field and keeps its values (and its foreign-key index)', async () => {
    const v1 = defineSchema({
      projects: model({ name: z.string() }),
      tasks: model({ title: z.string(), projectId: z.string() }, { project: belongsTo('projects', 'projectId') }),
    }).serialized;
    const v2 = defineSchema({
      projects: model({ name: z.string() }),
      tasks: model({ name: z.string(), parentId: z.string() }, { project: belongsTo('projects', 'parentId') }),
    }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'tasks', [{ id: 't1', title: 'keep me', projectId: 'p1' }]);
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['projectId']);
    await push(s, v2, { 'tasks.title': 'tasks.name', 'tasks.projectId': 'tasks.parentId' });
    expect(await s.getRow('tasks', 't1')).toEqual({ id: 't1', createdAt: T0, updatedAt: T0, syncId: 1, name: 'keep me', parentId: 'p1' });
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['parentId']);
    expect((await s.listRows('tasks', { where: { parentId: 'p1' }, limit: 5 })).rows).toHaveLength(1);
  });

  it('swaps two field names through a pair of renames', async () => {
    const v1 = defineSchema({ tasks: model({ a: z.string(), b: z.string() }) }).serialized;
    const v2 = defineSchema({ tasks: model({ b: z.string(), a: z.string() }) }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'tasks', [{ id: 't1', a: 'was a', b: 'was b' }]);
    await push(s, v2, { 'tasks.a': 'tasks.b', 'tasks.b': 'tasks.a' });
    expect(await s.getRow('tasks', 't1')).toMatchObject({ a: 'was b', b: 'was a' });
  });

  it('handles names that change only in case (SQLite names are case-insensitive)', async () => {
    const v1 = defineSchema({ Notes: model({ Body: z.string(), Title: z.string().optional() }) }).serialized;
    const v2 = defineSchema({ notes: model({ body: z.string(), title: z.string().optional() }) }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'Notes', [{ id: 'n1', Body: 'kept', Title: 'dropped' }]);
    // Rename the model and Body; drop Title and add title.
    await push(s, v2, { Notes: 'notes', 'notes.Body': 'notes.body' });
    expect(await s.getRow('notes', 'n1')).toEqual({ id: 'n1', createdAt: T0, updatedAt: T0, syncId: 1, body: 'kept', title: null });
  });

  it('renames a model and keeps its rows, indexes and change history', async () => {
    const v1 = defineSchema({
      projects: model({ name: z.string() }, { todos: hasMany('todos', 'projectId') }),
      todos: model({ title: z.string(), projectId: z.string() }),
    }).serialized;
    const v2 = defineSchema({
      projects: model({ name: z.string() }, { tasks: hasMany('tasks', 'projectId') }),
      tasks: model({ title: z.string(), projectId: z.string() }),
    }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'todos', [{ id: 't1', title: 'old', projectId: 'p1' }]);
    await push(s, v2, { todos: 'tasks' });
    expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'old', projectId: 'p1' });
    await expect(s.getRow('todos', 't1')).rejects.toMatchObject({ code: 'unknown_model' });
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['projectId']);
    expect(columnsOf(t.file(), 'todos')).toEqual({});
    await s.transaction(async (tx) => {
      expect((await tx.rowChangesAfter('tasks', 't1', 0)).map((c) => c.syncId)).toEqual([1]);
    });
  });

  it('drops a field (also an indexed one) and a model', async () => {
    const v1 = defineSchema({
      projects: model({ name: z.string() }),
      tasks: model({ title: z.string(), note: z.string().optional(), projectId: z.string().optional() }, { project: belongsTo('projects', 'projectId') }),
      archive: model({ blob: z.json() }),
    }).serialized;
    const v2 = defineSchema({
      projects: model({ name: z.string() }),
      tasks: model({ title: z.string() }),
    }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'tasks', [{ id: 't1', title: 'x', note: 'gone', projectId: 'p1' }]);
    await insertRows(s, 'archive', [{ id: 'a1', blob: { any: 1 } }]);
    const plan = planSchemaChange(v1, v2);
    expect(plan.changes.map((c) => c.kind).sort()).toEqual(['change_relations', 'drop_field', 'drop_field', 'drop_model']);
    await s.applySchema(plan, v2);
    expect(await s.getRow('tasks', 't1')).toEqual({ id: 't1', createdAt: T0, updatedAt: T0, syncId: 1, title: 'x' });
    expect(Object.keys(columnsOf(t.file(), 'tasks'))).toEqual(['id', 'createdAt', 'updatedAt', 'syncId', 'title']);
    expect(columnsOf(t.file(), 'archive')).toEqual({});
    await expect(s.getRow('archive', 'a1')).rejects.toMatchObject({ code: 'unknown_model' });
  });

  it('changes a field type, converting the values that fit and clearing the others', async () => {
    const v1 = defineSchema({
      things: model({
        score: z.string().nullable(),
        count: z.number().int(),
        flag: z.boolean(),
        answer: z.string(),
        list: z.json(),
        level: z.string(),
      }),
    }).serialized;
    const v2 = defineSchema({
      things: model({
        score: z.number().int().nullable(),
        count: z.string(),
        flag: z.string(),
        answer: z.boolean().default(false),
        list: z.array(z.number()).optional(),
        level: z.enum(['low', 'high']).default('low'),
      }),
    }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'things', [
      { id: 'a', score: '12', count: 7, flag: true, answer: 'true', list: [1, 2], level: 'high' },
      { id: 'b', score: 'abc', count: -3, flag: false, answer: 'nope', list: { not: 'a list' }, level: 'medium' },
      { id: 'c', score: '3.5', count: 0, flag: true, answer: 'FALSE', list: ['x'], level: 'low' },
      { id: 'd', score: null, count: 1, flag: false, answer: '1', list: null, level: 'HIGH' },
    ]);
    const plan = planSchemaChange(v1, v2);
    expect(plan.changes.filter((c) => c.kind === 'change_type').map((c) => c.field).sort()).toEqual(['answer', 'count', 'flag', 'level', 'list', 'score']);
    await s.applySchema(plan, v2);
    const rows = await s.scanRows('things', null, 10);
    const pick = (r: Record<string, unknown>) => ({ id: r.id, score: r.score, count: r.count, flag: r.flag, answer: r.answer, list: r.list, level: r.level });
    expect(rows.map(pick)).toEqual([
      { id: 'a', score: 12, count: '7', flag: 'true', answer: true, list: [1, 2], level: 'high' },
      // no conversion: the default, else null
      { id: 'b', score: null, count: '-3', flag: 'false', answer: false, list: null, level: 'low' },
      // 3.5 is not an int; ['x'] is not a number array
      { id: 'c', score: null, count: '0', flag: 'true', answer: false, list: null, level: 'low' },
      { id: 'd', score: null, count: '1', flag: 'false', answer: true, list: null, level: 'low' },
    ]);
    expect(columnsOf(t.file(), 'things')).toMatchObject({ score: 'INTEGER', count: 'TEXT', flag: 'TEXT', answer: 'INTEGER', list: 'TEXT', level: 'TEXT' });
  });

  it('removes enum values: rows move to the default, else to null, else keep the value', async () => {
    const v1 = defineSchema({
      tasks: model({
        withDefault: z.enum(['a', 'b', 'c']).default('a'),
        nullable: z.enum(['a', 'b', 'c']).nullable(),
        required: z.enum(['a', 'b', 'c']),
      }),
    }).serialized;
    const v2 = defineSchema({
      tasks: model({
        withDefault: z.enum(['a', 'b']).default('a'),
        nullable: z.enum(['a', 'b']).nullable(),
        required: z.enum(['a', 'b']),
      }),
    }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'tasks', [
      { id: 't1', withDefault: 'c', nullable: 'c', required: 'c' },
      { id: 't2', withDefault: 'b', nullable: 'b', required: 'b' },
    ]);
    await push(s, v2);
    expect(await s.getRow('tasks', 't1')).toMatchObject({ withDefault: 'a', nullable: null, required: 'c' });
    expect(await s.getRow('tasks', 't2')).toMatchObject({ withDefault: 'b', nullable: 'b', required: 'b' });
  });

  it('fills nulls when a field with a default becomes required, and follows relation changes with indexes', async () => {
    const v1 = defineSchema({
      users: model({ name: z.string() }),
      tasks: model({ title: z.string().optional(), ownerId: z.string().optional(), reviewerId: z.string().optional() }, { owner: belongsTo('users', 'ownerId') }),
    }).serialized;
    const v2 = defineSchema({
      users: model({ name: z.string() }, { reviews: hasMany('tasks', 'reviewerId') }),
      tasks: model({ title: z.string().default('untitled'), ownerId: z.string().optional(), reviewerId: z.string().optional() }),
    }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'tasks', [
      { id: 't1', title: null },
      { id: 't2', title: 'set' },
    ]);
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['ownerId']);
    await push(s, v2);
    expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'untitled' });
    expect(await s.getRow('tasks', 't2')).toMatchObject({ title: 'set' });
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['reviewerId']);
  });

  it('rolls back every change when one DDL fails and reports a server error', async () => {
    const v1 = defineSchema({ tasks: model({ title: z.string() }) }).serialized;
    const v2 = defineSchema({ tasks: model({ title: z.string(), done: z.boolean().default(false) }), notes: model({ body: z.string() }) }).serialized;
    const s = await withSchema(v1);
    await insertRows(s, 'tasks', [{ id: 't1', title: 'safe' }]);
    const good = planSchemaChange(v1, v2);
    // A plan that adds `title` again: ALTER TABLE fails after `notes` and `done` were created.
    const bad: SchemaPlan = {
      ...good,
      changes: [...good.changes, { kind: 'add_field', class: 'safe', model: 'tasks', field: 'title', description: 'Add field tasks.title again', to: { type: 'string' } }],
    };
    const err = await s.applySchema(bad, v2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbloServerError);
    expect(err).toMatchObject({ code: 'schema_apply_failed' });
    expect((err as Error).message).toContain('Add field tasks.title again');
    expect((await s.getSchema())?.version).toBe(1);
    expect(Object.keys(columnsOf(t.file(), 'tasks'))).toEqual(['id', 'createdAt', 'updatedAt', 'syncId', 'title']);
    expect(columnsOf(t.file(), 'notes')).toEqual({});
    expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'safe' });

    // A plan that does not lead to `next` is refused too.
    await expect(s.applySchema({ changes: [], safe: true, counts: { safe: 0, destructive: 0, 'needs-data': 0 } }, v2)).rejects.toMatchObject({
      code: 'schema_apply_failed',
    });
    // The storage is still usable and the right plan applies.
    await s.applySchema(good, v2);
    expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'safe', done: false });
    await insertRows(s, 'notes', [{ id: 'n1', body: 'b' }]);
    expect((await s.getSchema())?.version).toBe(2);
  });
});

describe('SQLite storage: collectStats', () => {
  it('counts rows, non-null values and enum values; models without a table have 0 rows', async () => {
    const v1 = defineSchema({
      tasks: model({ title: z.string(), note: z.string().optional(), status: z.enum(['todo', 'done']).nullable() }),
    }).serialized;
    const s = await withSchema(v1);
    await s.transaction(async (tx) => {
      await insertIn(tx, 'tasks', 't1', { title: 'a', note: 'n', status: 'todo' });
      await insertIn(tx, 'tasks', 't2', { title: 'b', note: null, status: 'todo' });
      await insertIn(tx, 'tasks', 't3', { title: 'c', note: null, status: 'done' });
      await insertIn(tx, 'tasks', 't4', { title: 'd', note: null, status: null });
    });
    const future = defineSchema({
      tasks: model({ title: z.string(), note: z.string().optional(), status: z.enum(['todo', 'done']).nullable() }),
      later: model({ kind: z.enum(['x', 'y']), size: z.number() }),
    }).serialized;
    expect(await s.collectStats(future)).toEqual({
      tasks: {
        rows: 4,
        fields: { title: { nonNull: 4 }, note: { nonNull: 1 }, status: { nonNull: 3, values: { todo: 2, done: 1 } } },
      },
      later: { rows: 0, fields: { kind: { nonNull: 0, values: {} }, size: { nonNull: 0 } } },
    });
    // The planner reads them: removing an unused enum value is safe.
    const v2 = defineSchema({ tasks: model({ title: z.string(), note: z.string().optional(), status: z.enum(['todo']).nullable() }) }).serialized;
    const plan = planSchemaChange(v1, v2, { stats: await s.collectStats(v1) });
    expect(plan.changes.map((c) => [c.kind, c.class])).toEqual([['remove_enum_value', 'destructive']]);
  });
});

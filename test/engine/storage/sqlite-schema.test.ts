/**
 * What `applySchema` does to the SQLite file itself: tables, column types and
 * the indexes the storage keeps on relation foreign keys, read through a
 * separate connection. What a push does to the data (renames, drops, type
 * changes, enum removal, defaults, all or nothing, statistics) is in the
 * storage contract (contract/schema.ts).
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/engine/storage/types.js';
import { belongsTo, defineSchema, hasMany, model, z } from '../../../src/schema/index.js';
import type { SerializedSchema } from '../../../src/schema/descriptor.js';
import { planSchemaChange, type SchemaPlan } from '../../../src/schema/plan.js';
import { insertRows, push, useTempStorage } from './helpers.js';

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

describe('SQLite storage: applySchema on the file', () => {
  it('a field rename keeps its foreign-key index, under the new column', async () => {
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
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['parentId']);
    expect(Object.keys(columnsOf(t.file(), 'tasks')).sort()).toEqual(['createdAt', 'id', 'name', 'parentId', 'syncId', 'updatedAt']);
  });

  it('a model rename moves the table and its indexes; the old table is gone', async () => {
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
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['projectId']);
    expect(columnsOf(t.file(), 'todos')).toEqual({});
  });

  it('a dropped field loses its column (also an indexed one) and a dropped model its table', async () => {
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
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['projectId']);
    await s.applySchema(planSchemaChange(v1, v2), v2);
    expect(Object.keys(columnsOf(t.file(), 'tasks'))).toEqual(['id', 'createdAt', 'updatedAt', 'syncId', 'title']);
    expect(indexedColumns(t.file(), 'tasks')).toEqual([]);
    expect(columnsOf(t.file(), 'archive')).toEqual({});
  });

  it('a type change gives the column its new SQLite type', async () => {
    const v1 = defineSchema({
      things: model({ score: z.string().nullable(), count: z.number().int(), flag: z.boolean(), answer: z.string(), list: z.json(), level: z.string() }),
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
    expect(columnsOf(t.file(), 'things')).toMatchObject({ score: 'TEXT', count: 'INTEGER', flag: 'INTEGER', answer: 'TEXT', list: 'TEXT', level: 'TEXT' });
    await insertRows(s, 'things', [{ id: 'a', score: '12', count: 7, flag: true, answer: 'true', list: [1, 2], level: 'high' }]);
    await push(s, v2);
    expect(columnsOf(t.file(), 'things')).toMatchObject({ score: 'INTEGER', count: 'TEXT', flag: 'TEXT', answer: 'INTEGER', list: 'TEXT', level: 'TEXT' });
  });

  it('relation changes move the foreign-key indexes', async () => {
    const v1 = defineSchema({
      users: model({ name: z.string() }),
      tasks: model({ title: z.string().optional(), ownerId: z.string().optional(), reviewerId: z.string().optional() }, { owner: belongsTo('users', 'ownerId') }),
    }).serialized;
    const v2 = defineSchema({
      users: model({ name: z.string() }, { reviews: hasMany('tasks', 'reviewerId') }),
      tasks: model({ title: z.string().default('untitled'), ownerId: z.string().optional(), reviewerId: z.string().optional() }),
    }).serialized;
    const s = await withSchema(v1);
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['ownerId']);
    await push(s, v2);
    expect(indexedColumns(t.file(), 'tasks')).toEqual(['reviewerId']);
  });

  it('a failed DDL leaves no table or column behind', async () => {
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
    await expect(s.applySchema(bad, v2)).rejects.toMatchObject({ code: 'schema_apply_failed' });
    expect(Object.keys(columnsOf(t.file(), 'tasks'))).toEqual(['id', 'createdAt', 'updatedAt', 'syncId', 'title']);
    expect(columnsOf(t.file(), 'notes')).toEqual({});
  });
});

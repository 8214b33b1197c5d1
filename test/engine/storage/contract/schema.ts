/**
 * Schema plans: `applySchema` adds, drops and renames models and fields
 * (keeping data for renames), changes types, removes enum values, fills
 * defaults, re-derives stored sync groups when they change, and applies all or
 * nothing; `collectStats` gives the planner what its needs-data and
 * destructive checks read.
 */
import { describe, expect, it } from 'vitest';
import type { Storage } from '../../../../src/engine/storage/types.js';
import { AbloNotFoundError, AbloServerError } from '../../../../src/errors.js';
import type { SerializedSchema } from '../../../../src/schema/descriptor.js';
import { belongsTo, defineSchema, hasMany, model, z } from '../../../../src/schema/index.js';
import { planSchemaChange, type SchemaPlan } from '../../../../src/schema/plan.js';
import { change, commit, groupIds, insertIn, insertRows, push, T0, wholeLog, type ContractContext } from './harness.js';
import { groupSchema } from './groups.js';

const classes = (plan: SchemaPlan) => plan.changes.map((c) => [c.kind, c.field ?? c.model, c.class]);

async function planWithStats(s: Storage, next: SerializedSchema, renames?: Record<string, string>): Promise<SchemaPlan> {
  const current = (await s.getSchema())!.serialized;
  return planSchemaChange(current, next, { stats: await s.collectStats(current), ...(renames ? { renames } : {}) });
}

export function schemaContract(ctx: ContractContext): void {
  describe('schema plans: applySchema', () => {
    it('starts with no schema; a first push records version 1 and makes the models usable', async () => {
      const s = await ctx.fresh();
      expect(await s.getSchema()).toBeNull();
      expect(await s.lastSyncId()).toBe(0);
      await expect(s.getRow('projects', 'x')).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      const schema = defineSchema({
        projects: model({ name: z.string() }, { tasks: hasMany('tasks', 'projectId') }),
        tasks: model({ title: z.string(), projectId: z.string().optional() }, { project: belongsTo('projects', 'projectId') }),
      });
      const record = await s.applySchema(planSchemaChange(null, schema.serialized), schema.serialized);
      expect(record.version).toBe(1);
      expect(record.serialized).toEqual(schema.serialized);
      expect(record.serialized.hash).toBe(schema.serialized.hash);
      expect(typeof record.appliedAt).toBe('string');
      expect(await s.getSchema()).toEqual(record);
      expect(await s.getRow('tasks', 't1')).toBeNull();
      expect(await s.listRows('projects', { limit: 10 })).toEqual({ rows: [], hasMore: false });
      await commit(s, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'x', projectId: 'p1' } }]);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'x', projectId: 'p1' });
      // A second push of the same schema is a new version with nothing to change.
      const again = await s.applySchema(planSchemaChange(schema.serialized, schema.serialized), schema.serialized);
      expect(again.version).toBe(2);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'x' });
    });

    it('adds fields and fills existing rows with their defaults; writes after the push use the new fields', async () => {
      const v1 = defineSchema({ tasks: model({ title: z.string() }) }).serialized;
      const v2 = defineSchema({
        tasks: model({
          title: z.string(),
          done: z.boolean().default(true),
          points: z.number().int().default(5),
          ratio: z.number().default(0.5),
          note: z.string().optional(),
          tags: z.array(z.string()).default(['x']),
          kind: z.enum(['bug', 'feature']).default('bug'),
          meta: z.object({ a: z.number() }).default({ a: 1 }),
        }),
      }).serialized;
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'tasks', [
        { id: 't1', title: 'one' },
        { id: 't2', title: 'two' },
      ]);
      const record = await push(s, v2);
      expect(record.version).toBe(2);
      expect((await s.getSchema())?.serialized.hash).toBe(v2.hash);
      expect(await s.getRow('tasks', 't1')).toEqual({
        id: 't1',
        createdAt: T0,
        updatedAt: T0,
        syncId: 1,
        title: 'one',
        done: true,
        points: 5,
        ratio: 0.5,
        note: null,
        tags: ['x'],
        kind: 'bug',
        meta: { a: 1 },
      });
      await insertRows(s, 'tasks', [{ id: 't3', title: 'three', done: false, points: 1, note: 'n', tags: [], kind: 'feature' }]);
      expect(await s.getRow('tasks', 't3')).toMatchObject({ done: false, points: 1, note: 'n', tags: [], kind: 'feature' });
      expect((await s.listRows('tasks', { where: { done: true }, limit: 10 })).rows.map((r) => r.id)).toEqual(['t1', 't2']);
      expect((await s.listRows('tasks', { orderBy: [{ field: 'points', direction: 'asc' }], limit: 10 })).rows.map((r) => r.id)).toEqual(['t3', 't1', 't2']);
      const c = await commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { kind: 'feature', points: 9 } }]);
      expect(c.changes[0]!.data).toMatchObject({ kind: 'feature', points: 9, done: true });
      // The push wrote no change-log entry.
      expect((await s.changesAfter(0, 10)).map((ch) => ch.syncId)).toEqual([1, 2, 3, 4]);
    });

    it('renames a field and keeps its values', async () => {
      const v1 = defineSchema({
        projects: model({ name: z.string() }),
        tasks: model({ title: z.string(), projectId: z.string() }, { project: belongsTo('projects', 'projectId') }),
      }).serialized;
      const v2 = defineSchema({
        projects: model({ name: z.string() }),
        tasks: model({ name: z.string(), parentId: z.string() }, { project: belongsTo('projects', 'parentId') }),
      }).serialized;
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'tasks', [{ id: 't1', title: 'keep me', projectId: 'p1' }]);
      await push(s, v2, { 'tasks.title': 'tasks.name', 'tasks.projectId': 'tasks.parentId' });
      expect(await s.getRow('tasks', 't1')).toEqual({ id: 't1', createdAt: T0, updatedAt: T0, syncId: 1, name: 'keep me', parentId: 'p1' });
      expect((await s.listRows('tasks', { where: { parentId: 'p1' }, limit: 5 })).rows).toHaveLength(1);
      await expect(s.listRows('tasks', { where: { projectId: 'p1' }, limit: 5 })).rejects.toMatchObject({ code: 'unknown_field' });
    });

    it('renames fields in the change history too: the stale guard and catch-up read it under the current names', async () => {
      const v1 = defineSchema({ tasks: model({ title: z.string(), a: z.string(), b: z.string(), tags: z.array(z.string()).default([]) }) }).serialized;
      // title → name, a ⇄ b (a swap), tags → labels.
      const v2 = defineSchema({ tasks: model({ name: z.string(), b: z.string(), a: z.string(), labels: z.array(z.string()).default([]) }) }).serialized;
      const s = await ctx.withSchema(v1);
      await commit(s, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'one', a: 'A', b: 'B', tags: ['x'] } }]);
      await commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'two', a: 'A2' } }]);
      await commit(s, [{ op: 'create', model: 'tasks', id: 't2', data: { title: 'other', a: 'a', b: 'b' } }]);
      await commit(s, [{ op: 'delete', model: 'tasks', id: 't2' }]);
      await push(s, v2, { 'tasks.title': 'tasks.name', 'tasks.a': 'tasks.b', 'tasks.b': 'tasks.a', 'tasks.tags': 'tasks.labels' });
      const log = await s.changesAfter(0, 10);
      expect(log.map((c) => [...c.fields].sort())).toEqual([
        ['a', 'b', 'labels', 'name'],
        ['b', 'name'],
        ['a', 'b', 'labels', 'name'],
        ['a', 'b', 'labels', 'name'],
      ]);
      expect(log[0]!.data).toEqual({ id: 't1', createdAt: T0, updatedAt: T0, syncId: 1, name: 'one', b: 'A', a: 'B', labels: ['x'] });
      expect(log[1]!.data).toEqual({ id: 't1', createdAt: T0, updatedAt: T0, syncId: 2, name: 'two', b: 'A2', a: 'B', labels: ['x'] });
      expect(log[3]!.data).toBeNull();
      await s.transaction(async (tx) => {
        expect((await tx.rowChangesAfter('tasks', 't1', 1)).map((c) => [...c.fields].sort())).toEqual([['b', 'name']]);
      });
      // A writer that read t1 at sync id 1 (before the update of title, now name) is refused.
      await expect(commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { name: 'lost?' }, readAt: 1 }])).rejects.toMatchObject({
        type: 'stale_context',
        conflictingFields: ['name'],
      });
      // And b (the old a) conflicts; a (the old b) does not.
      await expect(commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { b: 'x' }, readAt: 1 }])).rejects.toMatchObject({ type: 'stale_context' });
      await commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { a: 'fine' }, readAt: 1 }]);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ name: 'two', a: 'fine', b: 'A2', labels: ['x'] });
    });

    it('renames fields across a long change history (every entry, every row id)', async () => {
      const v1 = defineSchema({ tasks: model({ title: z.string(), n: z.number().int() }) }).serialized;
      const v2 = defineSchema({ tasks: model({ name: z.string(), n: z.number().int() }) }).serialized;
      const s = await ctx.withSchema(v1);
      const total = 4500;
      await s.transaction(async (tx) => {
        for (let i = 1; i <= total; i++) {
          const id = `t${i % 7}`;
          const syncId = await tx.nextSyncId();
          const data = { id, createdAt: T0, updatedAt: T0, syncId, title: `v${i}`, n: i };
          if (i <= 7) await tx.insertRow('tasks', data);
          else await tx.updateRow('tasks', id, { title: `v${i}`, n: i }, { updatedAt: T0, syncId });
          await tx.appendChange(change(syncId, 'tasks', id, { action: i <= 7 ? 'create' : 'update', fields: i % 2 ? ['title', 'n'] : ['n'], data }));
        }
      });
      await push(s, v2, { 'tasks.title': 'tasks.name' });
      const log = await wholeLog(s);
      expect(log).toHaveLength(total);
      for (const c of log) {
        expect(c.fields).toEqual(c.syncId % 2 ? ['name', 'n'] : ['n']);
        expect(c.data).toEqual({ id: c.id, createdAt: T0, updatedAt: T0, syncId: c.syncId, name: `v${c.syncId}`, n: c.syncId });
      }
    });

    it('swaps two field names through a pair of renames', async () => {
      const v1 = defineSchema({ tasks: model({ a: z.string(), b: z.string() }) }).serialized;
      const v2 = defineSchema({ tasks: model({ b: z.string(), a: z.string() }) }).serialized;
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'tasks', [{ id: 't1', a: 'was a', b: 'was b' }]);
      await push(s, v2, { 'tasks.a': 'tasks.b', 'tasks.b': 'tasks.a' });
      expect(await s.getRow('tasks', 't1')).toMatchObject({ a: 'was b', b: 'was a' });
    });

    it('handles names that differ only in case (models and fields are case-sensitive names)', async () => {
      const v1 = defineSchema({ Notes: model({ Body: z.string(), Title: z.string().optional() }) }).serialized;
      const v2 = defineSchema({ notes: model({ body: z.string(), title: z.string().optional() }) }).serialized;
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'Notes', [{ id: 'n1', Body: 'kept', Title: 'dropped' }]);
      // Rename the model and Body; drop Title and add title.
      await push(s, v2, { Notes: 'notes', 'notes.Body': 'notes.body' });
      expect(await s.getRow('notes', 'n1')).toEqual({ id: 'n1', createdAt: T0, updatedAt: T0, syncId: 1, body: 'kept', title: null });
      await expect(s.getRow('Notes', 'n1')).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
    });

    it('renames a model and keeps its rows, its change history and its groups', async () => {
      const v1 = defineSchema({
        projects: model({ name: z.string() }, { todos: hasMany('todos', 'projectId') }),
        todos: model({ title: z.string(), projectId: z.string() }, {}, { syncGroupFormat: 'project:{projectId}' }),
      }).serialized;
      const v2 = defineSchema({
        projects: model({ name: z.string() }, { tasks: hasMany('tasks', 'projectId') }),
        tasks: model({ title: z.string(), projectId: z.string() }, {}, { syncGroupFormat: 'project:{projectId}' }),
      }).serialized;
      const s = await ctx.withSchema(v1);
      await commit(s, [{ op: 'create', model: 'todos', id: 't1', data: { title: 'old', projectId: 'p1' } }]);
      await push(s, v2, { todos: 'tasks' });
      expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'old', projectId: 'p1', syncId: 1 });
      await expect(s.getRow('todos', 't1')).rejects.toMatchObject({ code: 'unknown_model' });
      expect(await groupIds(s, 'tasks', 'project:p1')).toEqual(['t1']);
      // The stale guard and catch-up read the history under the model's current name.
      await s.transaction(async (tx) => {
        expect((await tx.rowChangesAfter('tasks', 't1', 0)).map((c) => c.syncId)).toEqual([1]);
        expect(await tx.rowChangesAfter('todos', 't1', 0)).toEqual([]);
      });
      expect((await s.changesAfter(0, 10)).map((c) => c.model)).toEqual(['tasks']);
      // A write that read the row before the rename is refused as stale after an update.
      await commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'new' } }]);
      await expect(commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'stale' }, readAt: 1 }])).rejects.toMatchObject({ type: 'stale_context' });
    });

    it('drops a field and a model; a model added again under a dropped name starts empty', async () => {
      const v1 = defineSchema({
        projects: model({ name: z.string() }),
        tasks: model({ title: z.string(), note: z.string().optional(), projectId: z.string().optional() }, { project: belongsTo('projects', 'projectId') }),
        archive: model({ blob: z.json() }, {}, { syncGroupFormat: 'box:{blob}' }),
      }).serialized;
      const v2 = defineSchema({
        projects: model({ name: z.string() }),
        tasks: model({ title: z.string() }),
      }).serialized;
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'tasks', [{ id: 't1', title: 'x', note: 'gone', projectId: 'p1' }]);
      await commit(s, [{ op: 'create', model: 'archive', id: 'a1', data: { blob: 'b' } }]);
      const plan = planSchemaChange(v1, v2);
      expect(plan.changes.map((c) => c.kind).sort()).toEqual(['change_relations', 'drop_field', 'drop_field', 'drop_model']);
      await s.applySchema(plan, v2);
      expect(await s.getRow('tasks', 't1')).toEqual({ id: 't1', createdAt: T0, updatedAt: T0, syncId: 1, title: 'x' });
      await expect(s.getRow('archive', 'a1')).rejects.toMatchObject({ code: 'unknown_model' });
      await expect(s.listRows('tasks', { where: { note: 'gone' }, limit: 1 })).rejects.toMatchObject({ code: 'unknown_field' });
      // Back under the same names: no rows, no values and no group entries survived the drops.
      const v3 = defineSchema({
        projects: model({ name: z.string() }),
        tasks: model({ title: z.string(), note: z.string().optional() }),
        archive: model({ blob: z.json() }, {}, { syncGroupFormat: 'box:{blob}' }),
      }).serialized;
      await push(s, v3);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'x', note: null });
      expect(await s.getRow('archive', 'a1')).toBeNull();
      expect(await s.scanRows('archive', null, 10)).toEqual([]);
      expect(await groupIds(s, 'archive', 'box:b')).toEqual([]);
      await commit(s, [{ op: 'create', model: 'archive', id: 'a1', data: { blob: 'b' } }]);
      expect(await groupIds(s, 'archive', 'box:b')).toEqual(['a1']);
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
      const s = await ctx.withSchema(v1);
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
      // The new kinds filter and sort as their new type.
      expect((await s.listRows('things', { where: { count: '7' }, limit: 5 })).rows.map((r) => r.id)).toEqual(['a']);
      expect((await s.listRows('things', { where: { answer: true }, limit: 5 })).rows.map((r) => r.id)).toEqual(['a', 'd']);
      expect((await s.listRows('things', { orderBy: [{ field: 'count', direction: 'asc' }], limit: 5 })).rows.map((r) => r.id)).toEqual(['b', 'c', 'd', 'a']);
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
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'tasks', [
        { id: 't1', withDefault: 'c', nullable: 'c', required: 'c' },
        { id: 't2', withDefault: 'b', nullable: 'b', required: 'b' },
      ]);
      await push(s, v2);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ withDefault: 'a', nullable: null, required: 'c' });
      expect(await s.getRow('tasks', 't2')).toMatchObject({ withDefault: 'b', nullable: 'b', required: 'b' });
    });

    it('fills nulls when a field with a default becomes required, and follows relation changes', async () => {
      const v1 = defineSchema({
        users: model({ name: z.string() }),
        tasks: model({ title: z.string().optional(), ownerId: z.string().optional(), reviewerId: z.string().optional() }, { owner: belongsTo('users', 'ownerId') }),
      }).serialized;
      const v2 = defineSchema({
        users: model({ name: z.string() }, { reviews: hasMany('tasks', 'reviewerId') }),
        tasks: model({ title: z.string().default('untitled'), ownerId: z.string().optional(), reviewerId: z.string().optional() }),
      }).serialized;
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'tasks', [
        { id: 't1', title: null, reviewerId: 'u1' },
        { id: 't2', title: 'set' },
      ]);
      await push(s, v2);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'untitled', reviewerId: 'u1' });
      expect(await s.getRow('tasks', 't2')).toMatchObject({ title: 'set' });
      expect((await s.listRows('tasks', { where: { reviewerId: 'u1' }, limit: 5 })).rows.map((r) => r.id)).toEqual(['t1']);
    });

    it('applies all or nothing: a failing change rolls every change back with a server error, and a plan that does not lead to the schema is refused', async () => {
      const v1 = defineSchema({ tasks: model({ title: z.string() }) }).serialized;
      const v2 = defineSchema({ tasks: model({ title: z.string(), done: z.boolean().default(false) }), notes: model({ body: z.string() }) }).serialized;
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'tasks', [{ id: 't1', title: 'safe' }]);
      const good = planSchemaChange(v1, v2);
      // A plan that adds `title` again: it fails after `notes` and `done` were created.
      const bad: SchemaPlan = {
        ...good,
        changes: [...good.changes, { kind: 'add_field', class: 'safe', model: 'tasks', field: 'title', description: 'Add field tasks.title again', to: { type: 'string' } }],
      };
      const err = await s.applySchema(bad, v2).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AbloServerError);
      expect(err).toMatchObject({ code: 'schema_apply_failed' });
      expect((err as Error).message).toContain('Add field tasks.title again');
      expect((await s.getSchema())?.version).toBe(1);
      expect(await s.getRow('tasks', 't1')).toEqual({ id: 't1', createdAt: T0, updatedAt: T0, syncId: 1, title: 'safe' });
      await expect(s.getRow('notes', 'n1')).rejects.toMatchObject({ code: 'unknown_model' });

      // A plan that does not lead to `next` is refused too.
      await expect(s.applySchema({ changes: [], safe: true, counts: { safe: 0, destructive: 0, 'needs-data': 0 } }, v2)).rejects.toMatchObject({
        code: 'schema_apply_failed',
      });
      expect((await s.getSchema())?.version).toBe(1);
      // Nothing was left half-made: the right plan applies, and writes go on.
      await s.applySchema(good, v2);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'safe', done: false });
      await insertRows(s, 'notes', [{ id: 'n1', body: 'b' }]);
      expect((await s.getSchema())?.version).toBe(2);
      expect(await s.lastSyncId()).toBe(2);
    });
  });

  describe('schema plans: statistics and the planner’s data checks', () => {
    it('counts rows, non-null values and enum values; a model without rows or storage yet has 0 rows', async () => {
      const v1 = defineSchema({
        tasks: model({ title: z.string(), note: z.string().optional(), status: z.enum(['todo', 'done']).nullable() }),
      }).serialized;
      const s = await ctx.withSchema(v1);
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
      // Committed state only: an open transaction's rows are not counted.
      await s.transaction(async (tx) => {
        await insertIn(tx, 'tasks', 't5', { title: 'e', status: 'done' });
        expect((await s.collectStats(v1)).tasks?.rows).toBe(4);
      });
      expect((await s.collectStats(v1)).tasks).toMatchObject({ rows: 5, fields: { status: { values: { todo: 2, done: 2 } } } });
    });

    it('gives the planner what it needs: changes that touch no stored value are safe, the others needs-data or destructive', async () => {
      const v1 = defineSchema({
        tasks: model({
          title: z.string(),
          note: z.string().optional(),
          due: z.string().optional(),
          status: z.enum(['todo', 'doing', 'done']),
          legacy: z.string().optional(),
        }),
        empty: model({ x: z.string() }),
        full: model({ y: z.string() }),
      }).serialized;
      const v2 = defineSchema({
        tasks: model({
          title: z.string(),
          // required now: the rows have notes; some have no due date
          note: z.string(),
          due: z.string(),
          // 'doing' removed: unused; 'done' kept
          status: z.enum(['todo', 'done']),
          priority: z.number(),
        }),
        full: model({ y: z.string() }),
      }).serialized;
      const s = await ctx.withSchema(v1);
      await insertRows(s, 'tasks', [
        { id: 't1', title: 'a', note: 'n', due: '2024', status: 'todo', legacy: null },
        { id: 't2', title: 'b', note: 'n', due: null, status: 'done', legacy: null },
      ]);
      await insertRows(s, 'full', [{ id: 'f1', y: 'y' }]);
      const plan = await planWithStats(s, v2);
      const byTarget = Object.fromEntries(plan.changes.map((c) => [`${c.kind} ${c.model}.${c.field ?? ''}`, c.class]));
      expect(byTarget).toMatchObject({
        'make_required tasks.note': 'safe',
        'make_required tasks.due': 'needs-data',
        'remove_enum_value tasks.status': 'safe',
        'drop_field tasks.legacy': 'safe',
        'add_field tasks.priority': 'needs-data',
        'drop_model empty.': 'safe',
      });
      // Once the data is there, the same change is safe; a model with rows is not dropped safely.
      await s.transaction(async (tx) => {
        const syncId = await tx.nextSyncId();
        await tx.updateRow('tasks', 't2', { due: '2025', status: 'doing' }, { updatedAt: T0, syncId });
      });
      const after = await planWithStats(s, v2);
      expect(
        classes(after)
          .filter(([kind]) => kind === 'make_required' || kind === 'remove_enum_value')
          .map((c) => c.join(' '))
          .sort(),
      ).toEqual(['make_required due safe', 'make_required note safe', 'remove_enum_value status destructive']);
      const dropBoth = defineSchema({
        tasks: model({
          title: z.string(),
          note: z.string().optional(),
          due: z.string().optional(),
          status: z.enum(['todo', 'doing', 'done']),
          legacy: z.string().optional(),
        }),
      }).serialized;
      const dropFull = await planWithStats(s, dropBoth);
      expect(dropFull.changes.find((c) => c.kind === 'drop_model' && c.model === 'full')?.class).toBe('destructive');
      expect(dropFull.changes.find((c) => c.kind === 'drop_model' && c.model === 'empty')?.class).toBe('safe');
    });
  });

  describe('schema plans: stored sync groups are re-derived when they change', () => {
    it('a new syncGroupFormat, a default filled into a group field, a type change of a group field, a model and field rename, and a drop', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      await commit(s, [
        { op: 'create', model: 'tasks', id: 't1', data: { title: 'a', projectId: 'p1', n: 1 } },
        { op: 'create', model: 'tasks', id: 't2', data: { title: 'b' } },
        { op: 'create', model: 'pins', id: 'p1', data: { boardId: 'x', ownerId: 'u' } },
        { op: 'create', model: 'notes', id: 'n1', data: { body: 'x' } },
      ]);
      expect(await groupIds(s, 'tasks', 'project:')).toEqual(['t2']);

      // 1. tasks grouped by title instead; projectId becomes required with a default (fills t2).
      const v2 = defineSchema({
        tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'title:{title}' }),
        pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
        notes: model({ body: z.string() }),
      });
      await push(s, v2.serialized);
      expect(await groupIds(s, 'tasks', 'title:a')).toEqual(['t1']);
      expect(await groupIds(s, 'tasks', 'title:b')).toEqual(['t2']);
      expect(await groupIds(s, 'tasks', 'project:p1')).toEqual([]);
      expect(await groupIds(s, 'tasks', 'project:')).toEqual([]);

      // 2. back to projects: the filled default shows in t2's group.
      const v3 = defineSchema({
        tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'project:{projectId}' }),
        pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
        notes: model({ body: z.string() }),
      });
      await push(s, v3.serialized);
      expect(await groupIds(s, 'tasks', 'project:none')).toEqual(['t2']);
      expect(await groupIds(s, 'tasks', 'project:p1')).toEqual(['t1']);
      expect(await groupIds(s, 'tasks', 'title:a')).toEqual([]);

      // 3. group by a number field, then change its type: the stored values (and so the groups) are rewritten.
      const v4 = defineSchema({
        tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'n:{n}' }),
        pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
        notes: model({ body: z.string() }),
      });
      await push(s, v4.serialized);
      expect(await groupIds(s, 'tasks', 'n:1')).toEqual(['t1']);
      expect(await groupIds(s, 'tasks', 'n:0')).toEqual(['t2']);
      const v5 = defineSchema({
        tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.boolean().default(false) }, {}, { syncGroupFormat: 'n:{n}' }),
        pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
        notes: model({ body: z.string() }),
      });
      await push(s, v5.serialized);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ n: true });
      expect(await groupIds(s, 'tasks', 'n:true')).toEqual(['t1']);
      expect(await groupIds(s, 'tasks', 'n:false')).toEqual(['t2']);
      expect(await groupIds(s, 'tasks', 'n:1')).toEqual([]);

      // 4. rename pins → markers and boardId → board (the template follows the rename); drop notes.
      const v6 = defineSchema({
        tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.boolean().default(false) }, {}, { syncGroupFormat: 'n:{n}' }),
        markers: model({ board: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{board}', 'owner:{ownerId}'] }),
      });
      await push(s, v6.serialized, { pins: 'markers', 'markers.boardId': 'markers.board' });
      expect(await groupIds(s, 'markers', 'board:x')).toEqual(['p1']);
      expect(await groupIds(s, 'markers', 'owner:u')).toEqual(['p1']);
      await expect(s.scanGroupRows('pins', 'board:x', null, 10)).rejects.toMatchObject({ type: 'validation_error', code: 'unknown_model' });
      // Writes after the pushes keep the index: a move through the commit path.
      await commit(s, [{ op: 'update', model: 'markers', id: 'p1', data: { board: 'y' } }]);
      expect(await groupIds(s, 'markers', 'board:x')).toEqual([]);
      expect(await groupIds(s, 'markers', 'board:y')).toEqual(['p1']);
      // notes back: its old row's group entry is gone.
      const v7 = defineSchema({
        tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.boolean().default(false) }, {}, { syncGroupFormat: 'n:{n}' }),
        markers: model({ board: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{board}', 'owner:{ownerId}'] }),
        notes: model({ body: z.string() }),
      });
      await push(s, v7.serialized);
      expect(await groupIds(s, 'notes', 'default')).toEqual([]);
    });

    it('removing an enum value a group template uses moves its rows to the groups of their new value', async () => {
      const v1 = defineSchema({ tasks: model({ status: z.enum(['a', 'b', 'c']).default('a'), title: z.string() }, {}, { syncGroupFormat: 'status:{status}' }) });
      const v2 = defineSchema({ tasks: model({ status: z.enum(['a', 'b']).default('a'), title: z.string() }, {}, { syncGroupFormat: 'status:{status}' }) });
      const s = await ctx.withSchema(v1.serialized);
      await commit(s, [
        { op: 'create', model: 'tasks', id: 't1', data: { status: 'c', title: 'x' } },
        { op: 'create', model: 'tasks', id: 't2', data: { status: 'b', title: 'y' } },
      ]);
      expect(await groupIds(s, 'tasks', 'status:c')).toEqual(['t1']);
      await push(s, v2.serialized);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ status: 'a' });
      expect(await groupIds(s, 'tasks', 'status:c')).toEqual([]);
      expect(await groupIds(s, 'tasks', 'status:a')).toEqual(['t1']);
      expect(await groupIds(s, 'tasks', 'status:b')).toEqual(['t2']);
    });
  });
}

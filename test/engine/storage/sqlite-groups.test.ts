/**
 * The SQLite storage's sync-group index: every row's groups and every
 * change's groups are kept in indexed tables, written with the row / change,
 * re-derived by a schema push that changes them, and read by group
 * (`scanGroupRows`, `changesInGroups`, `groupChangeAfter`). Long schema
 * changes run in chunks that let the event loop run.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { defineSchema, model, z } from '../../../src/schema/index.js';
import { planSchemaChange } from '../../../src/schema/plan.js';
import type { Storage } from '../../../src/engine/storage/types.js';
import { CHUNK_ROWS } from '../../../src/engine/storage/sqlite-groups.js';
import { change, push, T0, useTempStorage } from './helpers.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), projectId: z.string().optional(), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'project:{projectId}' }),
  pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
  notes: model({ body: z.string() }),
});

const t = useTempStorage();

async function ready(): Promise<Storage> {
  const s = await t.open();
  await s.applySchema(planSchemaChange(null, schema.serialized), schema.serialized);
  return s;
}

/** Write rows through a transaction like the pipeline does (row, then its change with the groups the schema gives). */
async function write(s: Storage, ops: Array<{ op: 'create' | 'update' | 'delete'; model: string; id: string; data?: Record<string, unknown> }>): Promise<void> {
  const compiled = (await import('../../../src/schema/compile.js')).compileSchema((await s.getSchema())!.serialized);
  await s.transaction(async (tx) => {
    for (const o of ops) {
      const m = compiled.model(o.model);
      const syncId = await tx.nextSyncId();
      if (o.op === 'create') {
        const row = { id: o.id, createdAt: T0, updatedAt: T0, syncId, ...Object.fromEntries(m.fieldNames.map((f) => [f, null])), ...o.data };
        await tx.insertRow(o.model, row);
        await tx.appendChange(change(syncId, o.model, o.id, { data: row, groups: m.syncGroups(row) }));
      } else {
        const before = (await tx.getRow(o.model, o.id))!;
        const prevGroups = m.syncGroups(before);
        if (o.op === 'delete') {
          await tx.deleteRow(o.model, o.id);
          await tx.appendChange(change(syncId, o.model, o.id, { action: 'delete', groups: prevGroups }));
        } else {
          await tx.updateRow(o.model, o.id, o.data!, { updatedAt: T0, syncId });
          const groups = m.syncGroups({ ...before, ...o.data });
          const moved = groups.join('\0') !== prevGroups.join('\0');
          await tx.appendChange(change(syncId, o.model, o.id, { action: 'update', fields: Object.keys(o.data!), groups, ...(moved ? { prevGroups } : {}) }));
        }
      }
    }
  });
}

const ids = async (s: Storage, model: string, group: string, after: string | null = null, limit = 1000) =>
  (await s.scanGroupRows(model, group, after, limit)).map((r) => r.id);

function groupTable(file: string): Array<[string, string, string]> {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(`SELECT grp, model, row_id FROM _ablo_row_groups ORDER BY grp, model, row_id`).raw(true).all() as Array<[string, string, string]>;
  } finally {
    db.close();
  }
}

describe('SQLite storage: row groups', () => {
  it('keeps each row in its groups through create, update and delete, and pages a group in id order', async () => {
    const s = await ready();
    await write(s, [
      { op: 'create', model: 'tasks', id: 't3', data: { title: 'c', projectId: 'a' } },
      { op: 'create', model: 'tasks', id: 't1', data: { title: 'a', projectId: 'a' } },
      { op: 'create', model: 'tasks', id: 't2', data: { title: 'b', projectId: 'b' } },
      { op: 'create', model: 'tasks', id: 't4', data: { title: 'd', projectId: 'a' } },
      { op: 'create', model: 'notes', id: 'n1', data: { body: 'x' } },
    ]);
    expect(await ids(s, 'tasks', 'project:a')).toEqual(['t1', 't3', 't4']);
    expect(await ids(s, 'tasks', 'project:a', null, 2)).toEqual(['t1', 't3']);
    expect(await ids(s, 'tasks', 'project:a', 't3', 2)).toEqual(['t4']);
    expect(await ids(s, 'tasks', 'project:b')).toEqual(['t2']);
    expect(await ids(s, 'notes', 'default')).toEqual(['n1']);
    expect(await ids(s, 'tasks', 'default')).toEqual([]);
    expect(await ids(s, 'tasks', 'project:')).toEqual([]);

    await write(s, [
      { op: 'update', model: 'tasks', id: 't1', data: { projectId: 'b' } },
      { op: 'update', model: 'tasks', id: 't3', data: { title: 'renamed' } },
      { op: 'delete', model: 'tasks', id: 't4' },
      { op: 'update', model: 'tasks', id: 't2', data: { projectId: null } },
    ]);
    expect(await ids(s, 'tasks', 'project:a')).toEqual(['t3']);
    expect(await ids(s, 'tasks', 'project:b')).toEqual(['t1']);
    // A null group field gives the group with an empty value, as the schema does.
    expect(await ids(s, 'tasks', 'project:')).toEqual(['t2']);
    expect((await s.scanGroupRows('tasks', 'project:a', null, 10))[0]).toMatchObject({ id: 't3', title: 'renamed', projectId: 'a' });
    expect(groupTable(t.file())).toEqual([
      ['default', 'notes', 'n1'],
      ['project:', 'tasks', 't2'],
      ['project:a', 'tasks', 't3'],
      ['project:b', 'tasks', 't1'],
    ]);
  });

  it('puts a row of a model with several templates in each of its groups', async () => {
    const s = await ready();
    await write(s, [
      { op: 'create', model: 'pins', id: 'p1', data: { boardId: 'x', ownerId: 'u' } },
      { op: 'create', model: 'pins', id: 'p2', data: { boardId: 'u', ownerId: 'u' } },
    ]);
    expect(await ids(s, 'pins', 'board:x')).toEqual(['p1']);
    expect(await ids(s, 'pins', 'owner:u')).toEqual(['p1', 'p2']);
    await write(s, [{ op: 'update', model: 'pins', id: 'p1', data: { ownerId: 'v' } }]);
    expect(await ids(s, 'pins', 'owner:u')).toEqual(['p2']);
    expect(await ids(s, 'pins', 'owner:v')).toEqual(['p1']);
    expect(await ids(s, 'pins', 'board:x')).toEqual(['p1']);
  });

  it('counts only the rows a group scan reads', async () => {
    const s = await ready();
    await write(
      s,
      Array.from({ length: 500 }, (_, i) => ({ op: 'create' as const, model: 'tasks', id: `t${i}`, data: { title: 't', projectId: i < 5 ? 'small' : 'big' } })),
    );
    const before = s.readStats().rowsRead;
    expect(await ids(s, 'tasks', 'project:small')).toHaveLength(5);
    expect(s.readStats().rowsRead - before).toBe(5);
  });
});

describe('SQLite storage: change groups', () => {
  it('reads one or several groups’ changes in order, each once, within (after, upTo], with prevGroups', async () => {
    const s = await ready();
    await s.transaction(async (tx) => {
      for (let id = 1; id <= 12; id++) await tx.nextSyncId();
      await tx.appendChange(change(1, 'tasks', 't1', { groups: ['project:a'] }));
      await tx.appendChange(change(2, 'tasks', 't2', { groups: ['project:b'] }));
      await tx.appendChange(change(3, 'tasks', 't1', { action: 'update', groups: ['project:b'], prevGroups: ['project:a'] }));
      await tx.appendChange(change(4, 'pins', 'p1', { groups: ['board:x', 'owner:u'] }));
      await tx.appendChange(change(5, 'notes', 'n1', { groups: ['default'] }));
      for (let id = 6; id <= 12; id++) await tx.appendChange(change(id, 'tasks', `o${id}`, { groups: ['project:other'] }));
    });
    const of = async (groups: string[], after = 0, upTo = 12, limit = 100) => (await s.changesInGroups(groups, after, upTo, limit)).map((c) => c.syncId);
    expect(await of(['project:a'])).toEqual([1, 3]);
    expect(await of(['project:b'])).toEqual([2, 3]);
    expect(await of(['project:a', 'project:b'])).toEqual([1, 2, 3]);
    expect(await of(['board:x', 'owner:u', 'default'])).toEqual([4, 5]);
    expect(await of(['project:a', 'project:b'], 1, 2)).toEqual([2]);
    expect(await of(['project:a', 'project:b', 'project:other'], 0, 12, 4)).toEqual([1, 2, 3, 6]);
    expect(await of(['project:a', 'project:b', 'project:other'], 6, 12, 4)).toEqual([7, 8, 9, 10]);
    expect(await of(['nothing'])).toEqual([]);
    const moved = (await s.changesInGroups(['project:a'], 1, 12, 10))[0]!;
    expect(moved).toMatchObject({ syncId: 3, groups: ['project:b'], prevGroups: ['project:a'] });
    await s.transaction(async (tx) => {
      expect((await tx.groupChangeAfter('project:a', 1))?.syncId).toBe(3);
      expect((await tx.groupChangeAfter('owner:u', 0))?.syncId).toBe(4);
      expect(await tx.groupChangeAfter('project:a', 3)).toBeNull();
    });
  });

  it('pages several sparse groups across a long log without missing or repeating any change', async () => {
    const s = await ready();
    const total = 20_000;
    const wanted: number[] = [];
    await s.transaction(async (tx) => {
      for (let i = 1; i <= total; i++) {
        const syncId = await tx.nextSyncId();
        // Rare hits for the two groups asked, a burst of them near the end.
        const g = i % 997 === 0 ? 'project:a' : i % 1499 === 0 || (i > 19_000 && i % 3 === 0) ? 'project:b' : `project:x${i % 50}`;
        if (g === 'project:a' || g === 'project:b') wanted.push(syncId);
        await tx.appendChange(change(syncId, 'tasks', `t${i}`, { groups: [g] }));
      }
    });
    const before = s.readStats().changesRead;
    const got: number[] = [];
    let after = 0;
    for (;;) {
      const page = await s.changesInGroups(['project:a', 'project:b'], after, total, 40);
      got.push(...page.map((c) => c.syncId));
      if (page.length < 40) break;
      after = page.at(-1)!.syncId;
    }
    expect(got).toEqual(wanted);
    expect(s.readStats().changesRead - before).toBe(wanted.length);
  });
});

describe('SQLite storage: a push re-derives the stored groups when they change', () => {
  it('a new syncGroupFormat, a field rename, a default filled into a group field, a model rename and a drop', async () => {
    const s = await ready();
    await write(s, [
      { op: 'create', model: 'tasks', id: 't1', data: { title: 'a', projectId: 'p1' } },
      { op: 'create', model: 'tasks', id: 't2', data: { title: 'b' } },
      { op: 'create', model: 'pins', id: 'p1', data: { boardId: 'x', ownerId: 'u' } },
      { op: 'create', model: 'notes', id: 'n1', data: { body: 'x' } },
    ]);
    expect(await ids(s, 'tasks', 'project:')).toEqual(['t2']);

    // 1. tasks grouped by title instead; projectId becomes required with a default (fills t2).
    const v2 = defineSchema({
      tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'title:{title}' }),
      pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
      notes: model({ body: z.string() }),
    });
    await push(s, v2.serialized);
    expect(await ids(s, 'tasks', 'title:a')).toEqual(['t1']);
    expect(await ids(s, 'tasks', 'project:p1')).toEqual([]);

    // 2. back to projects: the filled default shows in t2's group.
    const v3 = defineSchema({
      tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'project:{projectId}' }),
      pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
      notes: model({ body: z.string() }),
    });
    await push(s, v3.serialized);
    expect(await ids(s, 'tasks', 'project:none')).toEqual(['t2']);
    expect(await ids(s, 'tasks', 'project:p1')).toEqual(['t1']);

    // 3. rename pins → markers and boardId → board (the template follows the rename); drop notes.
    const v4 = defineSchema({
      tasks: model({ title: z.string(), projectId: z.string().default('none'), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'project:{projectId}' }),
      markers: model({ board: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{board}', 'owner:{ownerId}'] }),
    });
    await push(s, v4.serialized, { pins: 'markers', 'markers.boardId': 'markers.board' });
    expect(await ids(s, 'markers', 'board:x')).toEqual(['p1']);
    expect(await ids(s, 'markers', 'owner:u')).toEqual(['p1']);
    expect(groupTable(t.file()).filter(([, m]) => m !== 'tasks')).toEqual([
      ['board:x', 'markers', 'p1'],
      ['owner:u', 'markers', 'p1'],
    ]);
  });

  it('a format-1 file is backfilled when it is opened', async () => {
    const s = await ready();
    await write(s, [
      { op: 'create', model: 'tasks', id: 't1', data: { title: 'a', projectId: 'p1' } },
      { op: 'create', model: 'pins', id: 'p1', data: { boardId: 'x', ownerId: 'u' } },
      { op: 'update', model: 'tasks', id: 't1', data: { projectId: 'p2' } },
    ]);
    await s.close();
    const db = new Database(t.file());
    db.exec(`DROP TABLE _ablo_row_groups; DROP TABLE _ablo_change_groups; UPDATE _ablo_meta SET value = '1' WHERE key = 'storage_format';`);
    db.close();
    const reopened = await t.open();
    expect(await ids(reopened, 'tasks', 'project:p2')).toEqual(['t1']);
    expect(await ids(reopened, 'pins', 'owner:u')).toEqual(['p1']);
    expect((await reopened.changesInGroups(['project:p1'], 0, 3, 10)).map((c) => c.syncId)).toEqual([1, 3]);
    const check = new Database(t.file(), { readonly: true });
    expect(check.prepare(`SELECT value FROM _ablo_meta WHERE key = 'storage_format'`).pluck().get()).toBe('2');
    check.close();
  });
});

describe('SQLite storage: long schema changes run in chunks', () => {
  it('a type change on a table of many chunks lets the event loop run between chunks, and reads see the old state meanwhile', async () => {
    const s = await ready();
    const rows = CHUNK_ROWS * 10 + 500;
    await write(
      s,
      Array.from({ length: rows }, (_, i) => ({ op: 'create' as const, model: 'tasks', id: `t${String(i).padStart(6, '0')}`, data: { title: 't', projectId: 'p', n: i } })),
    );
    const next = defineSchema({
      tasks: model({ title: z.string(), projectId: z.string().optional(), n: z.string().default('0') }, {}, { syncGroupFormat: 'project:{projectId}' }),
      pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
      notes: model({ body: z.string() }),
    });
    // Counting a big table for the planner goes in id ranges too, and adds up.
    const stats = await s.collectStats((await s.getSchema())!.serialized);
    expect(stats.tasks).toMatchObject({ rows, fields: { title: { nonNull: rows }, projectId: { nonNull: rows }, n: { nonNull: rows } } });
    const plan = planSchemaChange((await s.getSchema())!.serialized, next.serialized, { stats });
    expect(plan.changes.map((c) => c.kind)).toContain('change_type');

    // Count event-loop turns while the push runs, and read a row from inside one of them.
    let turns = 0;
    let done = false;
    let seenDuring: unknown;
    const tick = (): void => {
      if (done) return;
      turns++;
      if (turns === 3) void s.getRow('tasks', 't000007').then((r) => (seenDuring = r?.n));
      setImmediate(tick);
    };
    setImmediate(tick);
    const applying = s.applySchema(plan, next.serialized).finally(() => (done = true));
    await applying;
    // Ten chunks of rows to copy: the loop ran between them.
    expect(turns).toBeGreaterThanOrEqual(10);
    expect(seenDuring).toBe(7);
    expect((await s.getRow('tasks', 't000007'))?.n).toBe('7');
  });
});

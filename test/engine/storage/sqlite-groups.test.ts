/**
 * The SQLite storage's sync-group index as tables: `_ablo_row_groups` holds
 * exactly each row's current groups (read through a separate connection), a
 * format-1 file is backfilled, and long schema changes run in chunks that let
 * the event loop run. What the group reads return (`scanGroupRows`,
 * `changesInGroups`, `groupChangeAfter`, re-derivation on a push) is in the
 * storage contract (contract/groups.ts, contract/schema.ts).
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

describe('SQLite storage: the row-group index table', () => {
  it('holds exactly each row’s current groups through create, update, delete, a model rename and a drop', async () => {
    const s = await ready();
    await write(s, [
      { op: 'create', model: 'tasks', id: 't3', data: { title: 'c', projectId: 'a' } },
      { op: 'create', model: 'tasks', id: 't1', data: { title: 'a', projectId: 'a' } },
      { op: 'create', model: 'tasks', id: 't2', data: { title: 'b', projectId: 'b' } },
      { op: 'create', model: 'tasks', id: 't4', data: { title: 'd', projectId: 'a' } },
      { op: 'create', model: 'notes', id: 'n1', data: { body: 'x' } },
      { op: 'create', model: 'pins', id: 'p1', data: { boardId: 'x', ownerId: 'u' } },
    ]);
    await write(s, [
      { op: 'update', model: 'tasks', id: 't1', data: { projectId: 'b' } },
      { op: 'update', model: 'tasks', id: 't3', data: { title: 'renamed' } },
      { op: 'delete', model: 'tasks', id: 't4' },
      { op: 'update', model: 'tasks', id: 't2', data: { projectId: null } },
    ]);
    expect(groupTable(t.file())).toEqual([
      ['board:x', 'pins', 'p1'],
      ['default', 'notes', 'n1'],
      ['owner:u', 'pins', 'p1'],
      ['project:', 'tasks', 't2'],
      ['project:a', 'tasks', 't3'],
      ['project:b', 'tasks', 't1'],
    ]);
    // Rename pins → markers (and boardId → board); drop notes.
    const next = defineSchema({
      tasks: model({ title: z.string(), projectId: z.string().optional(), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'project:{projectId}' }),
      markers: model({ board: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{board}', 'owner:{ownerId}'] }),
    });
    await push(s, next.serialized, { pins: 'markers', 'markers.boardId': 'markers.board' });
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
    expect(check.prepare(`SELECT value FROM _ablo_meta WHERE key = 'storage_format'`).pluck().get()).toBe('3');
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

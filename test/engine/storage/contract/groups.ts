/**
 * The group-filtered reads: `scanGroupRows` (bootstrap pages of one group's
 * rows), `changesInGroups` / `feed.afterInGroups` (catch-up) and the read
 * counters. Groups match exactly: the port has no prefix patterns, and a
 * group value is data (no wildcard, no substring match).
 */
import { describe, expect, it } from 'vitest';
import type { Operation } from '../../../../src/protocol/commit.js';
import type { Storage } from '../../../../src/engine/storage/types.js';
import { compileSchema } from '../../../../src/schema/compile.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import { change, commit, groupIds, T0, type ContractContext } from './harness.js';

export const groupSchema = defineSchema({
  tasks: model({ title: z.string(), projectId: z.string().optional(), n: z.number().int().default(0) }, {}, { syncGroupFormat: 'project:{projectId}' }),
  pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
  notes: model({ body: z.string() }),
});

const create = (model: string, id: string, data: Record<string, unknown>): Operation => ({ op: 'create', model, id, data });
const update = (model: string, id: string, data: Record<string, unknown>): Operation => ({ op: 'update', model, id, data });
const del = (model: string, id: string): Operation => ({ op: 'delete', model, id });

/** Write with the single-row primitives, each change with the groups the schema gives (as the engine's tools do). */
async function writePrimitives(s: Storage, ops: Operation[]): Promise<void> {
  const compiled = compileSchema((await s.getSchema())!.serialized);
  await s.transaction(async (tx) => {
    for (const o of ops) {
      const m = compiled.model(o.model);
      const syncId = await tx.nextSyncId();
      if (o.op === 'create') {
        const row = { id: o.id!, createdAt: T0, updatedAt: T0, syncId, ...Object.fromEntries(m.fieldNames.map((f) => [f, null])), ...o.data };
        await tx.insertRow(o.model, row);
        await tx.appendChange(change(syncId, o.model, o.id!, { data: row, groups: m.syncGroups(row) }));
        continue;
      }
      const before = (await tx.getRow(o.model, o.id))!;
      const prevGroups = m.syncGroups(before);
      if (o.op === 'delete') {
        await tx.deleteRow(o.model, o.id);
        await tx.appendChange(change(syncId, o.model, o.id, { action: 'delete', groups: prevGroups }));
      } else {
        await tx.updateRow(o.model, o.id, o.data, { updatedAt: T0, syncId });
        const groups = m.syncGroups({ ...before, ...o.data });
        const moved = groups.join('\0') !== prevGroups.join('\0');
        await tx.appendChange(change(syncId, o.model, o.id, { action: 'update', fields: Object.keys(o.data), groups, ...(moved ? { prevGroups } : {}) }));
      }
    }
  });
}

export function groupsContract(ctx: ContractContext): void {
  describe('group reads: scanGroupRows', () => {
    for (const via of ['the commit path (RowSink)', 'the single-row primitives'] as const) {
      it(`keeps each row in exactly its groups through create, update and delete, via ${via}, and pages a group in id order`, async () => {
        const s = await ctx.withSchema(groupSchema.serialized);
        const write = via === 'the single-row primitives' ? (ops: Operation[]) => writePrimitives(s, ops) : (ops: Operation[]) => commit(s, ops);
        await write([
          create('tasks', 't3', { title: 'c', projectId: 'a' }),
          create('tasks', 't1', { title: 'a', projectId: 'a' }),
          create('tasks', 't2', { title: 'b', projectId: 'b' }),
          create('tasks', 't4', { title: 'd', projectId: 'a' }),
          create('tasks', 'w1', { title: 'percent', projectId: 'a%' }),
          create('tasks', 'w2', { title: 'underscore', projectId: 'a_' }),
          create('tasks', 'w3', { title: 'astral', projectId: '😀 𝄞' }),
          create('tasks', 'w4', { title: 'quote', projectId: '"x"' }),
          create('notes', 'n1', { body: 'x' }),
        ]);
        expect(await groupIds(s, 'tasks', 'project:a')).toEqual(['t1', 't3', 't4']);
        expect(await groupIds(s, 'tasks', 'project:a', null, 2)).toEqual(['t1', 't3']);
        expect(await groupIds(s, 'tasks', 'project:a', 't3', 2)).toEqual(['t4']);
        expect(await groupIds(s, 'tasks', 'project:a', 't1', 0)).toEqual([]);
        // An id that is not in the group is a position.
        expect(await groupIds(s, 'tasks', 'project:a', 't2', 10)).toEqual(['t3', 't4']);
        expect(await groupIds(s, 'tasks', 'project:b')).toEqual(['t2']);
        expect(await groupIds(s, 'notes', 'default')).toEqual(['n1']);
        // Exact matches only: no default group for a grouped model, no prefix, no substring, no wildcard.
        expect(await groupIds(s, 'tasks', 'default')).toEqual([]);
        expect(await groupIds(s, 'tasks', 'project:')).toEqual([]);
        expect(await groupIds(s, 'tasks', 'project')).toEqual([]);
        expect(await groupIds(s, 'tasks', 'project:a%')).toEqual(['w1']);
        expect(await groupIds(s, 'tasks', 'project:a_')).toEqual(['w2']);
        expect(await groupIds(s, 'tasks', 'project:%')).toEqual([]);
        expect(await groupIds(s, 'tasks', 'project:😀 𝄞')).toEqual(['w3']);
        expect(await groupIds(s, 'tasks', 'project:"x"')).toEqual(['w4']);
        // Another model's group of the same name is not this model's.
        expect(await groupIds(s, 'notes', 'project:a')).toEqual([]);

        await write([
          update('tasks', 't1', { projectId: 'b' }),
          update('tasks', 't3', { title: 'renamed' }),
          del('tasks', 't4'),
          update('tasks', 't2', { projectId: null }),
        ]);
        expect(await groupIds(s, 'tasks', 'project:a')).toEqual(['t3']);
        expect(await groupIds(s, 'tasks', 'project:b')).toEqual(['t1']);
        // A null group field gives the group with an empty value, as the schema does.
        expect(await groupIds(s, 'tasks', 'project:')).toEqual(['t2']);
        const rows = await s.scanGroupRows('tasks', 'project:a', null, 10);
        expect(rows).toEqual([await s.getRow('tasks', 't3')]);
        expect(rows[0]).toMatchObject({ id: 't3', title: 'renamed', projectId: 'a' });
      });
    }

    it('puts a row of a model with several templates in each of its groups, and moves it out of the one an update leaves', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      await commit(s, [create('pins', 'p1', { boardId: 'x', ownerId: 'u' }), create('pins', 'p2', { boardId: 'u', ownerId: 'u' })]);
      expect(await groupIds(s, 'pins', 'board:x')).toEqual(['p1']);
      expect(await groupIds(s, 'pins', 'owner:u')).toEqual(['p1', 'p2']);
      expect(await groupIds(s, 'pins', 'board:u')).toEqual(['p2']);
      await commit(s, [update('pins', 'p1', { ownerId: 'v' })]);
      expect(await groupIds(s, 'pins', 'owner:u')).toEqual(['p2']);
      expect(await groupIds(s, 'pins', 'owner:v')).toEqual(['p1']);
      expect(await groupIds(s, 'pins', 'board:x')).toEqual(['p1']);
      const moved = (await s.changesAfter(2, 10))[0]!;
      expect(moved).toMatchObject({ groups: ['board:x', 'owner:v'], prevGroups: ['board:x', 'owner:u'] });
      await commit(s, [del('pins', 'p1')]);
      expect(await groupIds(s, 'pins', 'board:x')).toEqual([]);
      expect(await groupIds(s, 'pins', 'owner:v')).toEqual([]);
    });

    it('counts the rows scans read: a group scan reads only that group’s rows', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      await commit(
        s,
        Array.from({ length: 500 }, (_, i) => create('tasks', `t${i}`, { title: 't', projectId: i < 5 ? 'small' : 'big' })),
      );
      const before = s.readStats();
      expect(await groupIds(s, 'tasks', 'project:small')).toHaveLength(5);
      expect(s.readStats().rowsRead - before.rowsRead).toBe(5);
      expect(await s.scanRows('tasks', null, 20)).toHaveLength(20);
      expect(s.readStats().rowsRead - before.rowsRead).toBe(25);
      expect(s.readStats().changesRead).toBe(before.changesRead);
    });
  });

  describe('group reads: changesInGroups and feed.afterInGroups', () => {
    it('reads one or several groups’ changes in order, each once, within (after, upTo], at most limit, previous groups included', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      await s.transaction(async (tx) => {
        for (let id = 1; id <= 12; id++) await tx.nextSyncId();
        await tx.appendChange(change(1, 'tasks', 't1', { groups: ['project:a'] }));
        await tx.appendChange(change(2, 'tasks', 't2', { groups: ['project:b'] }));
        await tx.appendChange(change(3, 'tasks', 't1', { action: 'update', groups: ['project:b'], prevGroups: ['project:a'] }));
        await tx.appendChange(change(4, 'pins', 'p1', { groups: ['board:x', 'owner:u'] }));
        await tx.appendChange(change(5, 'notes', 'n1', { groups: ['default'] }));
        for (let id = 6; id <= 12; id++) await tx.appendChange(change(id, 'tasks', `o${id}`, { groups: ['project:other'] }));
      });
      const of = async (groups: string[], after = 0, upTo = 12, limit = 100) => {
        const fromStorage = (await s.changesInGroups(groups, after, upTo, limit)).map((c) => c.syncId);
        // The feed's read is the same read.
        expect((await s.feed.afterInGroups(groups, after, upTo, limit)).map((c) => c.syncId)).toEqual(fromStorage);
        return fromStorage;
      };
      expect(await of(['project:a'])).toEqual([1, 3]);
      expect(await of(['project:b'])).toEqual([2, 3]);
      expect(await of(['project:a', 'project:b'])).toEqual([1, 2, 3]);
      expect(await of(['project:a', 'project:a'])).toEqual([1, 3]);
      // A change in two of the groups asked comes once.
      expect(await of(['board:x', 'owner:u', 'default'])).toEqual([4, 5]);
      expect(await of(['project:a', 'project:b'], 1, 2)).toEqual([2]);
      expect(await of(['project:a', 'project:b', 'project:other'], 0, 12, 4)).toEqual([1, 2, 3, 6]);
      expect(await of(['project:a', 'project:b', 'project:other'], 6, 12, 4)).toEqual([7, 8, 9, 10]);
      expect(await of(['project:other'], 6, 9)).toEqual([7, 8, 9]);
      expect(await of(['project:other'], 0, 100, 2)).toEqual([6, 7]);
      expect(await of(['nothing'])).toEqual([]);
      expect(await of(['project'])).toEqual([]);
      expect(await of([])).toEqual([]);
      expect(await of(['project:a'], 3, 3)).toEqual([]);
      expect(await of(['project:a'], 5, 2)).toEqual([]);
      expect(await of(['project:a'], 0, 12, 0)).toEqual([]);
      const moved = (await s.changesInGroups(['project:a'], 1, 12, 10))[0]!;
      expect(moved).toEqual(change(3, 'tasks', 't1', { action: 'update', groups: ['project:b'], prevGroups: ['project:a'] }));
      expect((await s.changesInGroups(['project:a'], 0, 12, 10))[0]).not.toHaveProperty('prevGroups');
    });

    it('pages several sparse groups across a long log without missing or repeating a change, reading only those changes', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
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
      // One group, paged up to a head below the end.
      const upTo = 15_000;
      const one: number[] = [];
      after = 0;
      for (;;) {
        const page = await s.feed.afterInGroups(['project:a'], after, upTo, 3);
        one.push(...page.map((c) => c.syncId));
        if (page.length < 3) break;
        after = page.at(-1)!.syncId;
      }
      expect(one).toEqual(wanted.filter((id) => id % 997 === 0 && id <= upTo));
    });
  });
}

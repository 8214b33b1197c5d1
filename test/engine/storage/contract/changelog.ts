/**
 * The change log: entries stored and read back whole, in sync-id order with
 * no gap, `changesAfter` / `feed.after` paging, and the commit path's reads
 * of it (`rowChangesAfter`, `groupChangeAfter`).
 */
import { describe, expect, it } from 'vitest';
import type { ParticipantRef } from '../../../../src/protocol/commit.js';
import { change, commit, expectGapFreeLog, range, wholeLog, type ContractContext } from './harness.js';
import { groupSchema } from './groups.js';

export function changeLogContract(ctx: ContractContext): void {
  describe('change log', () => {
    it('stores each change whole: who, which commit, when, the fields, the row after it, groups and previous groups', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      const agent: ParticipantRef = { kind: 'agent', id: 'bot 😀' };
      const system: ParticipantRef = { kind: 'system', id: 'importer' };
      const a = await commit(s, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'one', projectId: 'a' } }], {
        participant: agent,
        idempotencyKey: 'key-1',
        now: new Date('2024-05-01T10:00:00.000Z'),
      });
      const b = await commit(
        s,
        [
          { op: 'update', model: 'tasks', id: 't1', data: { projectId: 'b' } },
          { op: 'create', model: 'notes', id: 'n1', data: { body: 'x' } },
          { op: 'delete', model: 'tasks', id: 't1' },
        ],
        { participant: system, now: new Date('2024-05-02T10:00:00.000Z') },
      );
      const log = await s.changesAfter(0, 100);
      // What the sink returned is what the log holds.
      expect(log).toEqual([...a.changes, ...b.changes]);
      expect(log.map((c) => [c.syncId, c.action, c.model, c.id])).toEqual([
        [1, 'create', 'tasks', 't1'],
        [2, 'update', 'tasks', 't1'],
        [3, 'create', 'notes', 'n1'],
        [4, 'delete', 'tasks', 't1'],
      ]);
      // A create writes every field, a delete names every field (in any order).
      expect([...log[0]!.fields].sort()).toEqual(['n', 'projectId', 'title']);
      expect([...log[3]!.fields].sort()).toEqual(['n', 'projectId', 'title']);
      expect(log[0]).toEqual({
        syncId: 1,
        model: 'tasks',
        id: 't1',
        action: 'create',
        fields: log[0]!.fields,
        data: { id: 't1', createdAt: '2024-05-01T10:00:00.000Z', updatedAt: '2024-05-01T10:00:00.000Z', syncId: 1, title: 'one', projectId: 'a', n: 0 },
        groups: ['project:a'],
        participant: agent,
        clientTxId: 'key-1',
        at: '2024-05-01T10:00:00.000Z',
        commitId: a.receipt.id,
      });
      expect(log[1]).toMatchObject({ fields: ['projectId'], groups: ['project:b'], prevGroups: ['project:a'], participant: system, commitId: b.receipt.id });
      expect(log[1]!.data).toMatchObject({ syncId: 2, projectId: 'b', updatedAt: '2024-05-02T10:00:00.000Z', createdAt: '2024-05-01T10:00:00.000Z' });
      expect(log[1]!.clientTxId).toBe(b.receipt.clientTxId);
      expect(log[2]).not.toHaveProperty('prevGroups');
      expect(log[3]).toMatchObject({ data: null, groups: ['project:b'] });
      expect(new Set(log.slice(1).map((c) => c.commitId))).toEqual(new Set([b.receipt.id]));
      // Entries appended with the primitive keep a null clientTxId and every participant kind.
      await s.transaction(async (tx) => {
        await tx.appendChange(change(5, 'notes', 'n1', { action: 'update', fields: ['body'], participant: { kind: 'user', id: 'u' }, clientTxId: null }));
      });
      expect((await s.changesAfter(4, 10))[0]).toEqual(change(5, 'notes', 'n1', { action: 'update', fields: ['body'], participant: { kind: 'user', id: 'u' } }));
    });

    it('is in sync-id order with no gap; changesAfter and feed.after page it by afterSyncId and limit', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      expect(await s.lastSyncId()).toBe(0);
      expect(await s.changesAfter(0, 10)).toEqual([]);
      expect(await s.changeLogFloor()).toBe(0);
      for (let i = 0; i < 30; i++) {
        const ops = range(1 + (i % 4)).map((j) => ({ op: 'create' as const, model: 'notes', id: `n${i}_${j}`, data: { body: `${i}` } }));
        if (i % 5 === 2) {
          // A failed commit in between takes no sync id.
          await expect(commit(s, [...ops, { op: 'update', model: 'notes', id: 'missing', data: { body: 'x' } }])).rejects.toMatchObject({ code: 'row_not_found' });
        } else await commit(s, ops);
      }
      const log = await expectGapFreeLog(s);
      const last = await s.lastSyncId();
      expect(last).toBeGreaterThan(40);
      for (const limit of [1, 3, 7, 100]) {
        const paged: number[] = [];
        let after = 0;
        for (;;) {
          const page = await s.changesAfter(after, limit);
          expect(page.length).toBeLessThanOrEqual(limit);
          expect(await s.feed.after(after, limit)).toEqual(page);
          paged.push(...page.map((c) => c.syncId));
          if (page.length < limit) break;
          after = page.at(-1)!.syncId;
        }
        expect(paged).toEqual(range(last));
      }
      expect((await s.changesAfter(10, 5)).map((c) => c.syncId)).toEqual([11, 12, 13, 14, 15]);
      expect(await s.changesAfter(last, 10)).toEqual([]);
      expect(await s.changesAfter(last + 100, 10)).toEqual([]);
      expect(await s.changesAfter(0, 0)).toEqual([]);
      expect(await wholeLog(s, 1000)).toEqual(log);
      // Inside a transaction, the head is the committed head.
      await s.transaction(async (tx) => expect(await tx.headSyncId()).toBe(last));
    });

    it('finds later changes to a row and to a group (current or previous groups) for the commit path', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
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
        await tx.appendChange(change(4, 'notes', 't1', { groups: ['project:c'] }));
        await tx.appendChange(change(5, 'tasks', 't1', { action: 'delete', fields: ['title', 'projectId'], groups: ['project:"x"'] }));

        // The transaction reads its own appends.
        expect(await tx.rowChangesAfter('tasks', 't1', 0)).toEqual([
          { syncId: 1, action: 'create', fields: ['title', 'projectId'], participant: { kind: 'user', id: 'u1' } },
          { syncId: 3, action: 'update', fields: ['projectId'], participant: { kind: 'agent', id: 'bot' } },
          { syncId: 5, action: 'delete', fields: ['title', 'projectId'], participant: { kind: 'user', id: 'u1' } },
        ]);
        expect((await tx.rowChangesAfter('tasks', 't1', 3)).map((c) => c.syncId)).toEqual([5]);
        expect(await tx.rowChangesAfter('tasks', 't1', 5)).toEqual([]);
        // Same id, other model: another row.
        expect((await tx.rowChangesAfter('notes', 't1', 0)).map((c) => c.syncId)).toEqual([4]);

        expect((await tx.groupChangeAfter('project:a', 0))?.syncId).toBe(1);
        // Change 3 moved t1 out of project:a: it counts for project:a through prevGroups.
        const moved = await tx.groupChangeAfter('project:a', 1);
        expect(moved).toMatchObject({ syncId: 3, prevGroups: ['project:a'], groups: ['project:b'], clientTxId: 'ctx', commitId: 'c3' });
        expect(await tx.groupChangeAfter('project:a', 3)).toBeNull();
        expect((await tx.groupChangeAfter('project:b', 2))?.syncId).toBe(3);
        expect((await tx.groupChangeAfter('project:"x"', 0))?.syncId).toBe(5);
        // A prefix or substring of a group is not a match.
        expect(await tx.groupChangeAfter('project', 0)).toBeNull();
        expect(await tx.groupChangeAfter('project:', 0)).toBeNull();
      });
      const all = await s.changesAfter(0, 10);
      expect(all.map((c) => c.syncId)).toEqual([1, 2, 3, 4, 5]);
      expect(all[0]).toEqual(change(1, 'tasks', 't1', { groups: ['project:a'], fields: ['title', 'projectId'] }));
      expect(all[0]).not.toHaveProperty('prevGroups');
      expect((await s.changesAfter(2, 2)).map((c) => c.syncId)).toEqual([3, 4]);
      // Committed, they read the same from a later transaction.
      await s.transaction(async (tx) => {
        expect((await tx.rowChangesAfter('tasks', 't1', 0)).map((c) => c.syncId)).toEqual([1, 3, 5]);
        expect((await tx.groupChangeAfter('project:a', 1))?.syncId).toBe(3);
      });
    });
  });
}

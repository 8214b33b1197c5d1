/**
 * Open and close: everything the storage holds survives a close and a new
 * instance opened on the same data (a restart); a closed storage refuses work.
 */
import { describe, expect, it } from 'vitest';
import type { Storage } from '../../../../src/engine/storage/types.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import { commit, commitIn, deferred, expectGapFreeLog, groupIds, push, recordFeed, T0, type ContractContext } from './harness.js';
import { KIND_ROWS, kindsSchema } from './rows.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), done: z.boolean().default(false), tags: z.array(z.string()).default([]), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
});

/** Everything readable through the port, to compare before and after a restart. */
async function snapshot(s: Storage) {
  const schemaRecord = await s.getSchema();
  const models = Object.keys(schemaRecord?.serialized.models ?? {});
  const rows: Record<string, unknown> = {};
  for (const m of models) rows[m] = await s.scanRows(m, null, 10_000);
  return {
    schema: schemaRecord,
    rows,
    log: await s.changesAfter(0, 10_000),
    lastSyncId: await s.lastSyncId(),
    head: s.feed.head(),
    floor: await s.changeLogFloor(),
    keys: await s.listApiKeys(),
    keyCount: await s.countApiKeys(),
  };
}

export function lifecycleContract(ctx: ContractContext): void {
  describe('open, close and restart', () => {
    it('keeps rows, change log, sync ids, schema, groups, idempotency records and keys across close and reopen', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const first = await commit(s, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'persist', done: true, tags: ['x'], boardId: 'a' } }], {
        idempotencyKey: 'k1',
      });
      await commit(s, [
        { op: 'update', model: 'tasks', id: 't1', data: { boardId: 'b' } },
        { op: 'create', model: 'tasks', id: 't2', data: { title: 'two', boardId: 'a' } },
      ]);
      await s.insertApiKey({ id: 'k1', name: 'dev', prefix: 'sk_', hash: 'h1', createdAt: T0, revokedAt: null, participant: { kind: 'system', id: 'dev' }, kind: 'secret', groups: null, operations: null });
      await s.insertApiKey({ id: 'k2', name: 'old', prefix: 'sk_', hash: 'h2', createdAt: T0, revokedAt: null, participant: { kind: 'agent', id: 'a' }, kind: 'secret', groups: null, operations: null });
      await s.revokeApiKey('k2', '2024-02-01T00:00:00.000Z');
      const before = await snapshot(s);
      expect(before.lastSyncId).toBe(3);

      const again = await ctx.restart(s);
      // Read counters start again with the instance.
      expect(again.readStats()).toEqual({ rowsRead: 0, changesRead: 0 });
      expect(await snapshot(again)).toEqual(before);
      expect(await groupIds(again, 'tasks', 'board:b')).toEqual(['t1']);
      expect(await groupIds(again, 'tasks', 'board:a')).toEqual(['t2']);
      expect((await again.changesInGroups(['board:a'], 0, 3, 10)).map((c) => c.syncId)).toEqual([1, 2, 3]);
      expect(await again.findApiKeyByHash('h1')).toMatchObject({ id: 'k1', revokedAt: null });
      expect(await again.findApiKeyByHash('h2')).toMatchObject({ id: 'k2', revokedAt: '2024-02-01T00:00:00.000Z' });
      await again.transaction(async (tx) => {
        expect(await tx.headSyncId()).toBe(3);
        expect(await tx.getIdempotency('k1')).toMatchObject({ receipt: first.receipt });
        expect((await tx.rowChangesAfter('tasks', 't1', 0)).map((c) => c.syncId)).toEqual([1, 2]);
        expect((await tx.groupChangeAfter('board:a', 1))?.syncId).toBe(2);
      });
      // Allocation goes on from the log: no id is handed out twice.
      const feed = recordFeed(again);
      const next = await commit(again, [{ op: 'create', model: 'tasks', id: 't3', data: { title: 'next', boardId: 'c' } }]);
      expect(next.changes.map((c) => c.syncId)).toEqual([4]);
      expect(feed.ids()).toEqual([[4]]);
      expect(await again.getRow('tasks', 't3')).toMatchObject({ syncId: 4 });
      // Schema pushes go on from the stored version.
      const v2 = defineSchema({
        tasks: model({ title: z.string(), done: z.boolean().default(false), tags: z.array(z.string()).default([]), boardId: z.string(), note: z.string().optional() }, {}, {
          syncGroupFormat: 'board:{boardId}',
        }),
      });
      expect((await push(again, v2.serialized)).version).toBe(2);
      await expectGapFreeLog(again);

      // And once more, after the push.
      const third = await ctx.restart(again);
      expect((await third.getSchema())?.version).toBe(2);
      expect(await third.getRow('tasks', 't1')).toMatchObject({ title: 'persist', done: true, tags: ['x'], boardId: 'b', note: null, syncId: 2 });
      expect(await third.lastSyncId()).toBe(4);
    });

    it('every field kind reads back the same after a restart', async () => {
      const s = await ctx.withSchema(kindsSchema.serialized);
      await commit(
        s,
        KIND_ROWS.map(({ id, ...data }) => ({ op: 'create' as const, model: 'kinds', id, data })),
      );
      const before = await s.scanRows('kinds', null, 100);
      const log = await s.changesAfter(0, 100);
      const again = await ctx.restart(s);
      expect(await again.scanRows('kinds', null, 100)).toEqual(before);
      expect(await again.changesAfter(0, 100)).toEqual(log);
      for (const r of KIND_ROWS) expect((await again.getRow('kinds', r.id))!).toMatchObject(r);
    });

    it('a closed storage refuses reads and transactions; close is idempotent; a restart on empty data starts empty', async () => {
      const s = await ctx.fresh();
      const again = await ctx.restart(s);
      expect(await again.getSchema()).toBeNull();
      expect(await again.lastSyncId()).toBe(0);
      expect(again.feed.head()).toBe(0);
      expect(await again.countApiKeys()).toBe(0);
      await push(again, schema.serialized);
      await again.close();
      await again.close();
      await expect(again.getRow('tasks', 't1')).rejects.toMatchObject({ code: 'storage_closed' });
      await expect(again.listRows('tasks', { limit: 1 })).rejects.toMatchObject({ code: 'storage_closed' });
      await expect(again.changesAfter(0, 1)).rejects.toMatchObject({ code: 'storage_closed' });
      await expect(again.transaction(async () => 1)).rejects.toMatchObject({ code: 'storage_closed' });
      await expect(again.countApiKeys()).rejects.toMatchObject({ code: 'storage_closed' });
    });

    it('close waits for a transaction that is running, which commits', async () => {
      const s = await ctx.withSchema(schema.serialized);
      let closed = false;
      const entered = deferred();
      const gate = deferred();
      const tx = s.transaction(async (t) => {
        entered.resolve();
        await gate.promise;
        const out = await commitIn(t, s, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'during close', boardId: 'a' } }]);
        expect(closed).toBe(false);
        return out;
      });
      await entered.promise;
      const closing = s.close().then(() => (closed = true));
      gate.resolve();
      expect((await tx).changes.map((c) => c.syncId)).toEqual([1]);
      await closing;
      const again = await ctx.restart(s);
      expect(await again.getRow('tasks', 't1')).toMatchObject({ title: 'during close' });
      expect(await again.lastSyncId()).toBe(1);
    });
  });
}

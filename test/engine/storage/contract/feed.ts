/**
 * The ChangeFeed (`storage.feed`): each durable transaction announced once,
 * after its commit and before `transaction()` resolves, in sync-id order;
 * nothing for what was rolled back; `head()`; listener isolation.
 */
import { describe, expect, it } from 'vitest';
import type { ChangeBatch, StoredRow } from '../../../../src/engine/storage/types.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import { change, commit, insertIn, insertRows, push, recordFeed, type ContractContext } from './harness.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
});

export function feedContract(ctx: ContractContext): void {
  describe('ChangeFeed', () => {
    it('announces each durable transaction once, in sync-id order, before transaction() resolves; head() follows', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const batches: ChangeBatch[] = [];
      const readInListener: Array<Promise<StoredRow | null>> = [];
      s.feed.subscribe((b) => {
        batches.push(b);
        // What is announced is durable: a read issued from the listener sees it.
        readInListener.push(s.getRow('tasks', b.changes[0]!.id));
      });
      expect(s.feed.head()).toBe(0);
      const seenWhileOpen = await s.transaction(async (tx) => {
        await insertIn(tx, 'tasks', 't1', { title: 'one', boardId: 'a' }, ['board:a']);
        await insertIn(tx, 'tasks', 't2', { title: 'two', boardId: 'a' }, ['board:a']);
        // Nothing is announced while the transaction is open.
        expect(batches).toEqual([]);
        expect(s.feed.head()).toBe(0);
        return batches.length;
      });
      expect(seenWhileOpen).toBe(0);
      expect(batches.map((b) => b.changes.map((c) => c.syncId))).toEqual([[1, 2]]);
      expect(batches[0]!.lastSyncId).toBe(2);
      expect(s.feed.head()).toBe(2);
      expect(await s.lastSyncId()).toBe(2);
      const outcome = await commit(s, [{ op: 'create', model: 'tasks', id: 't3', data: { title: 'three', boardId: 'b' } }]);
      expect(batches.map((b) => b.lastSyncId)).toEqual([2, 3]);
      expect(s.feed.head()).toBe(3);
      // The announced records are the log's records.
      expect(batches.flatMap((b) => b.changes)).toEqual(await s.changesAfter(0, 10));
      expect(batches[1]!.changes).toEqual(outcome.changes);
      expect((await s.feed.after(1, 10)).map((c) => c.syncId)).toEqual([2, 3]);
      expect((await s.feed.afterInGroups(['board:b'], 0, 3, 10)).map((c) => c.id)).toEqual(['t3']);
      expect((await Promise.all(readInListener)).map((r) => r?.id)).toEqual(['t1', 't3']);
    });

    it('announces the transaction before transaction() resolves', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const feed = recordFeed(s);
      const result = s.transaction((tx) => insertIn(tx, 'tasks', 't1', { title: 'one', boardId: 'a' }, ['board:a'])).then(() => feed.ids());
      expect(await result).toEqual([[1]]);
    });

    it('never announces a rolled-back savepoint, a failed transaction, a transaction that wrote nothing, a replay or a schema push', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const feed = recordFeed(s);
      await s.transaction(async (tx) => {
        await tx.savepoint(() => insertIn(tx, 'tasks', 'kept', { title: 'k', boardId: 'a' }));
        await tx
          .savepoint(() => insertIn(tx, 'tasks', 'undone', { title: 'u', boardId: 'a' }).then(() => Promise.reject(new Error('no'))))
          .catch(() => undefined);
      });
      await expect(
        s.transaction(async (tx) => {
          await insertIn(tx, 'tasks', 'failed', { title: 'f', boardId: 'a' });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      await s.transaction(async (tx) => {
        await tx.putIdempotency('k', { requestHash: 'h', receipt: { object: 'commit', id: 'c', clientTxId: 'k', status: 'held', lastSyncId: 1, results: [] } });
      });
      await s.transaction(async () => undefined);
      await commit(s, [{ op: 'create', model: 'tasks', id: 'once', data: { title: 'o', boardId: 'a' } }], { idempotencyKey: 'once' });
      await commit(s, [{ op: 'create', model: 'tasks', id: 'once', data: { title: 'o', boardId: 'a' } }], { idempotencyKey: 'once' });
      await push(s, defineSchema({ tasks: model({ title: z.string(), boardId: z.string(), done: z.boolean().default(false) }, {}, { syncGroupFormat: 'board:{boardId}' }) }).serialized);
      expect(feed.batches.map((b) => b.changes.map((c) => c.id))).toEqual([['kept'], ['once']]);
      expect(feed.ids()).toEqual([[1], [2]]);
      expect(s.feed.head()).toBe(2);
    });

    it('calls listeners in subscription order; one that throws does not stop the others; unsubscribe stops one; a listener may start a transaction', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const seen: string[] = [];
      s.feed.subscribe(() => {
        throw new Error('bad listener');
      });
      const off = s.feed.subscribe((b) => seen.push(`a${b.lastSyncId}`));
      let follow: Promise<unknown> | null = null;
      s.feed.subscribe((b) => {
        seen.push(`b${b.lastSyncId}`);
        // Runs outside the announcing transaction: not refused as a nested one.
        if (b.lastSyncId === 1) follow = s.transaction((tx) => tx.appendChange(change(2, 'tasks', 'x', { groups: ['board:a'] })));
      });
      await insertRows(s, 'tasks', [{ id: 't1', title: 'one', boardId: 'a' }]);
      await follow;
      off();
      off();
      await insertRows(s, 'tasks', [{ id: 't3', title: 'three', boardId: 'a' }]);
      expect(seen).toEqual(['a1', 'b1', 'a2', 'b2', 'b3']);
      expect(s.feed.head()).toBe(3);
    });

    it('starts from the log head when the data is opened again', async () => {
      const s = await ctx.withSchema(schema.serialized);
      await insertRows(s, 'tasks', [
        { id: 't1', title: 'one', boardId: 'a' },
        { id: 't2', title: 'two', boardId: 'a' },
      ]);
      const again = await ctx.restart(s);
      expect(again.feed.head()).toBe(2);
      expect(await again.lastSyncId()).toBe(2);
      const feed = recordFeed(again);
      await insertRows(again, 'tasks', [{ id: 't3', title: 'three', boardId: 'a' }]);
      expect(feed.ids()).toEqual([[3]]);
      expect(again.feed.head()).toBe(3);
    });
  });
}

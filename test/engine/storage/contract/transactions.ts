/**
 * Transactions: sync ids allocated by the storage inside the transaction
 * (strictly increasing, gap-free across committed transactions, nothing left
 * by a rollback), savepoints (a failed one undoes its rows, changes,
 * idempotency and sync ids; the transaction goes on), idempotency records and
 * replays, isolation of uncommitted writes, and misuse refused.
 */
import { describe, expect, it } from 'vitest';
import type { CommitReceipt } from '../../../../src/protocol/commit.js';
import { AbloIdempotencyError, AbloServerError } from '../../../../src/errors.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import type { StorageTx } from '../../../../src/engine/storage/types.js';
import { change, commit, commitIn, expectGapFreeLog, groupIds, insertIn, insertRows, plannedCreate, recordFeed, T0, type ContractContext } from './harness.js';

const schema = defineSchema({
  projects: model({ name: z.string() }),
  tasks: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
});

const receipt = (id: string, lastSyncId = 1): CommitReceipt => ({ object: 'commit', id, clientTxId: id, status: 'committed', lastSyncId, results: [] });

export function transactionsContract(ctx: ContractContext): void {
  describe('transactions: sync ids', () => {
    it('allocates strictly increasing, gap-free sync ids across transactions; a rolled-back transaction leaves no gap', async () => {
      const s = await ctx.withSchema(schema.serialized);
      expect(await s.lastSyncId()).toBe(0);
      await insertRows(s, 'projects', [
        { id: 'p1', name: 'a' },
        { id: 'p2', name: 'b' },
      ]);
      expect(await s.lastSyncId()).toBe(2);

      await expect(
        s.transaction(async (tx) => {
          await insertIn(tx, 'projects', 'p3', { name: 'c' });
          await insertIn(tx, 'projects', 'p4', { name: 'd' });
          // The transaction sees its own allocations; nobody else does.
          expect(await tx.headSyncId()).toBe(4);
          expect(await s.lastSyncId()).toBe(2);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await s.lastSyncId()).toBe(2);
      expect(await s.getRow('projects', 'p3')).toBeNull();

      // A failed commit through the commit path leaves no gap either.
      await expect(
        s.transaction(async (tx) => {
          await commitIn(tx, s, [{ op: 'create', model: 'projects', id: 'p5', data: { name: 'e' } }]);
          throw new Error('after the commit, before COMMIT');
        }),
      ).rejects.toThrow();
      await insertRows(s, 'projects', [{ id: 'p6', name: 'f' }]);
      expect((await s.changesAfter(0, 100)).map((c) => c.syncId)).toEqual([1, 2, 3]);
      expect(await s.getRow('projects', 'p6')).toMatchObject({ syncId: 3 });
      expect(await s.lastSyncId()).toBe(3);

      // nextSyncId, headSyncId and the sink agree, inside one transaction.
      const seen = await s.transaction(async (tx) => {
        const head = await tx.headSyncId();
        const next = await tx.nextSyncId();
        await tx.appendChange(change(next, 'projects', 'p6', { action: 'update' }));
        const written = await tx.write([plannedCreate('tasks', { id: 't1', title: 'x', boardId: 'a' }, ['board:a'])]);
        return [head, next, written[0]!.syncId, await tx.headSyncId()];
      });
      expect(seen).toEqual([3, 4, 5, 5]);
      await expectGapFreeLog(s);
    });

    it('goes on from the highest id in the log (allocation reads the log inside the transaction)', async () => {
      const s = await ctx.withSchema(schema.serialized);
      await insertRows(s, 'projects', [{ id: 'p1', name: 'one' }]);
      // An entry appended with an id of its own (as another writer of a shared database would have).
      await s.transaction((tx) => tx.appendChange(change(10, 'projects', 'elsewhere', { participant: { kind: 'system', id: 'other' } })));
      expect(await s.lastSyncId()).toBe(10);
      const written = await s.transaction((tx) => tx.write([plannedCreate('tasks', { id: 't2', title: 'two', boardId: 'a' }, ['board:a'])]));
      expect(written[0]!.syncId).toBe(11);
      const seeded = await s.transaction((tx) => insertIn(tx, 'projects', 'p3', { name: 'three' }));
      expect(seeded.syncId).toBe(12);
      expect((await s.changesAfter(0, 10)).map((c) => c.syncId)).toEqual([1, 10, 11, 12]);
    });

    it('RowSink.write writes planned creates, updates and deletes with consecutive sync ids: the rows, the log and the groups', async () => {
      const s = await ctx.withSchema(schema.serialized);
      await commit(s, [{ op: 'create', model: 'tasks', id: 'old', data: { title: 'old', boardId: 'a' } }]);
      const base = { participant: { kind: 'user' as const, id: 'u1' }, clientTxId: 'tx_1', commitId: 'cmt_1', at: T0 };
      const written = await s.transaction(async (tx) => {
        const moved = { id: 'old', createdAt: T0, updatedAt: '2024-02-01T00:00:00.000Z', syncId: 0, title: 'old', boardId: 'b' };
        return tx.write([
          plannedCreate('tasks', { id: 't1', title: 't1', boardId: 'a' }, ['board:a']),
          { ...base, model: 'tasks', id: 'old', action: 'update', fields: ['boardId'], data: moved, patch: { boardId: 'b' }, groups: ['board:b'], prevGroups: ['board:a'] },
          plannedCreate('tasks', { id: 't2', title: 't2', boardId: 'a' }, ['board:a']),
          { ...base, model: 'tasks', id: 't2', action: 'delete', fields: ['title', 'boardId'], data: null, groups: ['board:a'] },
        ]);
      });
      expect(written.map((c) => [c.syncId, c.action, c.id])).toEqual([
        [2, 'create', 't1'],
        [3, 'update', 'old'],
        [4, 'create', 't2'],
        [5, 'delete', 't2'],
      ]);
      // The row in each change carries its sync id.
      expect(written[0]!.data).toMatchObject({ id: 't1', syncId: 2 });
      expect(written[1]!.data).toMatchObject({ id: 'old', boardId: 'b', syncId: 3 });
      expect(written[1]!.prevGroups).toEqual(['board:a']);
      expect(written[0]).not.toHaveProperty('prevGroups');
      expect(await s.getRow('tasks', 'old')).toMatchObject({ boardId: 'b', syncId: 3, updatedAt: '2024-02-01T00:00:00.000Z', createdAt: T0 });
      expect(await s.getRow('tasks', 't2')).toBeNull();
      expect(await s.changesAfter(1, 10)).toEqual(written);
      expect(await groupIds(s, 'tasks', 'board:a')).toEqual(['t1']);
      expect(await groupIds(s, 'tasks', 'board:b')).toEqual(['old']);
      expect(await s.lastSyncId()).toBe(5);
      // Nothing planned, nothing written.
      expect(await s.transaction((tx) => tx.write([]))).toEqual([]);
      expect(await s.lastSyncId()).toBe(5);
    });
  });

  describe('transactions: savepoints', () => {
    it('undoes a failed savepoint (rows, changes, idempotency, sync ids) and keeps the others; nested savepoints', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const outcome = await s.transaction(async (tx) => {
        const a = await tx.savepoint(async () => {
          await insertIn(tx, 'projects', 'pa', { name: 'a' });
          await tx.putIdempotency('ka', { requestHash: 'h', receipt: receipt('a') });
          return 'a';
        });
        const b = await tx
          .savepoint(async () => {
            await insertIn(tx, 'projects', 'pb', { name: 'b' });
            await tx.putIdempotency('kb', { requestHash: 'h', receipt: receipt('b') });
            throw new Error('b failed');
          })
          .catch((e: Error) => e.message);
        expect(await tx.getRow('projects', 'pb')).toBeNull();
        expect(await tx.getIdempotency('kb')).toBeNull();
        expect(await tx.headSyncId()).toBe(1);
        // The id allocated inside the failed savepoint is handed out again.
        const c = await tx.savepoint(async () => (await insertIn(tx, 'projects', 'pc', { name: 'c' })).syncId);
        // Nested savepoints: the inner one fails, the outer one keeps its own writes.
        const d = await tx.savepoint(async () => {
          await insertIn(tx, 'projects', 'pd', { name: 'd' });
          await tx
            .savepoint(async () => {
              await insertIn(tx, 'projects', 'pe', { name: 'e' });
              throw new Error('inner');
            })
            .catch(() => undefined);
          expect(await tx.getRow('projects', 'pe')).toBeNull();
          return 'd';
        });
        // An outer savepoint that fails takes its released inner one with it.
        await tx
          .savepoint(async () => {
            await tx.savepoint(() => insertIn(tx, 'projects', 'pf', { name: 'f' }));
            throw new Error('outer');
          })
          .catch(() => undefined);
        expect(await tx.getRow('projects', 'pf')).toBeNull();
        expect(await tx.getIdempotency('ka')).toMatchObject({ requestHash: 'h' });
        return [a, b, c, d];
      });
      expect(outcome).toEqual(['a', 'b failed', 2, 'd']);
      expect(await s.getRow('projects', 'pa')).toMatchObject({ syncId: 1 });
      expect(await s.getRow('projects', 'pb')).toBeNull();
      expect(await s.getRow('projects', 'pc')).toMatchObject({ syncId: 2 });
      expect(await s.getRow('projects', 'pd')).toMatchObject({ syncId: 3 });
      expect(await s.getRow('projects', 'pe')).toBeNull();
      expect(await s.getRow('projects', 'pf')).toBeNull();
      expect((await s.changesAfter(0, 10)).map((c) => [c.syncId, c.id])).toEqual([
        [1, 'pa'],
        [2, 'pc'],
        [3, 'pd'],
      ]);
      expect(await s.lastSyncId()).toBe(3);
      await s.transaction(async (tx) => {
        expect(await tx.getIdempotency('ka')).not.toBeNull();
        expect(await tx.getIdempotency('kb')).toBeNull();
      });
    });

    it('a failed savepoint undoes updates, deletes and group moves of the RowSink and the commit path; the transaction goes on', async () => {
      const s = await ctx.withSchema(schema.serialized);
      await commit(s, [
        { op: 'create', model: 'tasks', id: 't1', data: { title: 'one', boardId: 'a' } },
        { op: 'create', model: 'tasks', id: 't2', data: { title: 'two', boardId: 'a' } },
      ]);
      const before = await s.scanRows('tasks', null, 10);
      const feed = recordFeed(s);
      const ids = await s.transaction(async (tx) => {
        const failed = await tx
          .savepoint(async () => {
            const out = await commitIn(tx, s, [
              { op: 'update', model: 'tasks', id: 't1', data: { boardId: 'b', title: 'moved' } },
              { op: 'delete', model: 'tasks', id: 't2' },
              { op: 'create', model: 'tasks', id: 't3', data: { title: 'three', boardId: 'b' } },
            ]);
            expect(await tx.getRow('tasks', 't2')).toBeNull();
            expect(out.changes.map((c) => c.syncId)).toEqual([3, 4, 5]);
            throw new Error('undo it all');
          })
          .catch((e: Error) => e.message);
        expect(failed).toBe('undo it all');
        expect(await tx.getRow('tasks', 't1')).toEqual(before[0]);
        expect(await tx.getRow('tasks', 't2')).toEqual(before[1]);
        expect(await tx.getRow('tasks', 't3')).toBeNull();
        expect(await tx.rowChangesAfter('tasks', 't1', 2)).toEqual([]);
        expect(await tx.groupChangeAfter('board:b', 0)).toBeNull();
        // A write the storage refuses (a duplicate id) fails only its savepoint.
        await expect(tx.savepoint(() => insertIn(tx, 'tasks', 't1', { title: 'dup', boardId: 'a' }))).rejects.toThrow();
        // A failing commit of the commit path (after it wrote a change) fails only its savepoint.
        await expect(
          commitIn(tx, s, [
            { op: 'create', model: 'tasks', id: 't4', data: { title: 'four', boardId: 'c' } },
            { op: 'update', model: 'tasks', id: 'missing', data: { title: 'x' } },
          ]),
        ).rejects.toMatchObject({ code: 'row_not_found' });
        const ok = await commitIn(tx, s, [{ op: 'update', model: 'tasks', id: 't2', data: { boardId: 'c' } }]);
        return ok.changes.map((c) => c.syncId);
      });
      expect(ids).toEqual([3]);
      expect(await s.scanRows('tasks', null, 10)).toEqual([before[0], { ...before[1], boardId: 'c', syncId: 3 }]);
      expect(await groupIds(s, 'tasks', 'board:a')).toEqual(['t1']);
      expect(await groupIds(s, 'tasks', 'board:b')).toEqual([]);
      expect(await groupIds(s, 'tasks', 'board:c')).toEqual(['t2']);
      expect(await s.changesInGroups(['board:b'], 0, 10, 10)).toEqual([]);
      expect(feed.ids()).toEqual([[3]]);
      await expectGapFreeLog(s);
    });

    it('refuses a transaction whose function returns while a savepoint still runs, and rolls it back', async () => {
      const s = await ctx.withSchema(schema.serialized);
      let inner: Promise<unknown> | null = null;
      const err = await s
        .transaction(async (tx) => {
          inner = tx.savepoint(async () => {
            await insertIn(tx, 'projects', 'p1', { name: 'x' });
            await new Promise((r) => setTimeout(r, 5));
          });
          inner.catch(() => undefined);
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AbloServerError);
      await (inner as Promise<unknown> | null)?.catch(() => undefined);
      expect(await s.getRow('projects', 'p1')).toBeNull();
      expect(await s.lastSyncId()).toBe(0);
      // The storage goes on.
      await insertRows(s, 'projects', [{ id: 'p2', name: 'y' }]);
      expect(await s.lastSyncId()).toBe(1);
    });
  });

  describe('transactions: idempotency', () => {
    it('stores and reads idempotency records inside transactions; a rollback loses them', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const r: CommitReceipt = {
        object: 'commit',
        id: 'cmt_1',
        clientTxId: 'key-1',
        status: 'committed',
        lastSyncId: 4,
        results: [{ op: 'create', model: 'tasks', id: 't1', status: 'applied', syncId: 4 }],
        notifications: [
          {
            object: 'stale_notification',
            model: 'tasks',
            id: 't1',
            readAt: 1,
            observedSyncId: 3,
            conflictingFields: ['title'],
            currentValues: { title: '😀' },
            writtenBy: { kind: 'agent', id: 'a' },
          },
        ],
      };
      await s.transaction(async (tx) => {
        expect(await tx.getIdempotency('key-1')).toBeNull();
        await tx.putIdempotency('key-1', { requestHash: 'abc', receipt: r });
        expect(await tx.getIdempotency('key-1')).toEqual({ requestHash: 'abc', receipt: r });
      });
      await s.transaction(async (tx) => {
        expect(await tx.getIdempotency('key-1')).toEqual({ requestHash: 'abc', receipt: r });
        expect(await tx.getIdempotency('KEY-1')).toBeNull();
      });
      await expect(
        s.transaction(async (tx) => {
          await tx.putIdempotency('key-2', { requestHash: 'x', receipt: r });
          throw new Error('rolled back');
        }),
      ).rejects.toThrow();
      await s.transaction(async (tx) => expect(await tx.getIdempotency('key-2')).toBeNull());
      // An idempotency record is not a change: nothing in the log, nothing announced.
      expect(await s.lastSyncId()).toBe(0);
    });

    it('replays a commit by its idempotency key (same receipt, nothing written), refuses the key for another request, and keeps nothing from a failed one', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const op = { op: 'create' as const, model: 'tasks', id: 't1', data: { title: 'once', boardId: 'a' } };
      const first = await commit(s, [op], { idempotencyKey: 'k1' });
      expect(first.replayed).toBe(false);
      expect(first.receipt).toMatchObject({ status: 'committed', clientTxId: 'k1', lastSyncId: 1 });
      const feed = recordFeed(s);
      const again = await commit(s, [op], { idempotencyKey: 'k1' });
      expect(again).toEqual({ receipt: first.receipt, changes: [], replayed: true });
      // Replayed inside the same transaction as the first (one group commit): the same.
      const both = await s.transaction(async (tx) => [
        await commitIn(tx, s, [{ ...op, id: 't2' }], { idempotencyKey: 'k2' }),
        await commitIn(tx, s, [{ ...op, id: 't2' }], { idempotencyKey: 'k2' }),
      ]);
      expect(both[1]).toEqual({ receipt: both[0]!.receipt, changes: [], replayed: true });
      const reused = await commit(s, [{ ...op, data: { title: 'different', boardId: 'a' } }], { idempotencyKey: 'k1' }).catch((e: unknown) => e);
      expect(reused).toBeInstanceOf(AbloIdempotencyError);
      expect(reused).toMatchObject({ code: 'idempotency_key_reused' });
      // A commit that failed stored nothing under its key: the key is free for a retry.
      await expect(commit(s, [{ op: 'update', model: 'tasks', id: 'nope', data: { title: 'x' } }], { idempotencyKey: 'k3' })).rejects.toMatchObject({
        code: 'row_not_found',
      });
      const retry = await commit(s, [{ ...op, id: 't3' }], { idempotencyKey: 'k3' });
      expect(retry.replayed).toBe(false);
      expect((await s.changesAfter(0, 10)).map((c) => c.id)).toEqual(['t1', 't2', 't3']);
      expect(feed.ids()).toEqual([[2], [3]]);
      // Replays keep working across a restart.
      const s2 = await ctx.restart(s);
      expect(await commit(s2, [op], { idempotencyKey: 'k1' })).toEqual({ receipt: first.receipt, changes: [], replayed: true });
    });
  });

  describe('transactions: isolation and misuse', () => {
    it('never shows uncommitted writes to reads outside the transaction', async () => {
      const s = await ctx.withSchema(schema.serialized);
      await insertRows(s, 'projects', [{ id: 'p1', name: 'before' }]);
      await commit(s, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'x', boardId: 'a' } }]);
      await s.transaction(async (tx) => {
        await insertIn(tx, 'projects', 'p2', { name: 'new' });
        const syncId = await tx.nextSyncId();
        await tx.updateRow('projects', 'p1', { name: 'after' }, { updatedAt: T0, syncId });
        await tx.appendChange(change(syncId, 'projects', 'p1', { action: 'update', fields: ['name'] }));
        await commitIn(tx, s, [{ op: 'update', model: 'tasks', id: 't1', data: { boardId: 'b' } }]);
        expect(await s.getRow('projects', 'p2')).toBeNull();
        expect(await s.getRow('projects', 'p1')).toMatchObject({ name: 'before' });
        expect((await s.listRows('projects', { limit: 10 })).rows.map((r) => r.id)).toEqual(['p1']);
        expect((await s.listRows('projects', { where: { name: 'after' }, limit: 10 })).rows).toEqual([]);
        expect(await s.scanRows('projects', null, 10)).toHaveLength(1);
        expect(await groupIds(s, 'tasks', 'board:b')).toEqual([]);
        expect(await groupIds(s, 'tasks', 'board:a')).toEqual(['t1']);
        expect(await s.changesAfter(2, 10)).toEqual([]);
        expect(await s.changesInGroups(['board:b'], 0, 100, 10)).toEqual([]);
        expect(await s.lastSyncId()).toBe(2);
        expect(s.feed.head()).toBe(2);
      });
      expect(await s.getRow('projects', 'p2')).toMatchObject({ name: 'new' });
      expect(await s.getRow('projects', 'p1')).toMatchObject({ name: 'after', syncId: 4 });
      expect(await groupIds(s, 'tasks', 'board:b')).toEqual(['t1']);
      expect(await s.lastSyncId()).toBe(5);
    });

    it('refuses a nested transaction (use a savepoint) and a transaction handle used after its transaction ended', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const nested = await s.transaction(async () => s.transaction(async () => 1)).catch((e: unknown) => e);
      expect(nested).toBeInstanceOf(AbloServerError);
      expect(nested).toMatchObject({ code: 'nested_transaction' });
      let leaked: StorageTx | undefined;
      await s.transaction(async (tx) => {
        leaked = tx;
      });
      await expect(leaked!.nextSyncId()).rejects.toMatchObject({ code: 'transaction_ended' });
      await expect(leaked!.getRow('projects', 'p1')).rejects.toMatchObject({ code: 'transaction_ended' });
      await expect(leaked!.write([plannedCreate('tasks', { id: 't9', title: 'late', boardId: 'a' }, ['board:a'])])).rejects.toMatchObject({
        code: 'transaction_ended',
      });
      expect(await s.getRow('tasks', 't9')).toBeNull();
      // The storage is fine afterwards.
      await insertRows(s, 'projects', [{ id: 'p1', name: 'ok' }]);
      expect(await s.lastSyncId()).toBe(1);
    });
  });
}

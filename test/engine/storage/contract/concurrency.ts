/**
 * Concurrency of commits: many `transaction()` calls at once run one after
 * another, each sees its own writes, none is lost, sync ids stay gap-free and
 * readers never see half a transaction — called directly and through the
 * engine's batcher (group commit: several commits per transaction, each in a
 * savepoint). Key writes and schema pushes issued while a transaction is open
 * wait for it instead of joining it.
 */
import { describe, expect, it } from 'vitest';
import { CommitBatcher } from '../../../../src/engine/commit/batcher.js';
import { applyCommit } from '../../../../src/engine/commit/apply.js';
import type { CommitOutcome } from '../../../../src/engine/commit/types.js';
import { compileSchema } from '../../../../src/schema/compile.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import { commitIn, deferred, expectGapFreeLog, plannedCreate, recordFeed, push, T0, USER, type ContractContext } from './harness.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), tag: z.number().int(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  counters: model({ n: z.number().int() }),
});

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function concurrencyContract(ctx: ContractContext): void {
  describe('concurrency of commits', () => {
    it('runs many concurrent transactions one at a time: each sees its own writes, none is lost, ids are gap-free, readers never see half of one', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const feed = recordFeed(s);
      const n = 40;
      let active = 0;
      let maxActive = 0;
      let stop = false;
      const halfSeen: number[] = [];
      // A reader polling committed state the whole time: a transaction's two rows show together or not at all.
      const reader = (async () => {
        while (!stop) {
          const rows = (await s.listRows('tasks', { limit: 1000 })).rows;
          const perTag = new Map<number, number>();
          for (const r of rows) perTag.set(r.tag as number, (perTag.get(r.tag as number) ?? 0) + 1);
          for (const [tag, count] of perTag) if (count !== 2) halfSeen.push(tag);
          await tick(0);
        }
      })();
      const results = await Promise.allSettled(
        Array.from({ length: n }, (_, i) =>
          s.transaction(async (tx) => {
            active++;
            maxActive = Math.max(maxActive, active);
            try {
              const a = await commitIn(tx, s, [{ op: 'create', model: 'tasks', id: `a${i}`, data: { title: 'a', tag: i, boardId: `b${i % 3}` } }]);
              await tick(i % 3);
              expect(await tx.getRow('tasks', `a${i}`)).toMatchObject({ tag: i, syncId: a.changes[0]!.syncId });
              const b = await commitIn(tx, s, [{ op: 'create', model: 'tasks', id: `b${i}`, data: { title: 'b', tag: i, boardId: `b${i % 3}` } }]);
              // Counter: read, add one, write — lost if two transactions overlapped.
              const counter = await tx.getRow('counters', 'c');
              const syncId = await tx.nextSyncId();
              if (counter) await tx.updateRow('counters', 'c', { n: (counter.n as number) + 1 }, { updatedAt: T0, syncId });
              else await tx.insertRow('counters', { id: 'c', createdAt: T0, updatedAt: T0, syncId, n: 1 });
              await tx.appendChange({ syncId, model: 'counters', id: 'c', action: counter ? 'update' : 'create', fields: ['n'], data: null, groups: ['default'], participant: USER, clientTxId: null, at: T0, commitId: `cnt${i}` });
              if (i % 7 === 3) throw new Error(`transaction ${i} fails after writing`);
              return [a.changes[0]!.syncId, b.changes[0]!.syncId, syncId];
            } finally {
              active--;
            }
          }),
        ),
      );
      stop = true;
      await reader;
      expect(maxActive).toBe(1);
      expect(halfSeen).toEqual([]);
      const ok = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, ids: r.value }] : []));
      const failed = results.filter((r) => r.status === 'rejected');
      expect(failed).toHaveLength(Array.from({ length: n }, (_, i) => i).filter((i) => i % 7 === 3).length);
      // Each transaction's ids are consecutive; together they are 1..3k with nothing missing or repeated.
      for (const { ids } of ok) expect(ids).toEqual([ids[0]!, ids[0]! + 1, ids[0]! + 2]);
      expect(ok.flatMap((o) => o.ids).sort((x, y) => x - y)).toEqual(Array.from({ length: ok.length * 3 }, (_, k) => k + 1));
      const log = await expectGapFreeLog(s);
      expect(log).toHaveLength(ok.length * 3);
      expect(await s.getRow('counters', 'c')).toMatchObject({ n: ok.length });
      const rows = (await s.listRows('tasks', { limit: 1000 })).rows;
      expect(rows).toHaveLength(ok.length * 2);
      for (const { i } of ok) expect(rows.filter((r) => r.tag === i)).toHaveLength(2);
      // The feed announced each committed transaction once, in order, nothing of the failed ones.
      expect(feed.batches).toHaveLength(ok.length);
      expect(feed.ids().flat()).toEqual(log.map((c) => c.syncId));
      for (const b of feed.batches) expect(b.lastSyncId).toBe(b.changes.at(-1)!.syncId);
    });

    it('group commit through the engine’s batcher: hundreds of concurrent commits, some failing, each its own outcome, none lost, ids gap-free', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const feed = recordFeed(s);
      const compiled = compileSchema(schema.serialized);
      const batcher = new CommitBatcher({ storage: s, maxBatch: 16 });
      const n = 300;
      const outcomes = await Promise.allSettled(
        Array.from({ length: n }, (_, i) =>
          // As the engine's pipeline: optimistic (no key lookup first) while the batch runs without savepoints.
          batcher.submit((tx, unit) =>
            applyCommit(
              tx,
              {
                request: {
                  operations:
                    i % 10 === 9
                      ? // Fails after its create: only that commit is undone.
                        [
                          { op: 'create', model: 'tasks', id: `x${i % 150}`, data: { title: 'x', tag: i % 150, boardId: 'z' } },
                          { op: 'update', model: 'tasks', id: 'missing', data: { title: 'y' } },
                        ]
                      : [{ op: 'create', model: 'tasks', id: `t${i % 150}`, data: { title: 't', tag: i % 150, boardId: `b${i % 5}` } }],
                  idempotencyKey: `key-${i % 150}`,
                },
                participant: USER,
                scope: 'all',
              },
              compiled,
              new Date(T0),
              { optimistic: !unit.guarded },
            ),
          ),
        ),
      );
      await batcher.close();
      const applied = new Map<number, CommitOutcome>();
      outcomes.forEach((o, i) => {
        if (i % 10 === 9) expect(o.status, `commit ${i}`).toBe('rejected');
        else {
          expect(o.status, `commit ${i}`).toBe('fulfilled');
          applied.set(i, (o as PromiseFulfilledResult<CommitOutcome>).value);
        }
      });
      // Keys repeat after 150 commits: the second use of a key replays the first one's receipt.
      for (const [i, outcome] of applied) {
        const first = applied.get(i % 150);
        if (i >= 150 && first) {
          expect(outcome.replayed, `commit ${i}`).toBe(true);
          expect(outcome.receipt).toEqual(first.receipt);
        }
      }
      const writers = [...applied.values()].filter((o) => !o.replayed);
      const log = await expectGapFreeLog(s);
      expect(log).toHaveLength(writers.length);
      expect(writers.map((o) => o.receipt.lastSyncId).sort((a, b) => a - b)).toEqual(log.map((c) => c.syncId));
      expect(feed.ids().flat()).toEqual(log.map((c) => c.syncId));
      // Several commits shared each transaction.
      expect(batcher.stats.transactions).toBeLessThan(writers.length);
      expect(await s.getRow('tasks', 'x9')).toBeNull();
    });

    it('group commit without savepoints: a commit that fails after writing is undone alone (the batch runs again, each commit in a savepoint)', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const feed = recordFeed(s);
      const compiled = compileSchema(schema.serialized);
      const batcher = new CommitBatcher({ storage: s, maxBatch: 64 });
      const create = (i: number) => (tx: Parameters<Parameters<CommitBatcher['submit']>[0]>[0]) =>
        applyCommit(
          tx,
          { request: { operations: [{ op: 'create', model: 'tasks', id: `t${i}`, data: { title: 't', tag: i, boardId: 'a' } }], idempotencyKey: `k${i}` }, participant: USER, scope: 'all' },
          compiled,
          new Date(T0),
        );
      let badRuns = 0;
      const all = Promise.allSettled([
        batcher.submit(create(1)),
        // Writes (a row and its change), then fails: only a rollback undoes that.
        batcher.submit(async (tx) => {
          badRuns++;
          await tx.write([plannedCreate('tasks', { id: 'bad', title: 'bad', tag: 99, boardId: 'a' }, ['board:a'])]);
          throw new Error('fails after writing');
        }),
        // Fails before writing: needs no undo.
        batcher.submit(async () => {
          throw new Error('fails before writing');
        }),
        batcher.submit(create(2)),
      ]);
      const [a, bad, early, b] = await all;
      await batcher.close();
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('fulfilled');
      expect(bad).toMatchObject({ status: 'rejected', reason: { message: 'fails after writing' } });
      expect(early).toMatchObject({ status: 'rejected', reason: { message: 'fails before writing' } });
      // Once without savepoints (doomed), once in its savepoint.
      expect(badRuns).toBe(2);
      expect(await s.getRow('tasks', 'bad')).toBeNull();
      const log = await expectGapFreeLog(s);
      expect(log.map((c) => c.id)).toEqual(['t1', 't2']);
      expect(feed.ids()).toEqual([[1, 2]]);
      const receipts = [a, b].map((r) => (r as PromiseFulfilledResult<CommitOutcome>).value.receipt.lastSyncId);
      expect(receipts).toEqual([1, 2]);
      // The stored receipts replay.
      const again = new CommitBatcher({ storage: s });
      expect(await again.submit(create(1))).toMatchObject({ replayed: true, receipt: { lastSyncId: 1 } });
      await again.close();
    });

    it('optimistic keys (no lookup before writing): a resend replays its receipt, even one that would now be stale; another request under the key is refused; nothing is written twice', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const compiled = compileSchema(schema.serialized);
      const batcher = new CommitBatcher({ storage: s });
      const submit = (request: Parameters<typeof applyCommit>[1]['request']) =>
        batcher.submit((tx, unit) => applyCommit(tx, { request, participant: USER, scope: 'all' }, compiled, new Date(T0), { optimistic: !unit.guarded }));
      const created = await submit({ operations: [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'a', tag: 1, boardId: 'a' } }], idempotencyKey: 'c1' });
      const update = { operations: [{ op: 'update' as const, model: 'tasks', id: 't1', data: { title: 'b' }, readAt: created.receipt.lastSyncId }], idempotencyKey: 'u1' };
      const first = await submit(update);
      expect(first.replayed).toBe(false);
      // In one batch: resends of both (the update's readAt is now stale: its own change came after it), a new
      // request under a used key, and a fresh write.
      const [resendCreate, resendUpdate, reused, fresh] = await Promise.allSettled([
        submit({ operations: [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'a', tag: 1, boardId: 'a' } }], idempotencyKey: 'c1' }),
        submit(update),
        submit({ operations: [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'other' } }], idempotencyKey: 'u1' }),
        submit({ operations: [{ op: 'update', model: 'tasks', id: 't1', data: { tag: 2 } }], idempotencyKey: 'f1' }),
      ]);
      await batcher.close();
      expect(resendCreate).toMatchObject({ status: 'fulfilled', value: { replayed: true, receipt: created.receipt } });
      expect(resendUpdate).toMatchObject({ status: 'fulfilled', value: { replayed: true, receipt: first.receipt } });
      expect(reused).toMatchObject({ status: 'rejected', reason: { code: 'idempotency_key_reused' } });
      expect(fresh).toMatchObject({ status: 'fulfilled', value: { replayed: false } });
      const log = await expectGapFreeLog(s);
      expect(log.map((c) => c.action)).toEqual(['create', 'update', 'update']);
      expect(await s.getRow('tasks', 't1')).toMatchObject({ title: 'b', tag: 2 });
    });

    it('a key write or schema push issued while a transaction is open waits for it and does not join it', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const open = deferred();
      const entered = deferred();
      const blocker = s.transaction(async (tx) => {
        await commitIn(tx, s, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'rolled back', tag: 1, boardId: 'a' } }]);
        entered.resolve();
        await open.promise;
        throw new Error('the open transaction fails');
      });
      await entered.promise;
      const key = { id: 'k1', name: 'dev', prefix: 'sk_', hash: 'h1', createdAt: T0, revokedAt: null, participant: { kind: 'system' as const, id: 'dev' } };
      const keyWrite = s.insertApiKey(key);
      const next = defineSchema({
        tasks: model({ title: z.string(), tag: z.number().int(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
        counters: model({ n: z.number().int() }),
        notes: model({ body: z.string() }),
      });
      const pushed = push(s, next.serialized);
      expect(await s.countApiKeys()).toBe(0);
      expect((await s.getSchema())?.version).toBe(1);
      open.resolve();
      await expect(blocker).rejects.toThrow('the open transaction fails');
      await keyWrite;
      await pushed;
      // Both survived the rollback of the transaction they waited for.
      expect(await s.findApiKeyByHash('h1')).toEqual(key);
      expect((await s.getSchema())?.version).toBe(2);
      expect(await s.getRow('tasks', 't1')).toBeNull();
      expect(await s.getRow('notes', 'n1')).toBeNull();
      expect(await s.lastSyncId()).toBe(0);
    });
  });
}

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
import type { Storage } from '../../../../src/engine/storage/types.js';
import { compileSchema } from '../../../../src/schema/compile.js';
import { defineSchema, model, z } from '../../../../src/schema/index.js';
import { commitIn, deferred, expectGapFreeLog, groupIds, plannedCreate, recordFeed, push, T0, USER, type ContractContext } from './harness.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), tag: z.number().int(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  counters: model({ n: z.number().int() }),
});

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One commit through a batcher of its own, as the engine runs it. */
async function commitAlone(s: Storage, compiled: ReturnType<typeof compileSchema>, operations: Parameters<typeof applyCommit>[1]['request']['operations']): Promise<CommitOutcome> {
  const batcher = new CommitBatcher({ storage: s });
  const out = await batcher.submit((tx, unit) => applyCommit(tx, { request: { operations }, participant: USER, scope: 'all' }, compiled, new Date(T0), { optimistic: !unit.guarded }));
  await batcher.close();
  return out;
}

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

    it('group commit without savepoints: a commit reads what earlier commits of its batch wrote (rows, history, groups) and gets its own outcome, without a rerun', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const compiled = compileSchema(schema.serialized);
      const seeded = await commitAlone(s, compiled, [{ op: 'create', model: 'tasks', id: 'a1', data: { title: 'x', tag: 0, boardId: 'a' } }]);
      const readAt = seeded.receipt.lastSyncId;
      const batcher = new CommitBatcher({ storage: s });
      const guardedRuns: number[] = [];
      const submit = (n: number, operations: Parameters<typeof applyCommit>[1]['request']['operations'], key?: string) =>
        batcher.submit((tx, unit) => {
          if (unit.guarded) guardedRuns.push(n);
          const request = key ? { operations, idempotencyKey: key } : { operations };
          return applyCommit(tx, { request, participant: USER, scope: 'all' }, compiled, new Date(T0), { optimistic: !unit.guarded });
        });
      const results = await Promise.allSettled([
        submit(1, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'one', tag: 1, boardId: 'a' } }], 'k1'),
        submit(2, [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'two' } }]),
        submit(3, [{ op: 'update', model: 'tasks', id: 't1', data: { boardId: 'b' } }], 'k3'),
        // The row exists: created by commit 1 of this batch.
        submit(4, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'again', tag: 9, boardId: 'a' } }]),
        submit(5, [{ op: 'update', model: 'tasks', id: 'a1', data: { tag: 7 } }]),
        // Stale: commit 5 wrote the tag after readAt.
        submit(6, [{ op: 'update', model: 'tasks', id: 'a1', data: { tag: 8 }, readAt }]),
        submit(7, [{ op: 'delete', model: 'tasks', id: 'a1' }]),
        // Gone: deleted by commit 7.
        submit(8, [{ op: 'update', model: 'tasks', id: 'a1', data: { tag: 9 } }]),
        // A resend of commit 1 (its key) replays the receipt stored in this batch.
        submit(9, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'one', tag: 1, boardId: 'a' } }], 'k1'),
        submit(10, [{ op: 'update', model: 'tasks', id: 't1', data: { tag: 2 } }]),
      ]);
      await batcher.close();
      expect(guardedRuns).toEqual([]);
      const value = (i: number) => (results[i] as PromiseFulfilledResult<CommitOutcome>).value;
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(results[3]).toMatchObject({ reason: { code: 'id_exists' } });
      expect(results[5]).toMatchObject({ reason: { type: 'stale_context', details: { observedSyncId: readAt + 4 } } });
      expect(results[7]).toMatchObject({ reason: { code: 'row_not_found' } });
      expect(value(8)).toEqual({ receipt: value(0).receipt, changes: [], replayed: true });
      expect([0, 1, 2, 4, 6, 9].map((i) => value(i).receipt.lastSyncId)).toEqual([1, 2, 3, 4, 5, 6].map((n) => readAt + n));
      const log = await expectGapFreeLog(s);
      expect(log.slice(1).map((c) => [c.id, c.action])).toEqual([['t1', 'create'], ['t1', 'update'], ['t1', 'update'], ['a1', 'update'], ['a1', 'delete'], ['t1', 'update']]);
      // The change-log data of each update is the whole row after it, as the table shows it.
      const t1 = await s.getRow('tasks', 't1');
      expect(t1).toMatchObject({ title: 'two', tag: 2, boardId: 'b', syncId: readAt + 6 });
      expect(log[log.length - 1]!.data).toEqual(t1);
      expect(log[3]!.data).toMatchObject({ title: 'two', tag: 1, boardId: 'b', createdAt: t1!.createdAt });
      expect(await s.getRow('tasks', 'a1')).toBeNull();
      expect(await groupIds(s, 'tasks', 'board:a')).toEqual([]);
      expect(await groupIds(s, 'tasks', 'board:b')).toEqual(['t1']);
      expect((await s.transaction((tx) => tx.getIdempotency('k3')))?.receipt).toEqual(value(2).receipt);
    });

    it('group commit without savepoints: writes that fail only when stored (an id or a key taken, a row gone, unseen by the reads) roll the batch back; run again in savepoints, each commit gets its own outcome', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const compiled = compileSchema(schema.serialized);
      await commitAlone(s, compiled, [{ op: 'create', model: 'tasks', id: 'taken', data: { title: 'x', tag: 0, boardId: 'a' } }]);
      const batcher = new CommitBatcher({ storage: s });
      const runs: string[] = [];
      const job = (name: string, op: Parameters<typeof applyCommit>[1]['request']['operations'][number], key?: string) =>
        batcher.submit((tx, unit) => {
          runs.push(`${name}${unit.guarded ? ':guarded' : ''}`);
          const request = key ? { operations: [op], idempotencyKey: key } : { operations: [op] };
          return applyCommit(tx, { request, participant: USER, scope: 'all' }, compiled, new Date(T0), { optimistic: !unit.guarded });
        });
      const results = await Promise.allSettled([
        job('a', { op: 'create', model: 'tasks', id: 'n1', data: { title: 'n', tag: 1, boardId: 'a' } }, 'dup'),
        // The same key for another request, in the same batch.
        job('b', { op: 'create', model: 'tasks', id: 'n2', data: { title: 'n', tag: 2, boardId: 'a' } }, 'dup'),
        // Written straight to the sink: no read saw that the id is taken, or that the row is missing.
        batcher.submit(async (tx) => {
          runs.push('c');
          return { receipt: null as never, changes: await tx.write([plannedCreate('tasks', { id: 'taken', title: 'y', tag: 1, boardId: 'a' }, ['board:a'])]), replayed: false };
        }),
        batcher.submit(async (tx) => {
          runs.push('d');
          const planned = { ...plannedCreate('tasks', { id: 'ghost', title: 'g', tag: 1, boardId: 'a' }, ['board:a']), action: 'update' as const, patch: { title: 'g' } };
          return { receipt: null as never, changes: await tx.write([planned as never]), replayed: false };
        }),
        job('e', { op: 'update', model: 'tasks', id: 'taken', data: { tag: 5 } }),
      ]);
      await batcher.close();
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
      expect(results[1]).toMatchObject({ reason: { code: 'idempotency_key_reused' } });
      expect(results[2]).toMatchObject({ reason: { code: 'id_exists' } });
      expect(results[3]).toMatchObject({ reason: { code: 'row_not_found' } });
      // The batch ran once without savepoints, then once more in savepoints.
      expect(runs.filter((r) => r.endsWith(':guarded'))).toEqual(['a:guarded', 'b:guarded', 'e:guarded']);
      const log = await expectGapFreeLog(s);
      expect(log.map((c) => [c.id, c.action])).toEqual([['taken', 'create'], ['n1', 'create'], ['taken', 'update']]);
      expect(await s.getRow('tasks', 'taken')).toMatchObject({ title: 'x', tag: 5 });
      expect(await s.getRow('tasks', 'n2')).toBeNull();
      expect(await s.getRow('tasks', 'ghost')).toBeNull();
      expect((await s.transaction((tx) => tx.getIdempotency('dup')))?.receipt).toEqual((results[0] as PromiseFulfilledResult<CommitOutcome>).value.receipt);
    });

    it('group commit with the rows it will read named (prefetchRows): each commit still reads the rows as its transaction left them, in the optimistic run and in the guarded rerun', async () => {
      const s = await ctx.withSchema(schema.serialized);
      const compiled = compileSchema(schema.serialized);
      await commitAlone(s, compiled, [{ op: 'create', model: 'tasks', id: 'a1', data: { title: 'x', tag: 0, boardId: 'a' } }]);
      for (const doom of [false, true]) {
        const batcher = new CommitBatcher({ storage: s });
        const submit = (operations: Parameters<typeof applyCommit>[1]['request']['operations']) =>
          batcher.submit(
            (tx, unit) => applyCommit(tx, { request: { operations }, participant: USER, scope: 'all' }, compiled, new Date(T0), { optimistic: !unit.guarded }),
            { rows: operations.flatMap((o) => (o.id ? [{ model: o.model, id: o.id }] : [])) },
          );
        const n = doom ? 'n2' : 'n1';
        const results = await Promise.allSettled([
          submit([{ op: 'update', model: 'tasks', id: 'a1', data: { tag: doom ? 2 : 1 } }]),
          // Writes the row, then fails: undone (in the rerun, by its savepoint).
          batcher.submit(
            async (tx) => {
              const planned = { ...plannedCreate('tasks', { id: 'a1', title: 'bad', tag: 99, boardId: 'a' }, ['board:a']), action: 'update' as const, patch: { title: 'bad', tag: 99 } };
              await tx.write([planned as never]);
              if (doom) throw new Error('fails after writing');
              return { receipt: null as never, changes: [], replayed: false };
            },
            { rows: [{ model: 'tasks', id: 'a1' }] },
          ),
          submit([{ op: 'update', model: 'tasks', id: 'a1', data: { title: 'y' } }]),
          submit([{ op: 'create', model: 'tasks', id: n, data: { title: 'n', tag: 5, boardId: 'a' } }]),
          submit([{ op: 'update', model: 'tasks', id: n, data: { tag: 6 } }]),
          // Hints naming an unknown model are skipped.
          batcher.submit(async (tx) => ({ receipt: null as never, changes: [], replayed: (await tx.getRow('tasks', 'a1')) === null }), { rows: [{ model: 'nope', id: 'x' }] }),
        ]);
        await batcher.close();
        expect(results.map((r) => r.status)).toEqual(['fulfilled', doom ? 'rejected' : 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
        const a1 = await s.getRow('tasks', 'a1');
        expect(a1).toMatchObject(doom ? { title: 'y', tag: 2 } : { title: 'y', tag: 99 });
        expect((results[2] as PromiseFulfilledResult<CommitOutcome>).value.changes[0]!.data).toEqual(a1);
        expect(await s.getRow('tasks', n)).toMatchObject({ title: 'n', tag: 6 });
      }
      // Another row's second write sends what the batch wrote so far (a1's update among it); a1 then reads as written.
      const batcher = new CommitBatcher({ storage: s });
      const hinted = (operations: Parameters<typeof applyCommit>[1]['request']['operations']) =>
        batcher.submit((tx, unit) => applyCommit(tx, { request: { operations }, participant: USER, scope: 'all' }, compiled, new Date(T0), { optimistic: !unit.guarded }), {
          rows: [{ model: 'tasks', id: 'a1' }, { model: 'tasks', id: 'n1' }],
        });
      const last = await Promise.all([
        hinted([{ op: 'update', model: 'tasks', id: 'a1', data: { title: 'p' } }]),
        hinted([{ op: 'update', model: 'tasks', id: 'n1', data: { tag: 7 } }]),
        hinted([{ op: 'delete', model: 'tasks', id: 'n1' }]),
        hinted([{ op: 'update', model: 'tasks', id: 'a1', data: { tag: 3 } }]),
      ]);
      await batcher.close();
      const a1 = await s.getRow('tasks', 'a1');
      expect(a1).toMatchObject({ title: 'p', tag: 3 });
      expect(last[3].changes[0]!.data).toEqual(a1);
      expect(await s.getRow('tasks', 'n1')).toBeNull();
      await expectGapFreeLog(s);
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
      const key = { id: 'k1', name: 'dev', prefix: 'sk_', hash: 'h1', createdAt: T0, revokedAt: null, participant: { kind: 'system' as const, id: 'dev' }, kind: 'secret' as const, groups: null, operations: null };
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

/**
 * Retention (`Storage.prune`): the change log is pruned as a prefix written
 * before the cutoff (never its newest entry), with its group index, and the
 * floor moves up with it (and survives a restart); idempotency records stored
 * before their cutoff go. The commit path then counts history below the floor
 * as changed (`readAt`), and refuses keyed requests past the idempotency
 * window unless their receipt is still stored.
 */
import { describe, expect, it } from 'vitest';
import { applyCommit } from '../../../../src/engine/commit/apply.js';
import type { CommitOutcome } from '../../../../src/engine/commit/types.js';
import type { Storage } from '../../../../src/engine/storage/types.js';
import { AbloError, AbloIdempotencyError, AbloStaleContextError } from '../../../../src/errors.js';
import type { CommitRequest, Operation } from '../../../../src/protocol/commit.js';
import { compileSchema } from '../../../../src/schema/compile.js';
import { commit, range, USER, wholeLog, type ContractContext } from './harness.js';
import { groupSchema } from './groups.js';

const OLD = new Date('2024-01-01T00:00:00.000Z');
const NEW = new Date('2024-06-01T00:00:00.000Z');
/** Between OLD and NEW: prunes what OLD wrote, keeps what NEW wrote. */
const CUT = '2024-03-01T00:00:00.000Z';
/** Keeps every idempotency record (they are stored with the storage's own clock, now). */
const KEEP_IDEMPOTENCY = '2000-01-01T00:00:00.000Z';

const create = (id: string, projectId: string, title = id): Operation => ({ op: 'create', model: 'tasks', id, data: { title, projectId } });
const update = (id: string, data: Record<string, unknown>, extra: Partial<Extract<Operation, { op: 'update' }>> = {}): Operation => ({
  op: 'update',
  model: 'tasks',
  id,
  data,
  ...extra,
});

/** One commit through the real commit path with the engine's options (idempotency window), in its own transaction. */
function commitWith(s: Storage, request: CommitRequest, options: { now?: Date; idempotencyWindowMs?: number } = {}): Promise<CommitOutcome> {
  return s.transaction(async (tx) => {
    const schema = compileSchema((await s.getSchema())!.serialized);
    const window = options.idempotencyWindowMs !== undefined ? { idempotencyWindowMs: options.idempotencyWindowMs } : {};
    return tx.savepoint(() => applyCommit(tx, { request, participant: USER, scope: 'all' }, schema, options.now ?? NEW, window));
  });
}

/** Six changes written at OLD (sync ids 1-6: t1..t3 in project a, t4..t6 in project b), then two at NEW (7, 8). */
async function oldThenNew(s: Storage): Promise<void> {
  for (const [id, p] of [['t1', 'a'], ['t2', 'a'], ['t3', 'a'], ['t4', 'b'], ['t5', 'b'], ['t6', 'b']] as const) {
    await commit(s, [create(id, p)], { now: OLD });
  }
  await commit(s, [update('t1', { title: 'new 1' })], { now: NEW });
  await commit(s, [update('t4', { title: 'new 4' })], { now: NEW });
}

async function expectStale(p: Promise<unknown>): Promise<AbloStaleContextError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AbloStaleContextError);
  return err as AbloStaleContextError;
}

export function retentionContract(ctx: ContractContext): void {
  describe('retention (prune)', () => {
    it('prunes the log as the prefix written before the cutoff: the floor moves up, reads start there, sync ids go on', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      expect(await s.changeLogFloor()).toBe(0);
      await oldThenNew(s);
      const result = await s.prune({ changesBefore: CUT, idempotencyBefore: KEEP_IDEMPOTENCY });
      expect(result).toEqual({ changes: 6, idempotency: 0, floor: 7 });
      expect(await s.changeLogFloor()).toBe(7);
      expect((await wholeLog(s)).map((c) => c.syncId)).toEqual([7, 8]);
      expect((await s.feed.after(0, 100)).map((c) => c.syncId)).toEqual([7, 8]);
      // The group index went with the entries: a catch-up of a group reads only what is left.
      expect((await s.changesInGroups(['project:a'], 0, 8, 100)).map((c) => c.syncId)).toEqual([7]);
      expect((await s.feed.afterInGroups(['project:a', 'project:b'], 0, 8, 100)).map((c) => c.syncId)).toEqual([7, 8]);
      await s.transaction(async (tx) => {
        expect(await tx.changeLogFloor()).toBe(7);
        expect(await tx.groupChangeAfter('project:b', 0)).toMatchObject({ syncId: 8 });
        expect(await tx.rowChangesAfter('tasks', 't2', 0)).toEqual([]);
      });
      // Rows are untouched; the head stays and the next change takes the next id.
      expect((await s.scanRows('tasks', null, 100)).map((r) => r.id)).toEqual(['t1', 't2', 't3', 't4', 't5', 't6']);
      expect(await s.lastSyncId()).toBe(8);
      const next = await commit(s, [create('t7', 'a')], { now: NEW });
      expect(next.changes[0]!.syncId).toBe(9);
      // A second prune with the same cutoff finds nothing more.
      expect(await s.prune({ changesBefore: CUT, idempotencyBefore: KEEP_IDEMPOTENCY })).toEqual({ changes: 0, idempotency: 0, floor: 7 });
    });

    it('never deletes the newest entry, and stops at the first entry at or after the cutoff', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      await commit(s, [create('t1', 'a')], { now: OLD });
      await commit(s, [create('t2', 'a')], { now: NEW });
      // Written later, stamped earlier (a clock that went back): it stays behind the entry at NEW.
      await commit(s, [create('t3', 'a')], { now: OLD });
      await commit(s, [create('t4', 'a')], { now: OLD });
      expect(await s.prune({ changesBefore: CUT, idempotencyBefore: KEEP_IDEMPOTENCY })).toMatchObject({ changes: 1, floor: 2 });
      expect((await wholeLog(s)).map((c) => c.syncId)).toEqual([2, 3, 4]);
      // Everything is older than this cutoff: all but the newest go, and the floor is the head.
      expect(await s.prune({ changesBefore: '2030-01-01T00:00:00.000Z', idempotencyBefore: KEEP_IDEMPOTENCY })).toMatchObject({ changes: 2, floor: 4 });
      expect((await wholeLog(s)).map((c) => c.syncId)).toEqual([4]);
      expect(await s.lastSyncId()).toBe(4);
    });

    it('on an empty log prunes nothing and leaves the floor at 0', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      expect(await s.prune({ changesBefore: '2030-01-01T00:00:00.000Z', idempotencyBefore: '2030-01-01T00:00:00.000Z' })).toEqual({
        changes: 0,
        idempotency: 0,
        floor: 0,
      });
      expect(await s.changeLogFloor()).toBe(0);
    });

    it('keeps the floor, the rest of the log and the sync ids across a restart', async () => {
      let s = await ctx.withSchema(groupSchema.serialized);
      await oldThenNew(s);
      await s.prune({ changesBefore: CUT, idempotencyBefore: KEEP_IDEMPOTENCY });
      s = await ctx.restart(s);
      expect(await s.changeLogFloor()).toBe(7);
      expect(await s.lastSyncId()).toBe(8);
      expect((await wholeLog(s)).map((c) => c.syncId)).toEqual([7, 8]);
      expect((await commit(s, [create('t9', 'a')], { now: NEW })).changes[0]!.syncId).toBe(9);
    });

    it('prunes a log longer than any chunk while commits go on between chunks', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      const n = 2500;
      for (let i = 0; i < n; i += 250) {
        await commit(
          s,
          range(250, i).map((k) => create(`p${String(k).padStart(5, '0')}`, k % 2 ? 'a' : 'b')),
          { now: OLD },
        );
      }
      const pruning = s.prune({ changesBefore: CUT, idempotencyBefore: KEEP_IDEMPOTENCY });
      const during = await Promise.all(range(5).map((k) => commit(s, [create(`late${k}`, 'a')], { now: NEW })));
      const result = await pruning;
      expect(result.changes).toBeGreaterThanOrEqual(n - 1);
      // The log is gap-free from the floor to the head, and holds every commit made during the prune.
      const log = await wholeLog(s);
      expect(log[0]!.syncId).toBe(result.floor);
      expect(log.map((c) => c.syncId)).toEqual(range(n + 5 - result.floor + 1, result.floor));
      expect(log.slice(-5).map((c) => c.id).sort()).toEqual(during.map((d) => d.changes[0]!.id).sort());
      expect((await s.changesInGroups(['project:a', 'project:b'], 0, n + 5, 10_000)).map((c) => c.syncId)).toEqual(log.map((c) => c.syncId));
    });

    it('deletes idempotency records stored before their cutoff: the key is new again', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      const first = await commitWith(s, { operations: [create('t1', 'a')], idempotencyKey: 'k-old' });
      expect((await commitWith(s, { operations: [create('t1', 'a')], idempotencyKey: 'k-old' })).replayed).toBe(true);
      // Stored now: a cutoff in the past keeps it, one in the future deletes it.
      expect(await s.prune({ changesBefore: OLD.toISOString(), idempotencyBefore: '2000-01-01T00:00:00.000Z' })).toMatchObject({ idempotency: 0 });
      await s.transaction(async (tx) => expect(await tx.getIdempotency('k-old')).toMatchObject({ receipt: first.receipt }));
      expect(await s.prune({ changesBefore: OLD.toISOString(), idempotencyBefore: '2999-01-01T00:00:00.000Z' })).toMatchObject({ idempotency: 1, changes: 0 });
      await s.transaction(async (tx) => expect(await tx.getIdempotency('k-old')).toBeNull());
    });
  });

  describe('retention and the commit path', () => {
    it('a readAt whose history was pruned counts as stale: reject says the history is gone, notify holds, overwrite writes', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      for (const id of ['t1', 't2', 't3']) await commit(s, [create(id, 'a')], { now: OLD });
      // t2 changes after sync id 2 (at 4), and that change is pruned with the rest.
      await commit(s, [update('t2', { title: 'moved' })], { now: OLD });
      await commit(s, [update('t3', { n: 1 })], { now: NEW });
      await s.prune({ changesBefore: CUT, idempotencyBefore: KEEP_IDEMPOTENCY });
      expect(await s.changeLogFloor()).toBe(5);

      const err = await expectStale(commitWith(s, { operations: [update('t2', { title: 'mine' }, { readAt: 2 })] }));
      expect(err.details).toMatchObject({ model: 'tasks', id: 't2', readAt: 2, historyPruned: true, changeLogFloor: 5, observedSyncId: 4 });
      expect(err.conflictingFields).toEqual(['title']);
      expect(err.currentValues).toEqual({ title: 'moved' });
      expect(err.message).toMatch(/pruned/);

      const held = await commitWith(s, { operations: [update('t2', { title: 'mine' }, { readAt: 2, onStale: 'notify' })] });
      expect(held.receipt.status).toBe('held');
      expect(held.receipt.notifications).toEqual([
        expect.objectContaining({ model: 'tasks', id: 't2', readAt: 2, conflictingFields: ['title'], currentValues: { title: 'moved' }, writtenBy: null }),
      ]);
      expect((await s.getRow('tasks', 't2'))!.title).toBe('moved');

      const written = await commitWith(s, { operations: [update('t2', { title: 'mine' }, { readAt: 2, onStale: 'overwrite' })] });
      expect(written.receipt.status).toBe('committed');
      expect((await s.getRow('tasks', 't2'))!.title).toBe('mine');
    });

    it('a row whose own sync id is at or below readAt did not change, pruned history or not; a missing row counts as changed', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      await oldThenNew(s);
      await s.prune({ changesBefore: CUT, idempotencyBefore: KEEP_IDEMPOTENCY });
      // t5 was written at sync id 5 and never since: readAt 5 is exact, below the floor or not.
      expect((await commitWith(s, { operations: [update('t5', { title: 'ok' }, { readAt: 5 })] })).receipt.status).toBe('committed');
      // readAt 3 is before t5's last write (5), whose history is gone.
      await expectStale(commitWith(s, { operations: [update('t5', { title: 'no' }, { readAt: 3 })] }));
      // A row-dependency on a missing row below the floor: it may have been deleted since.
      const err = await expectStale(
        commitWith(s, { operations: [create('t8', 'a')], reads: [{ model: 'tasks', id: 'gone', readAt: 1 }] }),
      );
      expect(err.details).toMatchObject({ historyPruned: true, changeLogFloor: 7 });
    });

    it('a group read dependency below the floor counts as moved; from the floor - 1 on, the log answers', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      for (const id of ['t1', 't2', 't3']) await commit(s, [create(id, 'a')], { now: OLD });
      await commit(s, [create('t4', 'b')], { now: NEW });
      await s.prune({ changesBefore: CUT, idempotencyBefore: KEEP_IDEMPOTENCY });
      expect(await s.changeLogFloor()).toBe(4);
      // Project a's changes after 1 are all pruned: nothing in the log, and that is not "nothing changed".
      const err = await expectStale(commitWith(s, { operations: [create('x1', 'a')], reads: [{ group: 'project:a', readAt: 1 }] }));
      expect(err.details).toMatchObject({ group: 'project:a', readAt: 1, historyPruned: true, changeLogFloor: 4 });
      const held = await commitWith(s, { operations: [create('x1', 'a')], reads: [{ group: 'project:a', readAt: 1, onStale: 'notify' }] });
      expect(held.receipt.status).toBe('held');
      expect(held.receipt.notifications![0]).toMatchObject({ group: 'project:a', readAt: 1, writtenBy: null });
      expect(await s.getRow('tasks', 'x1')).toBeNull();
      // readAt 3 = floor - 1: the log holds every change after it (none for project a; t4's for project b).
      expect((await commitWith(s, { operations: [create('x1', 'a')], reads: [{ group: 'project:a', readAt: 3 }] })).receipt.status).toBe('committed');
      const real = await expectStale(commitWith(s, { operations: [create('x2', 'b')], reads: [{ group: 'project:b', readAt: 3 }] }));
      expect(real.details).not.toHaveProperty('historyPruned');
      expect(real.observedSyncId).toBe(4);
    });

    it('refuses a keyed request older than the idempotency window (idempotency_expired) unless its receipt is stored', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      const hour = 3_600_000;
      const err = await commitWith(s, { operations: [create('t1', 'a')], idempotencyKey: 'late', ageMs: 2 * hour }, { idempotencyWindowMs: hour }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AbloIdempotencyError);
      expect((err as AbloError).code).toBe('idempotency_expired');
      expect((err as AbloError).details).toMatchObject({ ageMs: 2 * hour, windowMs: hour, idempotencyKey: 'late' });
      expect(await s.getRow('tasks', 't1')).toBeNull();
      expect(await s.lastSyncId()).toBe(0);

      // Within the window it is applied; a resend past the window finds its receipt and is replayed, never applied twice.
      const first = await commitWith(s, { operations: [create('t1', 'a')], idempotencyKey: 'k', ageMs: 10 }, { idempotencyWindowMs: hour });
      const again = await commitWith(s, { operations: [create('t1', 'a')], idempotencyKey: 'k', ageMs: 3 * hour }, { idempotencyWindowMs: hour });
      expect(again.replayed).toBe(true);
      expect(again.receipt).toEqual(first.receipt);
      // Without an age (older clients), or without a key, nothing is refused.
      expect((await commitWith(s, { operations: [create('t2', 'a')], idempotencyKey: 'k2' }, { idempotencyWindowMs: hour })).replayed).toBe(false);
      expect((await commitWith(s, { operations: [create('t3', 'a')], ageMs: 3 * hour }, { idempotencyWindowMs: hour })).replayed).toBe(false);
      expect((await wholeLog(s)).map((c) => c.id)).toEqual(['t1', 't2', 't3']);
    });
  });
}

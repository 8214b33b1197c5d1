/**
 * The SQLite storage's write-path ports: the RowSink (`tx.write`), which
 * allocates sync ids inside its transaction from the change log, and the
 * ChangeFeed (`storage.feed`), the one place durable changes are announced.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { defineSchema, model, z } from '../../../src/schema/index.js';
import type { ChangeBatch, PlannedChange, StoredRow } from '../../../src/engine/storage/types.js';
import { change, insertIn, insertRows, push, T0, useTempStorage } from './helpers.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
});

const t = useTempStorage();

async function ready() {
  const s = await t.open();
  await push(s, schema.serialized);
  return s;
}

const base = { participant: { kind: 'user' as const, id: 'u1' }, clientTxId: 'tx_1', commitId: 'cmt_1', at: T0 };

function planCreate(id: string, boardId: string): PlannedChange {
  const data: StoredRow = { id, createdAt: T0, updatedAt: T0, syncId: 0, title: id, boardId };
  return { ...base, model: 'tasks', id, action: 'create', fields: ['title', 'boardId'], data, groups: [`board:${boardId}`] };
}

describe('RowSink: tx.write', () => {
  it('writes planned creates, updates and deletes with consecutive sync ids, the rows, the log and the group index', async () => {
    const s = await ready();
    await insertRows(s, 'tasks', [{ id: 'old', title: 'old', boardId: 'a' }]);
    const written = await s.transaction(async (tx) => {
      const moved: StoredRow = { id: 'old', createdAt: T0, updatedAt: '2024-02-01T00:00:00.000Z', syncId: 0, title: 'old', boardId: 'b' };
      return tx.write([
        planCreate('t1', 'a'),
        { ...base, model: 'tasks', id: 'old', action: 'update', fields: ['boardId'], data: moved, patch: { boardId: 'b' }, groups: ['board:b'], prevGroups: ['board:a'] },
        planCreate('t2', 'a'),
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
    expect(await s.getRow('tasks', 'old')).toMatchObject({ boardId: 'b', syncId: 3, updatedAt: '2024-02-01T00:00:00.000Z' });
    expect(await s.getRow('tasks', 't2')).toBeNull();
    expect((await s.changesAfter(1, 10)).map((c) => c.syncId)).toEqual([2, 3, 4, 5]);
    expect((await s.scanGroupRows('tasks', 'board:a', null, 10)).map((r) => r.id)).toEqual(['t1']);
    expect((await s.scanGroupRows('tasks', 'board:b', null, 10)).map((r) => r.id)).toEqual(['old']);
    expect(await s.lastSyncId()).toBe(5);
  });

  it('hands the sync ids of a rolled-back savepoint out again', async () => {
    const s = await ready();
    const ids = await s.transaction(async (tx) => {
      const a = await tx.savepoint(() => tx.write([planCreate('t1', 'a')]));
      await tx
        .savepoint(async () => {
          await tx.write([planCreate('t2', 'a'), planCreate('t3', 'a')]);
          throw new Error('rolled back');
        })
        .catch(() => undefined);
      expect(await tx.headSyncId()).toBe(1);
      const b = await tx.savepoint(() => tx.write([planCreate('t4', 'a')]));
      return [...a, ...b].map((c) => c.syncId);
    });
    expect(ids).toEqual([1, 2]);
    expect((await s.changesAfter(0, 10)).map((c) => [c.syncId, c.id])).toEqual([
      [1, 't1'],
      [2, 't4'],
    ]);
  });

  it('allocates from the change log inside the transaction, not from a counter kept in memory', async () => {
    const s = await ready();
    await insertRows(s, 'tasks', [{ id: 't1', title: 'one', boardId: 'a' }]);
    // Another writer of the same database (as engine processes sharing one Postgres would be) appends sync id 10.
    const other = new Database(t.file());
    try {
      other
        .prepare(
          `INSERT INTO _ablo_changes (sync_id, model, row_id, action, fields, data, groups, prev_groups, participant_kind, participant_id, client_tx_id, commit_id, at)
           VALUES (10, 'tasks', 'elsewhere', 'create', '[]', NULL, '["board:z"]', NULL, 'system', 'other', NULL, 'cmt_other', ?)`,
        )
        .run(T0);
    } finally {
      other.close();
    }
    const written = await s.transaction((tx) => tx.write([planCreate('t2', 'a')]));
    expect(written[0]!.syncId).toBe(11);
    const seeded = await s.transaction((tx) => insertIn(tx, 'tasks', 't3', { title: 'three', boardId: 'a' }));
    expect(seeded.syncId).toBe(12);
    expect((await s.changesAfter(0, 10)).map((c) => c.syncId)).toEqual([1, 10, 11, 12]);
  });
});

describe('ChangeFeed: storage.feed', () => {
  it('announces each durable transaction once, in sync-id order, before transaction() resolves', async () => {
    const s = await ready();
    const batches: ChangeBatch[] = [];
    s.feed.subscribe((b) => batches.push(b));
    expect(s.feed.head()).toBe(0);
    const seenBeforeResolve = await s.transaction(async (tx) => {
      await insertIn(tx, 'tasks', 't1', { title: 'one', boardId: 'a' });
      await insertIn(tx, 'tasks', 't2', { title: 'two', boardId: 'a' });
      // Nothing is announced while the transaction is open.
      expect(batches).toEqual([]);
      return batches;
    });
    expect(seenBeforeResolve.map((b) => b.changes.map((c) => c.syncId))).toEqual([[1, 2]]);
    expect(batches[0]!.lastSyncId).toBe(2);
    expect(s.feed.head()).toBe(2);
    await s.transaction((tx) => insertIn(tx, 'tasks', 't3', { title: 'three', boardId: 'b' }, ['board:b']));
    expect(batches.map((b) => b.lastSyncId)).toEqual([2, 3]);
    expect((await s.feed.after(1, 10)).map((c) => c.syncId)).toEqual([2, 3]);
    expect((await s.feed.afterInGroups(['board:b'], 0, 3, 10)).map((c) => c.id)).toEqual(['t3']);
  });

  it('never announces a rolled-back savepoint, a failed transaction or a transaction that wrote nothing', async () => {
    const s = await ready();
    const batches: ChangeBatch[] = [];
    s.feed.subscribe((b) => batches.push(b));
    await s.transaction(async (tx) => {
      await tx.savepoint(() => insertIn(tx, 'tasks', 'kept', { title: 'k', boardId: 'a' }));
      await tx.savepoint(() => insertIn(tx, 'tasks', 'undone', { title: 'u', boardId: 'a' }).then(() => Promise.reject(new Error('no')))).catch(() => undefined);
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
    expect(batches.map((b) => b.changes.map((c) => c.id))).toEqual([['kept']]);
    expect(s.feed.head()).toBe(1);
  });

  it('a listener that throws does not stop the others; unsubscribe stops one; a listener may start a transaction', async () => {
    const s = await ready();
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
    await insertRows(s, 'tasks', [{ id: 't3', title: 'three', boardId: 'a' }]);
    expect(seen).toEqual(['a1', 'b1', 'a2', 'b2', 'b3']);
  });

  it('starts from the log head when a file is opened again', async () => {
    const s = await ready();
    await insertRows(s, 'tasks', [
      { id: 't1', title: 'one', boardId: 'a' },
      { id: 't2', title: 'two', boardId: 'a' },
    ]);
    await s.close();
    const again = await t.open();
    expect(again.feed.head()).toBe(2);
    expect(await again.lastSyncId()).toBe(2);
  });
});

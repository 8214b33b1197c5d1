/**
 * What only the SQLite storage shows of retention: the tables themselves. A
 * prune leaves no group-index entry of a pruned change behind (the contract
 * cannot see the index, only what reads through it), stores the floor in
 * `_ablo_meta`, and deletes idempotency records oldest first. The Storage
 * port's promises are in test/engine/storage/contract/retention.ts.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { PRUNE_CHANGES_CHUNK } from '../../../src/engine/storage/sqlite-retention.js';
import { defineSchema, model, z } from '../../../src/schema/index.js';
import { change, push, T0, useTempStorage } from './helpers.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), projectId: z.string() }, {}, { syncGroupFormat: 'project:{projectId}' }),
});

const t = useTempStorage();
const LATER = '2024-06-01T00:00:00.000Z';

describe('SQLite retention tables', () => {
  it('removes every group-index entry of the pruned changes (groups and previous groups), over several chunks, and stores the floor', async () => {
    const s = await t.open();
    await push(s, schema.serialized);
    const n = PRUNE_CHANGES_CHUNK * 2 + 10;
    await s.transaction(async (tx) => {
      for (let i = 1; i <= n; i++) {
        // Every third entry moved its row between groups: indexed under both.
        const moved = i % 3 === 0 ? { prevGroups: [`project:old${i % 7}`] } : {};
        await tx.appendChange(change(i, 'tasks', `t${i}`, { groups: [`project:p${i % 5}`], at: i <= n - 5 ? T0 : LATER, ...moved }));
      }
    });
    const result = await s.prune({ changesBefore: '2024-03-01T00:00:00.000Z', idempotencyBefore: '2000-01-01T00:00:00.000Z' });
    expect(result).toEqual({ changes: n - 5, idempotency: 0, floor: n - 4 });
    await s.close();

    const db = new Database(t.file(), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) FROM _ablo_change_groups WHERE sync_id < ?').pluck().get(n - 4)).toBe(0);
      // What is left is indexed as before: one entry per group and previous group of the 5 entries kept.
      const kept = db.prepare('SELECT sync_id, grp FROM _ablo_change_groups ORDER BY sync_id, grp').all() as Array<{ sync_id: number; grp: string }>;
      const expected = [];
      for (let i = n - 4; i <= n; i++) {
        const groups = [`project:p${i % 5}`, ...(i % 3 === 0 ? [`project:old${i % 7}`] : [])].sort();
        for (const grp of groups) expected.push({ sync_id: i, grp });
      }
      expect(kept).toEqual(expected);
      expect(db.prepare(`SELECT value FROM _ablo_meta WHERE key = 'change_log_floor'`).pluck().get()).toBe(String(n - 4));
    } finally {
      db.close();
    }
  });

  it('deletes idempotency records stored before the cutoff, oldest first, and keeps the rest', async () => {
    const s = await t.open();
    await push(s, schema.serialized);
    const receipt = { object: 'commit' as const, id: 'c', clientTxId: 'k', status: 'committed' as const, lastSyncId: 0, results: [] };
    await s.transaction(async (tx) => {
      for (let i = 0; i < 12; i++) await tx.putIdempotency(`k${i}`, { requestHash: 'h', receipt });
    });
    await s.close();
    // Backdate the first 7 (stored in insertion order), as if written two days ago.
    const rw = new Database(t.file());
    rw.prepare(`UPDATE _ablo_idempotency SET created_at = '2000-01-01T00:00:00.000Z' WHERE key IN (${Array.from({ length: 7 }, (_, i) => `'k${i}'`).join(',')})`).run();
    rw.close();
    const again = await t.open();
    expect(await again.prune({ changesBefore: '2000-01-01T00:00:00.000Z', idempotencyBefore: '2001-01-01T00:00:00.000Z' })).toMatchObject({ idempotency: 7 });
    await again.transaction(async (tx) => {
      expect(await tx.getIdempotency('k6')).toBeNull();
      expect(await tx.getIdempotency('k7')).not.toBeNull();
    });
  });
});

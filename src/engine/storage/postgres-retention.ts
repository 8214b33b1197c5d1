/**
 * Postgres storage: retention (`Storage.prune`). The change log is deleted as
 * a prefix in sync-id order, with its group-index entries, one chunk per short
 * transaction that takes the head row first (so no commit of any process runs
 * between a stale check and the floor it read); the floor is stored in
 * `_ablo_meta` in the same transaction. Idempotency records go oldest first.
 */
import type pg from 'pg';
import { PG_META_FLOOR, PG_SQL } from './postgres-internal.js';

/** Change-log entries deleted per chunk (with their group-index entries). */
export const PG_PRUNE_CHANGES_CHUNK = 1000;
/** Idempotency records deleted per chunk. */
export const PG_PRUNE_IDEMPOTENCY_CHUNK = 5000;

const SQL = {
  /** The oldest entries, never the newest one (a prune never empties the log). */
  oldestChanges: `SELECT sync_id, at FROM _ablo_changes WHERE sync_id < (SELECT max(sync_id) FROM _ablo_changes) ORDER BY sync_id LIMIT $1`,
  /** The group-index entries of the entries up to a sync id: each group (and previous group) they name, as a key range. */
  deleteGroupsUpTo: `DELETE FROM _ablo_change_groups cg
    USING (SELECT DISTINCT g AS grp FROM _ablo_changes c, json_array_elements_text(c.groups::json) g WHERE c.sync_id <= $1
           UNION
           SELECT DISTINCT g FROM _ablo_changes c, json_array_elements_text(c.prev_groups::json) g WHERE c.sync_id <= $1 AND c.prev_groups IS NOT NULL) x
    WHERE cg.grp = x.grp AND cg.sync_id <= $1`,
  deleteChanges: `DELETE FROM _ablo_changes WHERE sync_id <= $1`,
  deleteIdempotency: `DELETE FROM _ablo_idempotency WHERE key IN (SELECT key FROM _ablo_idempotency WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
} as const;

/** Index for the idempotency prune (records are found by age). */
export const PG_RETENTION_DDL = `CREATE INDEX IF NOT EXISTS _ablo_idempotency_created ON _ablo_idempotency (created_at);`;

/**
 * Delete one chunk of the change log's prefix written before `before` (ISO
 * times compare as text), in one transaction on `conn` holding the head row,
 * and store the new floor. Returns the entries deleted (fewer than a chunk:
 * the prefix is done) and the floor (null when nothing was deleted).
 */
export async function pgPruneChangesChunk(conn: pg.Client, before: string): Promise<{ deleted: number; floor: number | null; more: boolean }> {
  await conn.query('BEGIN');
  try {
    await conn.query(PG_SQL.lockHead);
    const rows = (await conn.query(SQL.oldestChanges, [PG_PRUNE_CHANGES_CHUNK])).rows as Array<{ sync_id: number | string; at: string }>;
    let last: number | null = null;
    let count = 0;
    for (const r of rows) {
      if (!(r.at < before)) break;
      last = Number(r.sync_id);
      count++;
    }
    if (last === null) {
      await conn.query('COMMIT');
      return { deleted: 0, floor: null, more: false };
    }
    // Every entry below this chunk is gone already: each group's index entries up to `last` are this chunk's.
    await conn.query(SQL.deleteGroupsUpTo, [last]);
    await conn.query(SQL.deleteChanges, [last]);
    const floor = last + 1;
    await conn.query(PG_SQL.putMeta, [PG_META_FLOOR, String(floor)]);
    await conn.query('COMMIT');
    return { deleted: count, floor, more: count === PG_PRUNE_CHANGES_CHUNK };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Delete one chunk of the idempotency records stored before `before`, oldest first. */
export async function pgPruneIdempotencyChunk(conn: pg.Client, before: string): Promise<{ deleted: number; more: boolean }> {
  const res = await conn.query(SQL.deleteIdempotency, [before, PG_PRUNE_IDEMPOTENCY_CHUNK]);
  const deleted = res.rowCount ?? 0;
  return { deleted, more: deleted === PG_PRUNE_IDEMPOTENCY_CHUNK };
}

/** The stored floor (0 when nothing was ever pruned). */
export async function pgReadFloor(conn: { query(sql: string, params: string[]): Promise<{ rows: unknown[] }> }): Promise<number> {
  const row = (await conn.query(PG_SQL.getMeta, [PG_META_FLOOR])).rows[0] as { value: string } | undefined;
  return Number(row?.value ?? 0);
}

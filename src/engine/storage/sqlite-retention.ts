/**
 * SQLite storage: retention (`Storage.prune`). The change log and the
 * idempotency records are deleted as prefixes (in sync-id order, and in
 * insertion order), one chunk per short write transaction.
 *
 * Neither table needs an index on time: a prefix is read from the start of
 * its key (the sync id; the rowid, which SQLite hands out in insertion order)
 * and ends at the first entry at or after the cutoff.
 */
import type Database from 'better-sqlite3';
import { META_FLOOR, SQL } from './sqlite-internal.js';

type Db = Database.Database;

/** Change-log entries deleted per chunk (with their group-index entries). */
export const PRUNE_CHANGES_CHUNK = 1000;
/** Idempotency records deleted per chunk. */
export const PRUNE_IDEMPOTENCY_CHUNK = 5000;

const RETENTION_SQL = {
  /** The oldest entries, never the newest one (the log is never emptied by a prune). */
  oldestChanges: `SELECT sync_id, at FROM _ablo_changes WHERE sync_id < (SELECT MAX(sync_id) FROM _ablo_changes) ORDER BY sync_id LIMIT ?`,
  /** The groups (and previous groups) the entries up to a sync id are indexed under. */
  chunkGroups: `SELECT DISTINCT j.value FROM _ablo_changes c, json_each(c.groups) j WHERE c.sync_id <= @upTo
    UNION
    SELECT DISTINCT j.value FROM _ablo_changes c, json_each(c.prev_groups) j WHERE c.sync_id <= @upTo AND c.prev_groups IS NOT NULL`,
  /** One group's index entries up to a sync id: a range of the key (grp, sync_id). */
  deleteGroupUpTo: `DELETE FROM _ablo_change_groups WHERE grp = ? AND sync_id <= ?`,
  deleteChanges: `DELETE FROM _ablo_changes WHERE sync_id <= ?`,
  oldestIdempotency: `SELECT rowid AS r, created_at AS at FROM _ablo_idempotency ORDER BY rowid LIMIT ?`,
  deleteIdempotency: `DELETE FROM _ablo_idempotency WHERE rowid <= ?`,
} as const;

/** The last key of the prefix of `rows` written before `before` (ISO times compare as text), and its length. */
function prefixBefore<K>(rows: Array<{ key: K; at: string }>, before: string): { last: K | null; count: number } {
  let last: K | null = null;
  let count = 0;
  for (const r of rows) {
    if (!(r.at < before)) break;
    last = r.key;
    count++;
  }
  return { last, count };
}

/**
 * Delete one chunk of the change log's prefix written before `before`, in one
 * immediate transaction, and raise the stored floor. Returns the entries
 * deleted (fewer than a chunk: the prefix is done) and the new floor (null
 * when nothing was deleted).
 */
export function pruneChangesChunk(db: Db, before: string): { deleted: number; floor: number | null; more: boolean } {
  return db
    .transaction(() => {
      const rows = (db.prepare(RETENTION_SQL.oldestChanges).all(PRUNE_CHANGES_CHUNK) as Array<{ sync_id: number; at: string }>).map((r) => ({
        key: r.sync_id,
        at: r.at,
      }));
      const { last, count } = prefixBefore(rows, before);
      if (last === null) return { deleted: 0, floor: null, more: false };
      // Every entry below this chunk is gone already: each group's index entries up to `last` are this chunk's.
      const deleteGroup = db.prepare(RETENTION_SQL.deleteGroupUpTo);
      for (const grp of db.prepare(RETENTION_SQL.chunkGroups).pluck().all({ upTo: last }) as string[]) deleteGroup.run(grp, last);
      db.prepare(RETENTION_SQL.deleteChanges).run(last);
      const floor = last + 1;
      db.prepare(SQL.putMeta).run(META_FLOOR, String(floor));
      return { deleted: count, floor, more: count === PRUNE_CHANGES_CHUNK };
    })
    .immediate();
}

/** Delete one chunk of the idempotency records stored before `before` (oldest first). */
export function pruneIdempotencyChunk(db: Db, before: string): { deleted: number; more: boolean } {
  return db
    .transaction(() => {
      const rows = (db.prepare(RETENTION_SQL.oldestIdempotency).all(PRUNE_IDEMPOTENCY_CHUNK) as Array<{ r: number; at: string }>).map((r) => ({
        key: r.r,
        at: r.at,
      }));
      const { last, count } = prefixBefore(rows, before);
      if (last === null) return { deleted: 0, more: false };
      db.prepare(RETENTION_SQL.deleteIdempotency).run(last);
      return { deleted: count, more: count === PRUNE_IDEMPOTENCY_CHUNK };
    })
    .immediate();
}

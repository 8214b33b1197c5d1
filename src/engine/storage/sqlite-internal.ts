/**
 * SQLite storage: the engine's own tables (prefixed `_ablo_`; model names
 * start with a letter, so they never clash) and the mapping of their rows.
 */
import { GROUPS_DDL } from './sqlite-groups.js';
import { CHANGE_COLUMNS, CHANGE_WIDTH, changeFilterSql, changeValues, KEY_COLUMNS } from './records.js';
import type { ChangeFilter, ChangeRecord } from './types.js';

/**
 * Layout version of the internal tables, kept in `_ablo_meta`.
 * 1: the change log, idempotency, schema versions, keys, meta.
 * 2: + the sync-group index (`_ablo_row_groups`, `_ablo_change_groups`);
 *    a format-1 file is backfilled when it is opened.
 * 3: + the change log's credential (`credential_id`) and the participant a
 *    writer acted for (`on_behalf_kind`, `on_behalf_id`); + key kinds:
 *    `_ablo_api_keys.kind` (`secret` | `restricted`), `groups` and
 *    `operations` (a restricted key's scope, JSON arrays). Columns added to an
 *    older file when it is opened (its changes keep null: not recorded; its
 *    keys become secret keys). An older engine refuses a format-3 file (it
 *    would take restricted keys for secret ones).
 */
export const STORAGE_FORMAT = 3;

/** Columns format 3 added to `_ablo_changes` (see `upgradeChangeLog`). */
export const AUDIT_COLUMNS = ['credential_id', 'on_behalf_kind', 'on_behalf_id'] as const;

export const INTERNAL_DDL = `
CREATE TABLE IF NOT EXISTS _ablo_changes (
  sync_id INTEGER PRIMARY KEY,
  model TEXT NOT NULL,
  row_id TEXT NOT NULL,
  action TEXT NOT NULL,
  fields TEXT NOT NULL,
  data TEXT,
  groups TEXT NOT NULL,
  prev_groups TEXT,
  participant_kind TEXT NOT NULL,
  participant_id TEXT NOT NULL,
  client_tx_id TEXT,
  commit_id TEXT NOT NULL,
  at TEXT NOT NULL,
  credential_id TEXT,
  on_behalf_kind TEXT,
  on_behalf_id TEXT
);
CREATE INDEX IF NOT EXISTS _ablo_changes_row ON _ablo_changes (model, row_id, sync_id);
CREATE TABLE IF NOT EXISTS _ablo_idempotency (
  key TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  receipt TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _ablo_schema_versions (
  version INTEGER PRIMARY KEY,
  serialized TEXT NOT NULL,
  applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _ablo_api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT,
  participant_kind TEXT NOT NULL,
  participant_id TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'secret',
  groups TEXT,
  operations TEXT
);
CREATE TABLE IF NOT EXISTS _ablo_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
${GROUPS_DDL}`;

/** Columns a format-2 key table lacks: added by `ALTER TABLE` when the file is opened (its keys stay secret keys). */
export const KEY_KIND_COLUMNS: ReadonlyArray<[name: string, ddl: string]> = [
  ['kind', `kind TEXT NOT NULL DEFAULT 'secret'`],
  ['groups', 'groups TEXT'],
  ['operations', 'operations TEXT'],
];

export const META_FORMAT = 'storage_format';
/** Lowest sync id still in the change log, once something was pruned. */
export const META_FLOOR = 'change_log_floor';

const PLACEHOLDERS = Array.from({ length: CHANGE_WIDTH }, () => '?').join(', ');

export const SQL = {
  insertChange: `INSERT INTO _ablo_changes (${CHANGE_COLUMNS}) VALUES (${PLACEHOLDERS})`,
  changesAfter: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes WHERE sync_id > ? ORDER BY sync_id LIMIT ?`,
  rowChangesAfter: `SELECT sync_id, action, fields, participant_kind, participant_id, on_behalf_kind, on_behalf_id FROM _ablo_changes
    WHERE model = ? AND row_id = ? AND sync_id > ? ORDER BY sync_id`,
  groupChangeAfter: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes
    WHERE sync_id = (SELECT sync_id FROM _ablo_change_groups WHERE grp = ? AND sync_id > ? ORDER BY sync_id LIMIT 1)`,
  /** One group's changes in (after, upTo], in order, at most LIMIT: an index range. */
  changesInGroup: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes
    WHERE sync_id IN (SELECT sync_id FROM _ablo_change_groups WHERE grp = ? AND sync_id > ? AND sync_id <= ? ORDER BY sync_id LIMIT ?)
    ORDER BY sync_id`,
  /** Several groups' changes in (after, upTo] (a JSON array of groups), in order, each once, at most LIMIT. */
  changesInGroups: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes
    WHERE sync_id IN (SELECT sync_id FROM _ablo_change_groups WHERE grp IN (SELECT value FROM json_each(?)) AND sync_id > ? AND sync_id <= ?)
    ORDER BY sync_id LIMIT ?`,
  /**
   * Where sync-id allocation goes on from: the highest id in the change log,
   * or just below the floor when a prune emptied it (an id is never handed out twice).
   */
  headSyncId: `SELECT MAX(COALESCE((SELECT MAX(sync_id) FROM _ablo_changes), 0),
    COALESCE((SELECT CAST(value AS INTEGER) - 1 FROM _ablo_meta WHERE key = '${META_FLOOR}'), 0))`,
  getIdempotency: `SELECT request_hash, receipt FROM _ablo_idempotency WHERE key = ?`,
  putIdempotency: `INSERT INTO _ablo_idempotency (key, request_hash, receipt, created_at) VALUES (?, ?, ?, ?)`,
  latestSchema: `SELECT version, serialized, applied_at FROM _ablo_schema_versions ORDER BY version DESC LIMIT 1`,
  nextSchemaVersion: `SELECT COALESCE(MAX(version), 0) + 1 FROM _ablo_schema_versions`,
  insertSchema: `INSERT INTO _ablo_schema_versions (version, serialized, applied_at) VALUES (?, ?, ?)`,
  getMeta: `SELECT value FROM _ablo_meta WHERE key = ?`,
  putMeta: `INSERT INTO _ablo_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  deleteMeta: `DELETE FROM _ablo_meta WHERE key = ?`,
  ensureMeta: `INSERT INTO _ablo_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
  listMeta: `SELECT key, value FROM _ablo_meta WHERE substr(key, 1, length(?)) = ? ORDER BY key`,
  insertKey: `INSERT INTO _ablo_api_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  keyByHash: `SELECT * FROM _ablo_api_keys WHERE hash = ?`,
  listKeys: `SELECT * FROM _ablo_api_keys ORDER BY created_at, id`,
  // A second revoke keeps the first revocation time.
  revokeKey: `UPDATE _ablo_api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
  countKeys: `SELECT COUNT(*) FROM _ablo_api_keys`,
} as const;

export { changeFromRow, keyFromRow, keyParams, rowChangeFromRow, type ChangeRow, type KeyRow } from './records.js';

/** `Storage.changesWhere` over one window of the log: entries with from < sync_id <= to that match `filter`, in order, at most `limit`. */
export function changesWhereSql(filter: ChangeFilter, from: number, to: number, limit: number): { sql: string; params: unknown[] } {
  const params: unknown[] = [from, to];
  const where = changeFilterSql(filter, (v) => {
    params.push(v);
    return '?';
  });
  params.push(limit);
  return { sql: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes WHERE sync_id > ? AND sync_id <= ? AND ${where} ORDER BY sync_id LIMIT ?`, params };
}

/** A change's column values for `SQL.insertChange`. */
export function changeParams(c: ChangeRecord): unknown[] {
  return changeValues(c);
}

/**
 * Postgres storage: the engine's own tables (prefixed `_ablo_`; model names
 * start with a letter, so they never clash), in the storage's schema (every
 * connection's search_path), and the mapping of their rows. The layouts
 * mirror sqlite-internal.ts; the change log's `fields`, `data`, `groups` and
 * `prev_groups` hold JSON text, its `row_id` the escaped id (see
 * postgres-codec.ts).
 *
 * `_ablo_head` holds the sync-id counter, the schema version and the
 * revocation counter: every write transaction takes its one row `FOR UPDATE`
 * first (see postgres.ts); a revocation (of an API key or a session) moves
 * the counter in its own transaction.
 */
import { escapeText, unescapeText, type PgValue } from './postgres-codec.js';
import { CHANGE_COLUMNS, CHANGE_WIDTH, changeFilterSql, changeReader, changeValues, KEY_COLUMNS } from './records.js';
import type { ChangeFilter, ChangeRecord } from './types.js';

/**
 * Layout version of the internal tables, kept in `_ablo_meta`.
 * 1: the change log, heads, idempotency, schema versions, keys, meta, the sync-group index.
 * 2: + the change log's credential (`credential_id`) and the participant a
 *    writer acted for (`on_behalf_kind`, `on_behalf_id`; old entries keep
 *    null: `PG_UPGRADE_2`); + key kinds: `_ablo_api_keys.kind` (`secret` |
 *    `restricted`), `groups` and `operations` (a restricted key's scope, JSON
 *    text; a format-1 database's keys become secret keys: `PG_KEYS_UPGRADE`).
 *    Both are added when a process opens an older database. An older engine
 *    refuses a format-2 database (it would take restricted keys for secret ones).
 */
export const PG_STORAGE_FORMAT = 2;

/** Format 1 → 2: nullable columns without a default (no rewrite of the table). */
export const PG_UPGRADE_2 = `ALTER TABLE _ablo_changes ADD COLUMN IF NOT EXISTS credential_id text,
  ADD COLUMN IF NOT EXISTS on_behalf_kind text, ADD COLUMN IF NOT EXISTS on_behalf_id text`;

export const PG_INTERNAL_DDL = `
CREATE TABLE IF NOT EXISTS _ablo_head (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq bigint NOT NULL DEFAULT 0,
  schema_version integer NOT NULL DEFAULT 0
);
ALTER TABLE _ablo_head ADD COLUMN IF NOT EXISTS revocations bigint NOT NULL DEFAULT 0;
INSERT INTO _ablo_head (id) VALUES (true) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS _ablo_changes (
  sync_id bigint PRIMARY KEY,
  model text COLLATE "C" NOT NULL,
  row_id text COLLATE "C" NOT NULL,
  action text NOT NULL,
  fields text NOT NULL,
  data text,
  groups text NOT NULL,
  prev_groups text,
  participant_kind text NOT NULL,
  participant_id text NOT NULL,
  client_tx_id text,
  commit_id text NOT NULL,
  at text NOT NULL,
  credential_id text,
  on_behalf_kind text,
  on_behalf_id text
);
CREATE INDEX IF NOT EXISTS _ablo_changes_row ON _ablo_changes (model, row_id, sync_id);
CREATE TABLE IF NOT EXISTS _ablo_idempotency (
  key text COLLATE "C" PRIMARY KEY,
  request_hash text NOT NULL,
  receipt text NOT NULL,
  created_at text NOT NULL
);
CREATE TABLE IF NOT EXISTS _ablo_schema_versions (
  version integer PRIMARY KEY,
  serialized text NOT NULL,
  applied_at text NOT NULL
);
CREATE TABLE IF NOT EXISTS _ablo_api_keys (
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  prefix text NOT NULL,
  hash text COLLATE "C" NOT NULL UNIQUE,
  created_at text COLLATE "C" NOT NULL,
  revoked_at text,
  participant_kind text NOT NULL,
  participant_id text NOT NULL,
  kind text NOT NULL DEFAULT 'secret',
  groups text,
  operations text
);
CREATE TABLE IF NOT EXISTS _ablo_meta (
  key text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE IF NOT EXISTS _ablo_row_groups (
  model text COLLATE "C" NOT NULL,
  grp text COLLATE "C" NOT NULL,
  row_id text COLLATE "C" NOT NULL,
  PRIMARY KEY (model, grp, row_id)
);
CREATE TABLE IF NOT EXISTS _ablo_change_groups (
  grp text COLLATE "C" NOT NULL,
  sync_id bigint NOT NULL,
  PRIMARY KEY (grp, sync_id)
);
`;

/** Format 1 → 2: the key-kind columns (the existing keys are secret keys: the default). */
export const PG_KEYS_UPGRADE = `
ALTER TABLE _ablo_api_keys ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'secret';
ALTER TABLE _ablo_api_keys ADD COLUMN IF NOT EXISTS groups text;
ALTER TABLE _ablo_api_keys ADD COLUMN IF NOT EXISTS operations text;
`;

export const PG_META_FORMAT = 'storage_format';
export const PG_META_FLOOR = 'change_log_floor';

export { CHANGE_COLUMNS, CHANGE_WIDTH };

export const PG_SQL = {
  lockHead: `SELECT seq, schema_version, revocations FROM _ablo_head WHERE id FOR UPDATE`,
  readHead: `SELECT seq, schema_version, revocations FROM _ablo_head WHERE id`,
  /** A revocation: the counter moves (taking the head row until COMMIT) and the hint goes out at COMMIT. */
  bumpRevocations: `WITH h AS (UPDATE _ablo_head SET revocations = revocations + 1 WHERE id RETURNING revocations)
    SELECT (SELECT revocations FROM h) AS revocations, pg_notify($1, $2)`,
  writeSeq: `UPDATE _ablo_head SET seq = $1 WHERE id`,
  writeSchemaVersion: `UPDATE _ablo_head SET schema_version = $1 WHERE id`,
  /** The counter written back and the commit hint sent, in one statement. */
  writeSeqAndNotify: `WITH h AS (UPDATE _ablo_head SET seq = $1 WHERE id) SELECT pg_notify($2, $3)`,
  changesAfter: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes WHERE sync_id > $1 ORDER BY sync_id LIMIT $2`,
  rowChangesAfter: `SELECT sync_id, action, fields, participant_kind, participant_id, on_behalf_kind, on_behalf_id FROM _ablo_changes
    WHERE model = $1 AND row_id = $2 AND sync_id > $3 ORDER BY sync_id`,
  groupChangeAfter: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes
    WHERE sync_id = (SELECT sync_id FROM _ablo_change_groups WHERE grp = $1 AND sync_id > $2 ORDER BY sync_id LIMIT 1)`,
  changesInGroup: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes
    WHERE sync_id IN (SELECT sync_id FROM _ablo_change_groups WHERE grp = $1 AND sync_id > $2 AND sync_id <= $3 ORDER BY sync_id LIMIT $4)
    ORDER BY sync_id`,
  changesInGroups: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes
    WHERE sync_id IN (SELECT sync_id FROM _ablo_change_groups WHERE grp = ANY($1::text[]) AND sync_id > $2 AND sync_id <= $3)
    ORDER BY sync_id LIMIT $4`,
  /** Change-group entries of a batch: parallel arrays of groups and sync ids. */
  insertChangeGroups: `INSERT INTO _ablo_change_groups (grp, sync_id) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING`,
  insertRowGroups: `INSERT INTO _ablo_row_groups (model, grp, row_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`,
  deleteRowGroups: `DELETE FROM _ablo_row_groups g USING unnest($1::text[], $2::text[], $3::text[]) AS d(model, grp, row_id)
    WHERE g.model = d.model AND g.grp = d.grp AND g.row_id = d.row_id`,
  getIdempotency: `SELECT request_hash, receipt FROM _ablo_idempotency WHERE key = $1`,
  putIdempotency: `INSERT INTO _ablo_idempotency (key, request_hash, receipt, created_at) VALUES ($1, $2, $3, $4)`,
  latestSchema: `SELECT version, serialized, applied_at FROM _ablo_schema_versions ORDER BY version DESC LIMIT 1`,
  nextSchemaVersion: `SELECT COALESCE(MAX(version), 0) + 1 AS v FROM _ablo_schema_versions`,
  insertSchema: `INSERT INTO _ablo_schema_versions (version, serialized, applied_at) VALUES ($1, $2, $3)`,
  getMeta: `SELECT value FROM _ablo_meta WHERE key = $1`,
  putMeta: `INSERT INTO _ablo_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  deleteMeta: `DELETE FROM _ablo_meta WHERE key = $1`,
  ensureMeta: `INSERT INTO _ablo_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
  listMeta: `SELECT key, value FROM _ablo_meta WHERE left(key, length($1::text)) = $1::text ORDER BY key COLLATE "C"`,
  insertKey: `INSERT INTO _ablo_api_keys (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
  keyByHash: `SELECT * FROM _ablo_api_keys WHERE hash = $1`,
  listKeys: `SELECT * FROM _ablo_api_keys ORDER BY created_at, id`,
  revokeKey: `UPDATE _ablo_api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`,
  countKeys: `SELECT COUNT(*) AS n FROM _ablo_api_keys`,
} as const;

/** `Storage.changesWhere`: entries after a sync id that match `filter` ($1: after, then the filter's values, the limit last). */
export function changesWhereSql(filter: ChangeFilter, afterSyncId: number, limit: number): { sql: string; params: PgValue[] } {
  const params: PgValue[] = [afterSyncId];
  const where = changeFilterSql(
    filter,
    (v) => {
      params.push(v);
      return `$${params.length}`;
    },
    escapeText,
  );
  params.push(limit);
  return { sql: `SELECT ${CHANGE_COLUMNS} FROM _ablo_changes WHERE sync_id > $1 AND ${where} ORDER BY sync_id LIMIT $${params.length}`, params };
}

/** INSERT of `n` change-log rows. */
export function insertChangesSql(n: number): string {
  const rows = Array.from({ length: n }, (_, r) => `(${Array.from({ length: CHANGE_WIDTH }, (_, i) => `$${r * CHANGE_WIDTH + i + 1}`).join(', ')})`);
  return `INSERT INTO _ablo_changes (${CHANGE_COLUMNS}) VALUES ${rows.join(', ')}`;
}

/**
 * One statement for the rest of a `write`: the row-group entries it moves
 * (parameters $1–$3 deleted, $4–$6 inserted: model, group, row id arrays),
 * the change-group entries ($7 groups, $8 sync ids) and `n` change-log rows
 * (from $9); with `insertRows`, an INSERT of model rows whose parameters
 * follow (the write's last creates). The keys deleted and inserted are disjoint (the net changes of
 * the batch), so the parts never touch the same entry.
 */
export function appendWriteSql(n: number, insertRows: string | null = null): string {
  const rows = Array.from({ length: n }, (_, r) => `(${Array.from({ length: CHANGE_WIDTH }, (_, i) => `$${8 + r * CHANGE_WIDTH + i + 1}`).join(', ')})`);
  return (
    `WITH ${insertRows ? `ins AS (${insertRows}), ` : ''}rg_del AS (DELETE FROM _ablo_row_groups g USING unnest($1::text[], $2::text[], $3::text[]) AS d(model, grp, row_id) ` +
    `WHERE g.model = d.model AND g.grp = d.grp AND g.row_id = d.row_id), ` +
    `rg_ins AS (INSERT INTO _ablo_row_groups (model, grp, row_id) SELECT * FROM unnest($4::text[], $5::text[], $6::text[]) ON CONFLICT DO NOTHING), ` +
    `cg AS (INSERT INTO _ablo_change_groups (grp, sync_id) SELECT * FROM unnest($7::text[], $8::bigint[]) ON CONFLICT DO NOTHING) ` +
    `INSERT INTO _ablo_changes (${CHANGE_COLUMNS}) VALUES ${rows.join(', ')}`
  );
}

export { keyFromRow, keyParams, rowChangeFromRow, type ChangeRow, type KeyRow } from './records.js';

/** Append a change's column values (its row id escaped) to `out`. */
export function pushChangeParams(c: ChangeRecord, out: PgValue[]): void {
  out.push(...changeValues(c, escapeText));
}

/** A change-log row as the port's record (the row id unescaped). */
export const changeFromRow = changeReader(unescapeText);

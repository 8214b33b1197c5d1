/**
 * SQLite storage: the sync-group index.
 *
 * - `_ablo_row_groups (model, grp, row_id)`: the groups of every stored row,
 *   derived from the model's `syncGroupFormat` (or `default`). A bootstrap
 *   reads one group's rows of one model as a range of the primary key in id
 *   order, and a group prefix (`board:`) is a range too. One index only (the
 *   key): a row's entries are found from the groups its values give, which is
 *   what the entries were written from.
 * - `_ablo_change_groups (grp, sync_id)`: the groups and previous groups of
 *   every change-log entry, so catch-up and group read dependencies read one
 *   group's changes as an index range in sync-id order.
 *
 * Both are written in the transaction that writes the row or the change. A
 * schema push that changes what a model's groups are (its templates, or the
 * stored values of a field they use) re-derives that model's row entries in
 * the push's transaction, in chunks (see `rederiveRows`).
 */
import type Database from 'better-sqlite3';
import { compileSchema } from '../../schema/compile.js';
import type { SerializedSchema } from '../../schema/descriptor.js';
import type { SchemaChange, SchemaPlan } from '../../schema/plan.js';
import { hasOwn, ModelCodec } from './sqlite-codec.js';

type Db = Database.Database;

/** Rows handled per chunk by the long-running parts of a schema change (between two yields). */
export const CHUNK_ROWS = 2000;

export const GROUPS_DDL = `
CREATE TABLE IF NOT EXISTS _ablo_row_groups (
  model TEXT NOT NULL,
  grp TEXT NOT NULL,
  row_id TEXT NOT NULL,
  PRIMARY KEY (model, grp, row_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _ablo_change_groups (
  grp TEXT NOT NULL,
  sync_id INTEGER NOT NULL,
  PRIMARY KEY (grp, sync_id)
) WITHOUT ROWID;
`;

export const GROUP_SQL = {
  /** Ids of one group's rows of one model after an id, in order: `IN (…)` of a bootstrap page. */
  groupRowIds: `SELECT row_id FROM _ablo_row_groups WHERE model = ? AND grp = ? AND row_id > ? ORDER BY row_id LIMIT ?`,
  insertRowGroup: `INSERT OR IGNORE INTO _ablo_row_groups (model, grp, row_id) VALUES (?, ?, ?)`,
  deleteRowGroup: `DELETE FROM _ablo_row_groups WHERE model = ? AND grp = ? AND row_id = ?`,
  /** One chunk of a model's entries (for dropping or relabelling them in chunks). */
  deleteModelChunk: `DELETE FROM _ablo_row_groups WHERE model = @model AND (grp, row_id) IN (SELECT grp, row_id FROM _ablo_row_groups WHERE model = @model LIMIT @n)`,
  relabelModelChunk: `UPDATE _ablo_row_groups SET model = @to WHERE model = @from AND (grp, row_id) IN (SELECT grp, row_id FROM _ablo_row_groups WHERE model = @from LIMIT @n)`,
  insertChangeGroup: `INSERT OR IGNORE INTO _ablo_change_groups (grp, sync_id) VALUES (?, ?)`,
  backfillChangeGroups: `INSERT OR IGNORE INTO _ablo_change_groups (grp, sync_id)
    SELECT j.value, c.sync_id FROM _ablo_changes c, json_each(c.groups) j
    UNION ALL
    SELECT j.value, c.sync_id FROM _ablo_changes c, json_each(c.prev_groups) j WHERE c.prev_groups IS NOT NULL`,
} as const;

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** How one model's rows map to sync groups. */
export interface ModelGroups {
  /** The row's groups, without repeats. */
  of(row: Record<string, unknown>): string[];
  /** Fields the groups are made of (a write to none of them leaves the groups as they are). */
  readonly fields: ReadonlySet<string>;
  /** True when the groups depend on more than the row's id (finding them needs the row). */
  readonly needsRow: boolean;
  /** True when a row can be in more than one group. */
  readonly multi: boolean;
}

export function templateFields(templates: readonly string[]): Set<string> {
  const fields = new Set<string>();
  for (const t of templates) for (const m of t.matchAll(PLACEHOLDER)) fields.add(m[1]!);
  return fields;
}

export function modelGroups(schema: SerializedSchema, model: string): ModelGroups {
  const compiled = compileSchema(schema).model(model);
  const templates = schema.models[model]!.options.syncGroupFormat ?? [];
  const multi = templates.length > 1;
  const fields = templateFields(templates);
  return {
    of: multi ? (row) => [...new Set(compiled.syncGroups(row))] : (row) => compiled.syncGroups(row),
    fields,
    needsRow: [...fields].some((f) => f !== 'id'),
    multi,
  };
}

/**
 * Write the group entries of every row of `model` again, from its rows as
 * stored and the groups `schema` gives them: the old entries go, then the
 * rows are read and indexed, CHUNK_ROWS rows per step (the caller may yield
 * between steps; everything stays in its transaction, so nobody sees the
 * index half built).
 */
export function* rederiveRows(db: Db, schema: SerializedSchema, model: string): Generator<void, void, void> {
  yield* dropModelGroups(db, model);
  const codec = new ModelCodec(model, schema.models[model]!);
  const groups = modelGroups(schema, model);
  const page = db.prepare(codec.scanAfterSql).raw(true);
  const insert = db.prepare(GROUP_SQL.insertRowGroup);
  let after = '';
  for (;;) {
    const raws = page.all(after, CHUNK_ROWS) as unknown[][];
    for (const raw of raws) {
      const row = codec.decodeRow(raw);
      for (const g of groups.of(row)) insert.run(model, g, row.id);
    }
    if (raws.length < CHUNK_ROWS) return;
    after = raws[raws.length - 1]![0] as string;
    yield;
  }
}

/** Remove every group entry of `model` (a dropped model), in chunks. */
export function* dropModelGroups(db: Db, model: string): Generator<void, void, void> {
  const del = db.prepare(GROUP_SQL.deleteModelChunk);
  while (del.run({ model, n: CHUNK_ROWS }).changes === CHUNK_ROWS) yield;
}

/** Move every group entry of model `from` to model `to` (a renamed model), in chunks. */
export function* relabelModelGroups(db: Db, from: string, to: string): Generator<void, void, void> {
  const move = db.prepare(GROUP_SQL.relabelModelChunk);
  while (move.run({ from, to, n: CHUNK_ROWS }).changes === CHUNK_ROWS) yield;
}

/** Kinds of change that rewrite the stored values of a field. */
const REWRITES_VALUES = new Set<SchemaChange['kind']>(['change_type', 'make_required', 'remove_enum_value']);

/**
 * Models of `next` whose rows' groups may differ after `plan` (applied over
 * `prev`): the templates changed (field renames taken into account), or a
 * change rewrote stored values of a field the templates use. New models have
 * no rows; dropped and renamed ones are handled by `dropModelGroups` and
 * `relabelModelGroups`.
 */
export function modelsToRederive(plan: SchemaPlan, prev: SerializedSchema | null, next: SerializedSchema): string[] {
  if (!prev) return [];
  const renamedFrom = new Map<string, string>();
  const fieldRenames = new Map<string, Map<string, string>>();
  for (const c of plan.changes) {
    if (c.kind === 'rename_model') renamedFrom.set(String(c.to), String(c.from));
    if (c.kind === 'rename_field') {
      let m = fieldRenames.get(c.model);
      if (!m) fieldRenames.set(c.model, (m = new Map()));
      m.set(String(c.from), String(c.to));
    }
  }
  const out: string[] = [];
  for (const [name, model] of Object.entries(next.models)) {
    const oldName = renamedFrom.get(name) ?? name;
    if (!hasOwn(prev.models, oldName)) continue;
    const renames = fieldRenames.get(name);
    const before = (prev.models[oldName]!.options.syncGroupFormat ?? [])
      .map((t) => t.replace(PLACEHOLDER, (_m, f: string) => `{${renames?.get(f) ?? f}}`))
      .sort();
    const after = [...(model.options.syncGroupFormat ?? [])].sort();
    if (before.length !== after.length || before.some((t, i) => t !== after[i])) {
      out.push(name);
      continue;
    }
    const fields = templateFields(after);
    if (plan.changes.some((c) => c.model === name && c.path === undefined && c.field !== undefined && fields.has(c.field) && REWRITES_VALUES.has(c.kind))) {
      out.push(name);
    }
  }
  return out;
}

/**
 * SQLite storage: applying a schema plan to the tables. Runs inside the
 * transaction `applySchema` opens on the writer; any error rolls everything
 * back. Only names taken from the plan and the schemas are interpolated, always
 * as quoted identifiers; values are bound parameters.
 *
 * Work that grows with the number of rows (copying a column to a new type,
 * filling defaults, moving values off removed enum values, the sync-group
 * index) runs in chunks of CHUNK_ROWS rows: `applyPlanSteps` is a generator
 * that pauses after each chunk, so the caller can let the event loop run
 * between chunks while the transaction stays open.
 */
import type Database from 'better-sqlite3';
import { AbloError, AbloServerError } from '../../errors.js';
import { acceptsNull, type FieldDescriptor, type SerializedSchema } from '../../schema/descriptor.js';
import { fieldZod } from '../../schema/compile.js';
import type { SchemaChange, SchemaPlan } from '../../schema/plan.js';
import { columnKind, decodeValue, encodeValue, hasOwn, quoteId, sqlType, tableColumnsSql, type SqlValue } from './sqlite-codec.js';
import { CHUNK_ROWS, dropModelGroups, modelsToRederive, rederiveRows, relabelModelGroups } from './sqlite-groups.js';

/** A step of a long schema change: pauses (yields) between chunks of rows. */
type Steps = Generator<void, void, void>;

type Db = Database.Database;

/** Prefix of the indexes the storage keeps on relation foreign keys. `:` cannot occur in a model or field name. */
const FK_INDEX_PREFIX = '_ablo_fk:';

export function fkIndexName(table: string, column: string): string {
  return `${FK_INDEX_PREFIX}${table}:${column}`;
}

export function tableExists(db: Db, table: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;
}

export function tableColumns(db: Db, table: string): Set<string> {
  const rows = db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
  return new Set(rows);
}

/** Names of the (non-automatic) indexes on `table` that include `column`. */
function indexesOnColumn(db: Db, table: string, column: string): string[] {
  const indexes = db.prepare(`SELECT name FROM pragma_index_list(?) WHERE origin = 'c'`).pluck().all(table) as string[];
  return indexes.filter((idx) => (db.prepare(`SELECT name FROM pragma_index_info(?)`).pluck().all(idx) as string[]).includes(column));
}

/** Table name → foreign-key columns that should be indexed, from the relations of `schema`. */
export function wantedFkIndexes(schema: SerializedSchema): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [name, model] of Object.entries(schema.models)) {
    for (const rel of Object.values(model.relations)) {
      const owner = rel.kind === 'belongsTo' ? name : rel.model;
      const ownerModel = hasOwn(schema.models, owner) ? schema.models[owner] : undefined;
      if (!ownerModel || !hasOwn(ownerModel.fields, rel.foreignKey)) continue;
      let set = out.get(owner);
      if (!set) out.set(owner, (set = new Set()));
      set.add(rel.foreignKey);
    }
  }
  return out;
}

/**
 * Make the storage's foreign-key indexes match the relations of `schema`:
 * drop stale ones (relation removed, table or column renamed) and create the
 * missing ones. Index names encode table and column, so a rename shows up as a
 * stale name and is rebuilt under the new one.
 */
export function syncFkIndexes(db: Db, schema: SerializedSchema): void {
  const wanted = wantedFkIndexes(schema);
  for (const table of Object.keys(schema.models)) {
    const want = new Set([...(wanted.get(table) ?? [])].map((col) => fkIndexName(table, col)));
    const have = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`).pluck().all(table) as string[]).filter((n) =>
      n.startsWith(FK_INDEX_PREFIX),
    );
    for (const idx of have) if (!want.has(idx)) db.exec(`DROP INDEX ${quoteId(idx)}`);
    for (const col of wanted.get(table) ?? []) {
      const idx = fkIndexName(table, col);
      if (!have.includes(idx)) db.exec(`CREATE INDEX ${quoteId(idx)} ON ${quoteId(table)} (${quoteId(col)})`);
    }
  }
}

export function fieldOf(schema: SerializedSchema, model: string, field: string): FieldDescriptor {
  const m = hasOwn(schema.models, model) ? schema.models[model] : undefined;
  const f = m && hasOwn(m.fields, field) ? m.fields[field] : undefined;
  if (!f) throw new AbloServerError(`Schema plan names ${model}.${field}, which the new schema does not define.`, { code: 'schema_apply_failed' });
  return f;
}

/** A default that can fill stored rows (present and not null), encoded for the column. */
function encodedDefault(d: FieldDescriptor, model: string, field: string): SqlValue | undefined {
  if (d.default === undefined || d.default === null) return undefined;
  return encodeValue(columnKind(d), d.default, model, field);
}

/** Base descriptor: no null, no optional, no default (the value is already non-null). */
export function bare(d: FieldDescriptor): FieldDescriptor {
  const { nullable: _n, optional: _o, default: _d, ...rest } = d;
  return rest as FieldDescriptor;
}

export const NO = Symbol('no');

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJsonText(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return NO;
  }
}

/** A candidate value of type `to` for an old (decoded, non-null) value, or NO. */
export function coerce(v: unknown, to: FieldDescriptor): unknown {
  switch (to.type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      return JSON.stringify(v);
    case 'enum':
    case 'date':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      return NO;
    case 'number':
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string' && v.trim() !== '') {
        const n = Number(v);
        return Number.isFinite(n) ? n : NO;
      }
      return NO;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
      if (typeof v === 'string') {
        const s = v.trim().toLowerCase();
        if (s === 'true' || s === '1') return true;
        if (s === 'false' || s === '0') return false;
      }
      return NO;
    case 'json':
      return v;
    case 'array':
      if (Array.isArray(v)) return v;
      if (typeof v === 'string') {
        const p = parseJsonText(v);
        return Array.isArray(p) ? p : NO;
      }
      return NO;
    case 'object':
    case 'record':
      if (isPlainObject(v)) return v;
      if (typeof v === 'string') {
        const p = parseJsonText(v);
        return isPlainObject(p) ? p : NO;
      }
      return NO;
  }
}

/**
 * Rebuild a column with a new type: add a temporary column of the new type,
 * copy every value that converts and that the new type accepts (checked with
 * the field's own validator), drop the old column and rename the new one.
 * Values that do not convert become the field's default, or NULL.
 */
function* changeColumnType(db: Db, table: string, field: string, from: FieldDescriptor, to: FieldDescriptor): Steps {
  const t = quoteId(table);
  const col = quoteId(field);
  const tmp = quoteId(`_ablo_tmp_${field}`);
  const toKind = columnKind(to);
  const fromKind = columnKind(from);
  const validator = fieldZod(bare(to));
  const fallback = encodedDefault(to, table, field) ?? null;
  db.exec(`ALTER TABLE ${t} ADD COLUMN ${tmp} ${sqlType(toKind)}`);
  const page = db.prepare(`SELECT "id", ${col} FROM ${t} WHERE "id" > ? AND ${col} IS NOT NULL ORDER BY "id" LIMIT ${CHUNK_ROWS}`).raw(true);
  const write = db.prepare(`UPDATE ${t} SET ${tmp} = ? WHERE "id" = ?`);
  let after = '';
  for (;;) {
    const rows = page.all(after) as Array<[string, unknown]>;
    if (rows.length === 0) break;
    for (const [id, stored] of rows) {
      let value: SqlValue = fallback;
      let old: unknown;
      try {
        old = decodeValue(fromKind, stored);
      } catch {
        // Malformed JSON text: keep it as the string it is.
        old = stored;
      }
      if (old !== null) {
        const candidate = coerce(old, to);
        if (candidate !== NO) {
          const parsed = validator.safeParse(candidate);
          if (parsed.success) value = encodeValue(toKind, parsed.data, table, field);
        }
      }
      if (value !== null) write.run(value, id);
    }
    after = rows[rows.length - 1]![0];
    if (rows.length < CHUNK_ROWS) break;
    yield;
  }
  dropColumn(db, table, field);
  db.exec(`ALTER TABLE ${t} RENAME COLUMN ${tmp} TO ${col}`);
}

/**
 * `UPDATE table SET <set> WHERE <where>` over every row, CHUNK_ROWS rows (by
 * id) per step. `set` and `where` are SQL with `?` placeholders bound by
 * `setParams` and `whereParams`.
 */
function* updateInChunks(db: Db, table: string, set: string, setParams: SqlValue[], where: string | null, whereParams: SqlValue[] = []): Steps {
  const t = quoteId(table);
  const extra = where ? ` AND (${where})` : '';
  const bound = db.prepare(`SELECT "id" FROM ${t} WHERE "id" > ? ORDER BY "id" LIMIT 1 OFFSET ${CHUNK_ROWS - 1}`).pluck();
  const chunk = db.prepare(`UPDATE ${t} SET ${set} WHERE "id" > ? AND "id" <= ?${extra}`);
  const tail = db.prepare(`UPDATE ${t} SET ${set} WHERE "id" > ?${extra}`);
  let after = '';
  for (;;) {
    const last = bound.get(after) as string | undefined;
    if (last === undefined) {
      tail.run(...setParams, after, ...whereParams);
      return;
    }
    chunk.run(...setParams, after, last, ...whereParams);
    after = last;
    yield;
  }
}

function dropColumn(db: Db, table: string, field: string): void {
  // SQLite refuses to drop an indexed column.
  for (const idx of indexesOnColumn(db, table, field)) db.exec(`DROP INDEX ${quoteId(idx)}`);
  db.exec(`ALTER TABLE ${quoteId(table)} DROP COLUMN ${quoteId(field)}`);
}

/**
 * Renames go through temporary names, so a set of renames that swaps names
 * (a → b, b → a) or changes only the case of a name works.
 */
function* applyRenames(db: Db, changes: SchemaChange[]): Steps {
  const step = (change: SchemaChange, sql: string): void => {
    try {
      db.exec(sql);
    } catch (err) {
      throw failure(err, change);
    }
  };
  const models = changes.filter((c) => c.kind === 'rename_model');
  models.forEach((c, i) => step(c, `ALTER TABLE ${quoteId(String(c.from))} RENAME TO ${quoteId(`_ablo_tmp_model_${i}`)}`));
  models.forEach((c, i) => step(c, `ALTER TABLE ${quoteId(`_ablo_tmp_model_${i}`)} RENAME TO ${quoteId(String(c.to))}`));
  // Keep the change log's rows addressed by the model's current name, so the
  // stale guard and catch-up keep working across the rename.
  // Two steps here too, so swapped names do not merge.
  // The sync-group index moves with them.
  const relabel = db.prepare(
    `UPDATE _ablo_changes SET model = @to WHERE sync_id IN (SELECT sync_id FROM _ablo_changes WHERE model = @from LIMIT ${CHUNK_ROWS})`,
  );
  const moveAll = function* (from: string, to: string): Steps {
    while (relabel.run({ from, to }).changes === CHUNK_ROWS) yield;
    yield* relabelModelGroups(db, from, to);
  };
  for (const [i, c] of models.entries()) yield* moveAll(String(c.from), `_ablo_tmp_model_${i}`);
  for (const [i, c] of models.entries()) yield* moveAll(`_ablo_tmp_model_${i}`, String(c.to));

  const fields = changes.filter((c) => c.kind === 'rename_field');
  fields.forEach((c, i) => step(c, `ALTER TABLE ${quoteId(c.model)} RENAME COLUMN ${quoteId(String(c.from))} TO ${quoteId(`_ablo_tmp_field_${i}`)}`));
  fields.forEach((c, i) => step(c, `ALTER TABLE ${quoteId(c.model)} RENAME COLUMN ${quoteId(`_ablo_tmp_field_${i}`)} TO ${quoteId(String(c.to))}`));
  // The change log follows the field renames too (see renameLogFields).
  const byModel = new Map<string, Map<string, string>>();
  for (const c of fields) {
    let names = byModel.get(c.model);
    if (!names) byModel.set(c.model, (names = new Map()));
    names.set(String(c.from), String(c.to));
  }
  for (const [model, names] of byModel) yield* renameLogFields(db, model, names);
}

/**
 * Name renamed fields by their new names in the change log of `model`: in
 * each entry's `fields` and in the row in its `data`. The stale guard compares
 * the fields a write touches with the fields later changes wrote, and
 * catch-up sends the rows: both must read the history under the current
 * names (as the model renames above keep it under the current model name).
 * All renames of the model at once (so swaps work), CHUNK_ROWS entries per step.
 */
function* renameLogFields(db: Db, model: string, names: ReadonlyMap<string, string>): Steps {
  const page = db
    .prepare(`SELECT row_id, sync_id, fields, data FROM _ablo_changes WHERE model = ? AND (row_id, sync_id) > (?, ?) ORDER BY row_id, sync_id LIMIT ${CHUNK_ROWS}`)
    .raw(true);
  const write = db.prepare('UPDATE _ablo_changes SET fields = ?, data = ? WHERE sync_id = ?');
  const rename = (name: string): string => names.get(name) ?? name;
  // A row names a field as a key: `"title":` (names are plain identifiers, stored as JSON.stringify wrote them).
  const keys = [...names.keys()].map((n) => `${JSON.stringify(n)}:`);
  let after: [string, number] = ['', -1];
  for (;;) {
    const rows = page.all(model, after[0], after[1]) as Array<[string, number, string, string | null]>;
    for (const [, syncId, fields, data] of rows) {
      const nextFields = JSON.stringify((JSON.parse(fields) as string[]).map(rename));
      let nextData = data;
      if (data !== null && keys.some((k) => data.includes(k))) {
        const row = JSON.parse(data) as Record<string, unknown>;
        nextData = JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [rename(k), v])));
      }
      if (nextFields !== fields || nextData !== data) write.run(nextFields, nextData, syncId);
    }
    if (rows.length < CHUNK_ROWS) return;
    const last = rows[rows.length - 1]!;
    after = [last[0], last[1]];
    yield;
  }
}

function* applyChange(db: Db, change: SchemaChange, next: SerializedSchema): Steps {
  const table = change.model;
  const t = quoteId(table);
  // Changes inside a value (an object key, array items, record values) live in
  // a JSON column: nothing to do to the table.
  if (change.path !== undefined) return;
  switch (change.kind) {
    case 'add_model': {
      const model = hasOwn(next.models, table) ? next.models[table] : undefined;
      if (!model) throw new AbloServerError(`Schema plan adds model ${table}, which the new schema does not define.`, { code: 'schema_apply_failed' });
      db.exec(`CREATE TABLE ${t} (${tableColumnsSql(model)})`);
      return;
    }
    case 'drop_model':
      db.exec(`DROP TABLE ${t}`);
      yield* dropModelGroups(db, table);
      return;
    case 'add_field': {
      const field = change.field!;
      const d = fieldOf(next, table, field);
      db.exec(`ALTER TABLE ${t} ADD COLUMN ${quoteId(field)} ${sqlType(columnKind(d))}`);
      const def = encodedDefault(d, table, field);
      if (def !== undefined) yield* updateInChunks(db, table, `${quoteId(field)} = ?`, [def], null);
      return;
    }
    case 'drop_field':
      dropColumn(db, table, change.field!);
      return;
    case 'change_type': {
      const field = change.field!;
      yield* changeColumnType(db, table, field, change.from as FieldDescriptor, fieldOf(next, table, field));
      return;
    }
    case 'make_required': {
      const field = change.field!;
      const d = fieldOf(next, table, field);
      // A field that still accepts null keeps its nulls (required on create only).
      const def = encodedDefault(d, table, field);
      if (!acceptsNull(d) && def !== undefined) yield* updateInChunks(db, table, `${quoteId(field)} = ?`, [def], `${quoteId(field)} IS NULL`);
      return;
    }
    case 'remove_enum_value': {
      const field = change.field!;
      const d = fieldOf(next, table, field);
      const removed = (Array.isArray(change.from) ? change.from : []).filter((v): v is string => typeof v === 'string');
      if (removed.length === 0) return;
      const def = encodedDefault(d, table, field);
      const col = quoteId(field);
      const inRemoved = `${col} IN (SELECT value FROM json_each(?))`;
      if (def !== undefined) yield* updateInChunks(db, table, `${col} = ?`, [def], inRemoved, [JSON.stringify(removed)]);
      else if (acceptsNull(d)) yield* updateInChunks(db, table, `${col} = NULL`, [], inRemoved, [JSON.stringify(removed)]);
      // Otherwise there is no valid value to move the rows to: they keep the
      // removed value. The planner classed the change destructive and the
      // caller chose to apply it; such rows fail validation on their next
      // full write until someone sets a current value.
      return;
    }
    // change_relations: indexes are reconciled once all changes are applied.
    // Constraints, defaults, descriptions and options need no DDL.
    default:
      return;
  }
}

/** Check that every model and field of `next` exists as a table and column. */
function verify(db: Db, next: SerializedSchema): void {
  for (const [name, model] of Object.entries(next.models)) {
    if (!tableExists(db, name)) {
      throw new AbloServerError(`After applying the schema plan, model ${name} has no table: the plan does not lead to the new schema.`, {
        code: 'schema_apply_failed',
        model: name,
      });
    }
    const cols = tableColumns(db, name);
    for (const field of Object.keys(model.fields)) {
      if (!cols.has(field)) {
        throw new AbloServerError(`After applying the schema plan, ${name}.${field} has no column: the plan does not lead to the new schema.`, {
          code: 'schema_apply_failed',
          model: name,
          field,
        });
      }
    }
  }
}

export function failure(err: unknown, change: SchemaChange | undefined): AbloError {
  if (err instanceof AbloError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  if (!change) return new AbloServerError(`Could not apply the schema: ${reason}`, { code: 'schema_apply_failed' });
  return new AbloServerError(`Could not apply schema change "${change.description}": ${reason}. Nothing was changed.`, {
    code: 'schema_apply_failed',
    kind: change.kind,
    model: change.model,
    ...(change.field !== undefined ? { field: change.field } : {}),
  });
}

/** Run `steps`, turning an error into the failure of `change`. */
function* attributed(steps: Steps, change: SchemaChange | undefined): Steps {
  try {
    yield* steps;
  } catch (err) {
    throw failure(err, change);
  }
}

/**
 * Apply `plan` (moving from `prev` to `next`), reconcile indexes and the
 * sync-group index. Call inside a transaction; iterate the generator to the
 * end (it pauses between chunks of rows; see the module comment).
 *
 * Order: the plan's order, except that drops run right after the renames
 * (the plan lists them last). SQLite compares names case-insensitively, so a
 * field or model dropped as `Title` must be gone before `title` is added;
 * a drop never depends on an addition or modification. The stored sync
 * groups of models whose groups change are re-derived last, from the rows as
 * they are then.
 */
export function* applyPlanSteps(db: Db, plan: SchemaPlan, next: SerializedSchema, prev: SerializedSchema | null): Steps {
  const isRename = (c: SchemaChange) => c.kind === 'rename_model' || c.kind === 'rename_field';
  const isDrop = (c: SchemaChange) => c.kind === 'drop_model' || c.kind === 'drop_field';
  if (plan.changes.some(isRename)) yield* attributed(applyRenames(db, plan.changes), undefined);
  const ordered = [...plan.changes.filter(isDrop), ...plan.changes.filter((c) => !isRename(c) && !isDrop(c))];
  for (const change of ordered) {
    yield* attributed(applyChange(db, change, next), change);
    // Between two changes too: a column drop or index build is one statement each.
    yield;
  }
  try {
    syncFkIndexes(db, next);
    verify(db, next);
  } catch (err) {
    throw failure(err, undefined);
  }
  for (const model of modelsToRederive(plan, prev, next)) yield* attributed(rederiveRows(db, next, model), undefined);
  yield;
}

/** Apply `plan` in one go (no pauses). */
export function applyPlan(db: Db, plan: SchemaPlan, next: SerializedSchema, prev: SerializedSchema | null): void {
  for (const _ of applyPlanSteps(db, plan, next, prev));
}

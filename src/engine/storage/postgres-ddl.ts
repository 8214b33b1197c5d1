/**
 * Postgres storage: applying a schema plan to the tables, inside the
 * transaction `applySchema` opens (Postgres DDL is transactional: any error
 * rolls every change back). Only names taken from the plan and the schemas
 * are interpolated, always as quoted identifiers; values are bound.
 *
 * Work done in SQL (filling defaults, moving values off removed enum values,
 * relabelling a renamed model's history) is one statement each: it runs in
 * the database, and the engine's event loop goes on meanwhile. Work done in
 * JavaScript (converting a column to a new type with the field's validator,
 * renaming fields inside the change history, re-deriving sync groups) runs
 * CHUNK_ROWS rows per statement.
 *
 * Postgres names are case-sensitive when quoted, so no drop-before-add
 * ordering is needed for names that differ only in case; the plan order is
 * kept as SQLite runs it anyway (renames, drops, the rest).
 */
import { createHash } from 'node:crypto';
import { acceptsNull, type FieldDescriptor, type SerializedSchema } from '../../schema/descriptor.js';
import { fieldZod } from '../../schema/compile.js';
import type { SchemaChange, SchemaPlan } from '../../schema/plan.js';
import { AbloServerError } from '../../errors.js';
import { columnKind, decodePg, encodePg, escapeText, hasOwn, pgArrayType, pgTableColumnsSql, pgType, quoteId, type PgValue } from './postgres-codec.js';
import { CHUNK_ROWS, modelsToRederive, pgRederiveRows, type PgRun } from './postgres-groups.js';
import { bare, coerce, failure, fieldOf, NO, wantedFkIndexes } from './sqlite-ddl.js';

/** Index names fit Postgres's 63 bytes: a hash of table and column (a rename shows up as a stale name). */
function fkIndexName(table: string, column: string): string {
  return `_ablo_fk_${createHash('sha256').update(`${table}\u0000${column}`).digest('hex').slice(0, 24)}`;
}

export async function pgTableExists(run: PgRun, table: string): Promise<boolean> {
  const { rows } = await run(`SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`, [table]);
  return rows.length > 0;
}

export async function pgTableColumns(run: PgRun, table: string): Promise<Set<string>> {
  const { rows } = await run(`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, [table]);
  return new Set(rows.map((r: { column_name: string }) => r.column_name));
}

/** Make the foreign-key indexes match the relations of `schema` (see sqlite-ddl.ts's syncFkIndexes). */
async function syncFkIndexes(run: PgRun, schema: SerializedSchema): Promise<void> {
  const wanted = wantedFkIndexes(schema);
  for (const table of Object.keys(schema.models)) {
    const want = new Map([...(wanted.get(table) ?? [])].map((col) => [fkIndexName(table, col), col]));
    const { rows } = await run(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND starts_with(indexname, '_ablo_fk_')`, [table]);
    const have = rows.map((r: { indexname: string }) => r.indexname);
    for (const idx of have) if (!want.has(idx)) await run(`DROP INDEX ${quoteId(idx)}`);
    for (const [idx, col] of want) if (!have.includes(idx)) await run(`CREATE INDEX ${quoteId(idx)} ON ${quoteId(table)} (${quoteId(col)})`);
  }
}

function encodedDefault(d: FieldDescriptor, model: string, field: string): PgValue | undefined {
  if (d.default === undefined || d.default === null) return undefined;
  return encodePg(columnKind(d), d.default, model, field);
}

/** Rebuild a column with a new type (see sqlite-ddl.ts's changeColumnType): convert in JavaScript, CHUNK_ROWS rows at a time. */
async function changeColumnType(run: PgRun, table: string, field: string, from: FieldDescriptor, to: FieldDescriptor): Promise<void> {
  const t = quoteId(table);
  const col = quoteId(field);
  const tmp = quoteId(`_ablo_tmp_${field}`);
  const toKind = columnKind(to);
  const fromKind = columnKind(from);
  const validator = fieldZod(bare(to));
  const fallback = encodedDefault(to, table, field) ?? null;
  await run(`ALTER TABLE ${t} ADD COLUMN ${tmp} ${pgType(toKind)}`);
  const write = `UPDATE ${t} SET ${tmp} = v.val FROM unnest($1::text[], $2::${pgArrayType(toKind)}) AS v(id, val) WHERE ${t}."id" = v.id`;
  let after = '';
  for (;;) {
    const { rows } = await run(`SELECT "id", ${col} FROM ${t} WHERE "id" > $1 AND ${col} IS NOT NULL ORDER BY "id" LIMIT ${CHUNK_ROWS}`, [after], true);
    const ids: string[] = [];
    const values: PgValue[] = [];
    for (const [id, stored] of rows as Array<[string, unknown]>) {
      let value: PgValue = fallback;
      let old: unknown;
      try {
        old = decodePg(fromKind, stored);
      } catch {
        old = stored;
      }
      if (old !== null) {
        const candidate = coerce(old, to);
        if (candidate !== NO) {
          const parsed = validator.safeParse(candidate);
          if (parsed.success) value = encodePg(toKind, parsed.data, table, field);
        }
      }
      if (value !== null) {
        ids.push(id);
        values.push(value);
      }
    }
    if (ids.length > 0) await run(write, [ids, values]);
    if (rows.length < CHUNK_ROWS) break;
    after = (rows[rows.length - 1] as [string])[0];
  }
  await run(`ALTER TABLE ${t} DROP COLUMN ${col}`);
  await run(`ALTER TABLE ${t} RENAME COLUMN ${tmp} TO ${col}`);
}

/** Renames through temporary names (swaps work); the change log and the group index follow model renames, the log follows field renames. */
async function applyRenames(run: PgRun, changes: SchemaChange[]): Promise<void> {
  const step = async (change: SchemaChange, sql: string): Promise<void> => {
    try {
      await run(sql);
    } catch (err) {
      throw failure(err, change);
    }
  };
  const models = changes.filter((c) => c.kind === 'rename_model');
  for (const [i, c] of models.entries()) await step(c, `ALTER TABLE ${quoteId(String(c.from))} RENAME TO ${quoteId(`_ablo_tmp_model_${i}`)}`);
  for (const [i, c] of models.entries()) await step(c, `ALTER TABLE ${quoteId(`_ablo_tmp_model_${i}`)} RENAME TO ${quoteId(String(c.to))}`);
  const relabel = async (from: string, to: string): Promise<void> => {
    await run(`UPDATE _ablo_changes SET model = $2 WHERE model = $1`, [from, to]);
    await run(`UPDATE _ablo_row_groups SET model = $2 WHERE model = $1`, [from, to]);
  };
  for (const [i, c] of models.entries()) await relabel(String(c.from), `_ablo_tmp_model_${i}`);
  for (const [i, c] of models.entries()) await relabel(`_ablo_tmp_model_${i}`, String(c.to));

  const fields = changes.filter((c) => c.kind === 'rename_field');
  for (const [i, c] of fields.entries()) await step(c, `ALTER TABLE ${quoteId(c.model)} RENAME COLUMN ${quoteId(String(c.from))} TO ${quoteId(`_ablo_tmp_field_${i}`)}`);
  for (const [i, c] of fields.entries()) await step(c, `ALTER TABLE ${quoteId(c.model)} RENAME COLUMN ${quoteId(`_ablo_tmp_field_${i}`)} TO ${quoteId(String(c.to))}`);
  const byModel = new Map<string, Map<string, string>>();
  for (const c of fields) {
    let names = byModel.get(c.model);
    if (!names) byModel.set(c.model, (names = new Map()));
    names.set(String(c.from), String(c.to));
  }
  for (const [model, names] of byModel) await renameLogFields(run, model, names);
}

/** Name renamed fields by their new names in the change log of `model` (see sqlite-ddl.ts's renameLogFields), CHUNK_ROWS entries per read. */
async function renameLogFields(run: PgRun, model: string, names: ReadonlyMap<string, string>): Promise<void> {
  const rename = (name: string): string => names.get(name) ?? name;
  const keys = [...names.keys()].map((n) => `${JSON.stringify(n)}:`);
  const write = `UPDATE _ablo_changes c SET fields = v.fields, data = v.data FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(sync_id, fields, data) WHERE c.sync_id = v.sync_id`;
  let after = -1;
  for (;;) {
    const { rows } = await run(`SELECT sync_id, fields, data FROM _ablo_changes WHERE model = $1 AND sync_id > $2 ORDER BY sync_id LIMIT ${CHUNK_ROWS}`, [model, after], true);
    const out: [number[], string[], Array<string | null>] = [[], [], []];
    for (const [syncId, fields, data] of rows as Array<[number, string, string | null]>) {
      const nextFields = JSON.stringify((JSON.parse(fields) as string[]).map(rename));
      let nextData = data;
      if (data !== null && keys.some((k) => data.includes(k))) {
        const row = JSON.parse(data) as Record<string, unknown>;
        nextData = JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [rename(k), v])));
      }
      if (nextFields !== fields || nextData !== data) {
        out[0].push(syncId);
        out[1].push(nextFields);
        out[2].push(nextData);
      }
    }
    if (out[0].length > 0) await run(write, out);
    if (rows.length < CHUNK_ROWS) return;
    after = (rows[rows.length - 1] as [number])[0];
  }
}

async function applyChange(run: PgRun, change: SchemaChange, next: SerializedSchema): Promise<void> {
  const table = change.model;
  const t = quoteId(table);
  if (change.path !== undefined) return;
  switch (change.kind) {
    case 'add_model': {
      const model = hasOwn(next.models, table) ? next.models[table] : undefined;
      if (!model) throw new AbloServerError(`Schema plan adds model ${table}, which the new schema does not define.`, { code: 'schema_apply_failed' });
      await run(`CREATE TABLE ${t} (${pgTableColumnsSql(model)})`);
      return;
    }
    case 'drop_model':
      await run(`DROP TABLE ${t}`);
      await run(`DELETE FROM _ablo_row_groups WHERE model = $1`, [table]);
      return;
    case 'add_field': {
      const field = change.field!;
      const d = fieldOf(next, table, field);
      await run(`ALTER TABLE ${t} ADD COLUMN ${quoteId(field)} ${pgType(columnKind(d))}`);
      const def = encodedDefault(d, table, field);
      if (def !== undefined) await run(`UPDATE ${t} SET ${quoteId(field)} = $1`, [def]);
      return;
    }
    case 'drop_field':
      await run(`ALTER TABLE ${t} DROP COLUMN ${quoteId(change.field!)}`);
      return;
    case 'change_type': {
      const field = change.field!;
      await changeColumnType(run, table, field, change.from as FieldDescriptor, fieldOf(next, table, field));
      return;
    }
    case 'make_required': {
      const field = change.field!;
      const d = fieldOf(next, table, field);
      const def = encodedDefault(d, table, field);
      if (!acceptsNull(d) && def !== undefined) await run(`UPDATE ${t} SET ${quoteId(field)} = $1 WHERE ${quoteId(field)} IS NULL`, [def]);
      return;
    }
    case 'remove_enum_value': {
      const field = change.field!;
      const d = fieldOf(next, table, field);
      const removed = (Array.isArray(change.from) ? change.from : []).filter((v): v is string => typeof v === 'string').map(escapeText);
      if (removed.length === 0) return;
      const def = encodedDefault(d, table, field);
      const col = quoteId(field);
      // Otherwise (required, no default) the rows keep the removed value, as on SQLite.
      if (def !== undefined) await run(`UPDATE ${t} SET ${col} = $1 WHERE ${col} = ANY($2::text[])`, [def, removed]);
      else if (acceptsNull(d)) await run(`UPDATE ${t} SET ${col} = NULL WHERE ${col} = ANY($1::text[])`, [removed]);
      return;
    }
    default:
      return;
  }
}

/** Check that every model and field of `next` exists as a table and column. */
async function verify(run: PgRun, next: SerializedSchema): Promise<void> {
  for (const [name, model] of Object.entries(next.models)) {
    if (!(await pgTableExists(run, name))) {
      throw new AbloServerError(`After applying the schema plan, model ${name} has no table: the plan does not lead to the new schema.`, {
        code: 'schema_apply_failed',
        model: name,
      });
    }
    const cols = await pgTableColumns(run, name);
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

/**
 * Apply `plan` (moving from `prev` to `next`), reconcile indexes and the
 * sync-group index, inside the open transaction. Order as on SQLite:
 * renames, drops, the rest; groups re-derived last.
 */
export async function pgApplyPlan(run: PgRun, plan: SchemaPlan, next: SerializedSchema, prev: SerializedSchema | null): Promise<void> {
  const isRename = (c: SchemaChange) => c.kind === 'rename_model' || c.kind === 'rename_field';
  const isDrop = (c: SchemaChange) => c.kind === 'drop_model' || c.kind === 'drop_field';
  if (plan.changes.some(isRename)) await applyRenames(run, plan.changes);
  const ordered = [...plan.changes.filter(isDrop), ...plan.changes.filter((c) => !isRename(c) && !isDrop(c))];
  for (const change of ordered) {
    try {
      await applyChange(run, change, next);
    } catch (err) {
      throw failure(err, change);
    }
  }
  try {
    await syncFkIndexes(run, next);
    await verify(run, next);
    for (const model of modelsToRederive(plan, prev, next)) await pgRederiveRows(run, next, model);
  } catch (err) {
    throw failure(err, undefined);
  }
}

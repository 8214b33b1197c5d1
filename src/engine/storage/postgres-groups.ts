/**
 * Postgres storage: the sync-group index (`_ablo_row_groups`,
 * `_ablo_change_groups`; see sqlite-groups.ts for what they hold). Entries
 * are written in the transaction that writes the row or the change, in one
 * statement per kind per batch (`unnest` of parallel arrays); a schema push
 * that changes a model's groups re-derives its entries in the push's
 * transaction, CHUNK_ROWS rows per statement.
 */
import type { SerializedSchema } from '../../schema/descriptor.js';
import { escapeText, PgModelCodec, type PgValue } from './postgres-codec.js';
import { PG_SQL } from './postgres-internal.js';
import { CHUNK_ROWS, modelGroups } from './sqlite-groups.js';

export { CHUNK_ROWS, modelGroups, modelsToRederive, type ModelGroups } from './sqlite-groups.js';

/** Runs one statement on the connection of the open transaction (`arrays`: rows as arrays). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows are typed by each caller
export type PgRun = (sql: string, params?: readonly PgValue[], arrays?: boolean) => Promise<{ rows: any[]; rowCount: number | null }>;

/**
 * Net row-group changes of a batch: for each (model, group, row) the last
 * operation wins (an entry inserted then deleted in one batch ends deleted,
 * and the other way round), so one DELETE and one INSERT apply them all.
 */
export class RowGroupChanges {
  private readonly ops = new Map<string, { model: string; grp: string; rowId: string; insert: boolean }>();

  move(model: string, id: string, was: readonly string[] | null, now: readonly string[] | null): void {
    if (was) for (const g of was) this.set(model, g, id, false);
    if (now) for (const g of now) this.set(model, g, id, true);
  }

  private set(model: string, grp: string, rowId: string, insert: boolean): void {
    const key = `${model}\u0000${grp}\u0000${rowId}`;
    this.ops.delete(key);
    this.ops.set(key, { model, grp: escapeText(grp), rowId: escapeText(rowId), insert });
  }

  get size(): number {
    return this.ops.size;
  }

  /** The entries to delete and to insert, as parallel arrays (model, group, row id) each; empties the set. */
  take(): { del: [string[], string[], string[]]; ins: [string[], string[], string[]] } {
    const del: [string[], string[], string[]] = [[], [], []];
    const ins: [string[], string[], string[]] = [[], [], []];
    for (const op of this.ops.values()) {
      const into = op.insert ? ins : del;
      into[0].push(op.model);
      into[1].push(op.grp);
      into[2].push(op.rowId);
    }
    this.ops.clear();
    return { del, ins };
  }

  async flush(run: PgRun): Promise<void> {
    if (this.ops.size === 0) return;
    const { del, ins } = this.take();
    if (del[0].length > 0) await run(PG_SQL.deleteRowGroups, del);
    if (ins[0].length > 0) await run(PG_SQL.insertRowGroups, ins);
  }
}

/**
 * Write the group entries of every row of `model` again, from its rows as
 * stored and the groups `schema` gives them (inside the push's transaction).
 */
export async function pgRederiveRows(run: PgRun, schema: SerializedSchema, model: string): Promise<void> {
  await run(`DELETE FROM _ablo_row_groups WHERE model = $1`, [model]);
  const codec = new PgModelCodec(model, schema.models[model]!);
  const groups = modelGroups(schema, model);
  let after = '';
  for (;;) {
    const { rows } = (await run(codec.scanAfterSql, [after, CHUNK_ROWS], true)) as { rows: unknown[][] };
    const changes = new RowGroupChanges();
    for (const raw of rows) {
      const row = codec.decodeRow(raw);
      changes.move(model, row.id, null, groups.of(row));
    }
    await changes.flush(run);
    if (rows.length < CHUNK_ROWS) return;
    after = rows[rows.length - 1]![0] as string;
  }
}

/**
 * Checks the rows an app's handlers return against the schema, before they
 * leave for the engine. The engine would refuse a wrong row anyway, but far
 * from its cause; refusing it here names the model, the id and the field in
 * the app's own log, where the bug is.
 */
import { AbloValidationError } from '../errors.js';
import { rowIdSchema } from '../protocol/commit.js';
import type { SourceEvent } from '../protocol/source.js';
import type { CompiledSchema } from '../schema/compile.js';
import { SourceRowInvalidError } from './errors.js';

/** A row as the engine receives it: `id`, the schema's fields, and the timestamps when the app has them. */
export type CheckedRow = { id: string; [field: string]: unknown };

const TIMESTAMPS = ['createdAt', 'updatedAt'] as const;

/**
 * The row as JSON would carry it: a `Date` from a database driver becomes its
 * ISO string, `undefined` disappears. Validating this form checks exactly
 * what the engine will see.
 */
function asJson(model: string, row: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(row) ?? 'null');
  } catch (error) {
    throw new SourceRowInvalidError(model, undefined, undefined, `A ${model} row is not JSON-serializable: ${(error as Error).message}`);
  }
}

/**
 * One row of `model`, checked as a full stored row (`parseRow`): every field
 * present with its type, `id` required. Optional fields the app left out are
 * taken as `null` (how a stored row reads them back). Fields the schema does
 * not know (other columns of the app's table) are left out of the answer.
 */
export function checkRow(schema: CompiledSchema, model: string, row: unknown): CheckedRow {
  const compiled = schema.models[model];
  if (!compiled) throw new SourceRowInvalidError(model, undefined, undefined, `Model "${model}" is not in the schema (known: ${schema.modelNames.join(', ')}).`);
  const json = asJson(model, row);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new SourceRowInvalidError(model, undefined, undefined, `A ${model} row must be an object, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}.`);
  }
  const record = json as Record<string, unknown>;
  const id = rowIdSchema.safeParse(record.id);
  if (!id.success) {
    throw new SourceRowInvalidError(model, undefined, 'id', `A ${model} row has no valid id (a string of 1 to 128 characters), got ${JSON.stringify(record.id)}.`);
  }
  const filled: Record<string, unknown> = { ...record };
  for (const [field, d] of Object.entries(compiled.fields)) {
    if (filled[field] === undefined && (d.optional || d.nullable)) filled[field] = null;
  }
  let fields: Record<string, unknown>;
  try {
    fields = compiled.parseRow(filled);
  } catch (error) {
    if (!(error instanceof AbloValidationError)) throw error;
    throw new SourceRowInvalidError(model, id.data, error.field, `Row ${model} "${id.data}": ${error.message}`);
  }
  const out: CheckedRow = { id: id.data, ...fields };
  for (const key of TIMESTAMPS) {
    const value = record[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new SourceRowInvalidError(model, id.data, key, `Row ${model} "${id.data}": ${key} must be an ISO timestamp string or a Date.`);
    out[key] = value;
  }
  return out;
}

/**
 * The model of a row `commit` returned: its own `model`, else the model of
 * the operation on the same id, else the only model the commit touched. It
 * must be a model the commit touched (a commit cannot confirm other rows).
 */
export function commitRowModel(row: unknown, operations: ReadonlyArray<{ model: string; id: string }>): string {
  const touched = [...new Set(operations.map((o) => o.model))];
  const record = (row ?? {}) as { model?: unknown; id?: unknown };
  const declared = record.model;
  if (declared !== undefined) {
    if (typeof declared !== 'string' || !touched.includes(declared)) {
      throw new SourceRowInvalidError(
        typeof declared === 'string' ? declared : undefined,
        typeof record.id === 'string' ? record.id : undefined,
        'model',
        `commit returned a row of model ${JSON.stringify(declared)}, which this commit did not touch (it touched ${touched.join(', ')}).`,
      );
    }
    return declared;
  }
  const byId = operations.find((o) => o.id === record.id);
  if (byId) return byId.model;
  if (touched.length === 1) return touched[0]!;
  throw new SourceRowInvalidError(
    undefined,
    typeof record.id === 'string' ? record.id : undefined,
    'model',
    `commit returned row ${JSON.stringify(record.id)} without a model, and the commit touched several (${touched.join(', ')}): set "model" on it.`,
  );
}

/**
 * An event's row (`data`, after a create or update) checked like any row; its `id` is the event's
 * `entityId` (set from it when the app left it out, refused when it differs).
 */
export function checkEvent(schema: CompiledSchema, event: SourceEvent): SourceEvent {
  if (!schema.models[event.model]) {
    throw new SourceRowInvalidError(event.model, event.entityId, undefined, `Event ${event.id} is about model "${event.model}", which is not in the schema.`);
  }
  if (event.type === 'delete' || event.data === undefined || event.data === null) return event;
  if (event.data.id !== undefined && event.data.id !== event.entityId) {
    throw new SourceRowInvalidError(event.model, event.entityId, 'id', `Event ${event.id}: data.id ${JSON.stringify(event.data.id)} is not its entityId "${event.entityId}".`);
  }
  return { ...event, data: checkRow(schema, event.model, { ...event.data, id: event.entityId }) };
}

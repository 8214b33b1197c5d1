/**
 * Rows from a Data Source into the engine's cache: a source's row checked
 * against the schema and shaped as a stored row, and the change that moves
 * the cache from what it holds to what the source says (none when they
 * agree). Used for commit answers, events, `load` and `list`.
 */
import { AbloError, abloError } from '../../errors.js';
import type { ParticipantRef } from '../../protocol/commit.js';
import type { CompiledModel } from '../../schema/compile.js';
import { canonicalJson } from '../../schema/serialize.js';
import type { PlannedChange, StoredRow } from '../storage/types.js';

/** Who the change log names for a change that came from the source itself (events, load, list). */
export function sourceParticipant(source: string): ParticipantRef {
  return { kind: 'system', id: `source:${source}` };
}

/**
 * The source's row as the engine stores it: every schema field (a missing
 * one is null), checked against the model; `createdAt` kept from the cache,
 * `updatedAt` the change's time. A row that does not fit the schema is
 * `source_bad_response`, naming model, id and field.
 */
export function storedRowFrom(
  source: string,
  model: CompiledModel,
  raw: Record<string, unknown>,
  existing: StoredRow | null,
  at: string,
): StoredRow {
  const id = raw.id;
  if (typeof id !== 'string' || id.length === 0) {
    throw abloError('source_bad_response', { source, model: model.name, reason: `a ${model.name} row without an id` });
  }
  const input: Record<string, unknown> = {};
  for (const f of model.fieldNames) input[f] = raw[f] === undefined ? null : raw[f];
  let fields: Record<string, unknown>;
  try {
    fields = model.parseRow(input);
  } catch (err) {
    const detail = err instanceof AbloError ? err.message : String(err);
    throw abloError('source_bad_response', { source, model: model.name, id, reason: `${model.name} ${id} does not fit the schema: ${detail}` });
  }
  const row: StoredRow = { id, createdAt: existing?.createdAt ?? at, updatedAt: at, syncId: 0 };
  for (const f of model.fieldNames) row[f] = fields[f] ?? null;
  return row;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return canonicalJson(a) === canonicalJson(b);
}

/** Fields whose values differ between two rows. */
export function changedFields(model: CompiledModel, before: StoredRow, after: StoredRow): string[] {
  return model.fieldNames.filter((f) => !same(before[f], after[f]));
}

export type ChangeBase = Pick<PlannedChange, 'participant' | 'onBehalfOf' | 'credentialId' | 'clientTxId' | 'commitId' | 'at'>;

/**
 * The change from `existing` (the cache) to `next` (the source; null: the
 * row is gone). Null when there is nothing to change. `alsoWritten`: fields
 * an update names even when the value did not move (what the writer wrote).
 */
export function changeTo(
  model: CompiledModel,
  existing: StoredRow | null,
  next: StoredRow | null,
  base: ChangeBase,
  alsoWritten: readonly string[] = [],
): PlannedChange | null {
  if (!existing && !next) return null;
  if (!next) {
    return { ...base, model: model.name, id: existing!.id, action: 'delete', fields: model.fieldNames.slice(), data: null, groups: model.syncGroups(existing!) };
  }
  const groups = model.syncGroups(next);
  if (!existing) return { ...base, model: model.name, id: next.id, action: 'create', fields: model.fieldNames.slice(), data: next, groups };
  const moved = changedFields(model, existing, next);
  const fields = [...new Set([...alsoWritten, ...moved])].filter((f) => model.fieldNames.includes(f));
  if (fields.length === 0) return null;
  const patch: Record<string, unknown> = {};
  for (const f of fields) patch[f] = next[f];
  const prevGroups = model.syncGroups(existing);
  const regrouped = groups.length !== prevGroups.length || groups.some((g, i) => g !== prevGroups[i]);
  return {
    ...base,
    model: model.name,
    id: next.id,
    action: 'update',
    fields,
    data: { ...next, createdAt: existing.createdAt },
    patch,
    groups,
    ...(regrouped ? { prevGroups } : {}),
  };
}

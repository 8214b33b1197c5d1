/**
 * What differs between the schema a client was built with and the one the
 * engine runs, told in the terms of the fix: what `npx ablo push` of the
 * client's schema would change on the engine.
 */
import { AbloSchemaError } from '../errors.js';
import type { SerializedSchema } from '../schema/descriptor.js';
import { planSchemaChange } from '../schema/plan.js';

export interface SchemaDifference {
  /** Models that exist on one side only, or differ as a whole (options, relations). */
  models: string[];
  /** `model.field` of fields that exist on one side only or differ. */
  fields: string[];
  /** One line per change, as `ablo push` would describe it. */
  changes: string[];
}

/** `engine === null`: the engine has no schema yet. */
export function schemaDifference(engine: SerializedSchema | null, client: SerializedSchema): SchemaDifference {
  const plan = planSchemaChange(engine, client);
  const models = new Set<string>();
  const fields = new Set<string>();
  for (const c of plan.changes) {
    if (c.field !== undefined) fields.add(`${c.model}.${c.field}`);
    else models.add(c.model);
  }
  return { models: [...models].sort(), fields: [...fields].sort(), changes: plan.changes.map((c) => c.description) };
}

export function schemaMismatchError(baseURL: string, diff: SchemaDifference | null, reason?: string): AbloSchemaError {
  const parts: string[] = [];
  if (diff) {
    if (diff.models.length > 0) parts.push(`models ${diff.models.join(', ')}`);
    if (diff.fields.length > 0) parts.push(`fields ${diff.fields.join(', ')}`);
  }
  const what = parts.length > 0 ? `: ${parts.join('; ')}` : reason ? ` (${reason})` : '';
  const changes = diff && diff.changes.length > 0 ? ` Pushing this client's schema would: ${diff.changes.join('; ')}.` : '';
  return new AbloSchemaError(
    `This client's schema differs from the one the engine at ${baseURL} runs${what}.${changes} ` +
      'Until they match, rows and fields the engine lacks are not synced and writes to them fail. ' +
      "Fix: run `npx ablo push` with this schema (or build the client from the engine's schema: `npx ablo pull`).",
    { code: 'schema_mismatch', models: diff?.models ?? [], fields: diff?.fields ?? [], changes: diff?.changes ?? [] },
  );
}

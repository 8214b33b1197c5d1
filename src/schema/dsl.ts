/**
 * The schema DSL: `defineSchema`, `model`, `belongsTo`, `hasMany`.
 */
import { AbloSchemaError } from '../errors.js';
import { buildSerialized, describeModels } from './serialize.js';
import type { BelongsTo, FieldShape, HasMany, ModelDef, ModelMap, ModelOptions, RelationMap, Schema } from './types.js';

/**
 * Declare a model: its fields (Zod types), optional relations and options.
 * Every row also gets `id`, `createdAt`, `updatedAt` and `syncId`.
 */
export function model<S extends FieldShape, R extends RelationMap = {}>(
  fields: S,
  relations?: R,
  options?: ModelOptions,
): ModelDef<S, R> {
  if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
    throw new AbloSchemaError('model() takes an object of fields, e.g. model({ title: z.string() }).', { code: 'invalid_model' });
  }
  return Object.freeze({
    kind: 'ablo.model' as const,
    fields,
    relations: (relations ?? {}) as R,
    options: options ?? {},
  });
}

/** This model holds `foreignKey`, the id of a row of `target`. */
export function belongsTo<Target extends string, Key extends string>(target: Target, foreignKey: Key): BelongsTo<Target, Key> {
  return Object.freeze({ kind: 'belongsTo' as const, model: target, foreignKey });
}

/** Rows of `target` point at this model through their `foreignKey`. */
export function hasMany<Target extends string, Key extends string>(target: Target, foreignKey: Key): HasMany<Target, Key> {
  return Object.freeze({ kind: 'hasMany' as const, model: target, foreignKey });
}

/**
 * Build a schema from models. Checks it at once: an unsupported Zod type, a
 * bad name or a broken relation throws `AbloSchemaError` naming model and field.
 */
export function defineSchema<M extends ModelMap>(models: M): Schema<M> {
  if (!models || typeof models !== 'object' || Array.isArray(models)) {
    throw new AbloSchemaError('defineSchema() takes an object of models, e.g. defineSchema({ tasks: model({...}) }).', { code: 'invalid_schema' });
  }
  const serialized = buildSerialized(describeModels(models));
  return Object.freeze({ kind: 'ablo.schema' as const, models, serialized });
}

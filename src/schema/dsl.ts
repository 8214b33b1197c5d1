/**
 * The schema DSL: `defineSchema`, `model`, `belongsTo`, `hasMany`.
 */
import { AbloSchemaError } from '../errors.js';
import type { IdentityRoles } from './identityRoles.js';
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

/** `defineSchema({ models, identityRoles })`: models, and the schema's identity roles. */
export interface SchemaDefinition<M extends ModelMap> {
  models: M;
  /**
   * Sync groups that belong to a participant, by role name:
   * `{ self: 'user:{participantId}' }`. Templates may use `{participantId}`
   * and `{participantKind}`. A session minted without `syncGroups` gets every
   * role expanded for its participant; `@self` in `syncGroups` (sessions,
   * restricted keys) stands for the role's group.
   */
  identityRoles?: IdentityRoles;
}

const isDefinition = (value: object): value is SchemaDefinition<ModelMap> => {
  const models = (value as { models?: unknown }).models;
  // A model named `models` is a model({...}); the definition's `models` is a map of them.
  return (
    typeof models === 'object' &&
    models !== null &&
    (models as { kind?: unknown }).kind !== 'ablo.model' &&
    Object.keys(value).every((k) => k === 'models' || k === 'identityRoles')
  );
};

/**
 * Build a schema from models — `defineSchema({ tasks: model(...) })` — or
 * from a definition with identity roles — `defineSchema({ models, identityRoles })`.
 * Checks it at once: an unsupported Zod type, a bad name, a broken relation
 * or identity role throws `AbloSchemaError` naming it.
 */
export function defineSchema<M extends ModelMap>(models: M): Schema<M>;
export function defineSchema<M extends ModelMap>(definition: SchemaDefinition<M>): Schema<M>;
export function defineSchema<M extends ModelMap>(input: M | SchemaDefinition<M>): Schema<M> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw new AbloSchemaError('defineSchema() takes an object of models, e.g. defineSchema({ tasks: model({...}) }).', { code: 'invalid_schema' });
  }
  const definition = isDefinition(input) ? (input as SchemaDefinition<M>) : undefined;
  const models = definition ? definition.models : (input as M);
  if (!models || typeof models !== 'object' || Array.isArray(models)) {
    throw new AbloSchemaError('defineSchema({ models }) takes an object of models, e.g. defineSchema({ models: { tasks: model({...}) } }).', { code: 'invalid_schema' });
  }
  const roles = definition?.identityRoles;
  if (roles !== undefined && (typeof roles !== 'object' || roles === null || Array.isArray(roles))) {
    throw new AbloSchemaError("identityRoles takes an object of role name → template, e.g. { self: 'user:{participantId}' }.", { code: 'invalid_schema' });
  }
  const serialized = buildSerialized(describeModels(models), roles);
  return Object.freeze({ kind: 'ablo.schema' as const, models, serialized });
}

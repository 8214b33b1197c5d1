/**
 * `ablo/schema`: define models with Zod, serialize them, plan changes.
 * Loads no engine, SQLite, ink or React.
 */
export { z } from 'zod';
export { defineSchema, model, belongsTo, hasMany } from './dsl.js';
export type { SchemaDefinition } from './dsl.js';
export { expandIdentityRole, resolveSyncGroups, type IdentityRoles } from './identityRoles.js';
export { serializeSchema, parseSerializedSchema, canonicalJson, defaultIdPrefix } from './serialize.js';
export { deserializeSchema, compileSchema, fieldZod } from './compile.js';
export type { CompiledModel, CompiledSchema } from './compile.js';
export { SCHEMA_FORMAT_VERSION, isRequiredOnCreate, acceptsNull } from './descriptor.js';
export type {
  FieldDescriptor,
  FieldType,
  JsonValue,
  ModelDescriptor,
  ModelOptionsDescriptor,
  RelationDescriptor,
  SerializedSchema,
  StringCheck,
  NumberCheck,
  LengthCheck,
} from './descriptor.js';
export type {
  BelongsTo,
  HasMany,
  Relation,
  RelationMap,
  FieldShape,
  ModelDef,
  ModelMap,
  ModelOptions,
  ModelTypes,
  ModelTypeMap,
  Schema,
  SchemaLike,
  SchemaTypes,
  ModelName,
  SystemFields,
  InferModel,
  InferCreate,
  InferUpdate,
  RowOf,
  CreateOf,
  UpdateOf,
  TypesOf,
} from './types.js';
export { SYSTEM_FIELDS } from './types.js';
export { AbloSchemaError } from '../errors.js';
export { planSchemaChange, formatPlan } from './plan.js';
export type { ChangeClass, ChangeKind, SchemaChange, SchemaStats, PlanOptions, SchemaPlan } from './plan.js';

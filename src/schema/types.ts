/**
 * Type-level view of a schema: what a row, a create input and an update input
 * look like for each model. Both a `defineSchema` result and a generated
 * typed client carry these types in their `~types` slot, so the SDK can be
 * typed from either.
 */
import type { z } from 'zod';
import type { SerializedSchema } from './descriptor.js';

export type FieldShape = Record<string, z.ZodType>;

export interface BelongsTo<Target extends string = string, Key extends string = string> {
  readonly kind: 'belongsTo';
  readonly model: Target;
  readonly foreignKey: Key;
}
export interface HasMany<Target extends string = string, Key extends string = string> {
  readonly kind: 'hasMany';
  readonly model: Target;
  readonly foreignKey: Key;
}
export type Relation = BelongsTo | HasMany;
export type RelationMap = Record<string, Relation>;

export interface ModelOptions {
  /**
   * Sync groups a row fans out on, as templates over its fields:
   * `'project:{projectId}'` or several. Rows of a model without one go to `default`.
   */
  syncGroupFormat?: string | string[];
  /** Prefix of generated ids (`<idPrefix>_<ulid>`); defaults to the singular model name. */
  idPrefix?: string;
  /** Human description, shown in generated docs and MCP tools. */
  description?: string;
}

export interface ModelDef<S extends FieldShape = FieldShape, R extends RelationMap = RelationMap> {
  readonly kind: 'ablo.model';
  readonly fields: S;
  readonly relations: R;
  readonly options: ModelOptions;
}

export type ModelMap = Record<string, ModelDef>;

/** Fields every row has, managed by the engine. */
export interface SystemFields {
  id: string;
  /** ISO timestamp of the create. */
  createdAt: string;
  /** ISO timestamp of the last change. */
  updatedAt: string;
  /** Sync id of the last change to the row. */
  syncId: number;
}

export const SYSTEM_FIELDS = ['id', 'createdAt', 'updatedAt', 'syncId'] as const;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type Output<S extends FieldShape> = z.output<z.ZodObject<S>>;
type Input<S extends FieldShape> = z.input<z.ZodObject<S>>;

/** Keys whose property is optional (`?`) in T. */
type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];
/** A stored row has every field: one that may be left out reads back as `null`. */
type StoredFields<T> = { [K in Exclude<keyof T, OptionalKeys<T>>]: T[K] } & { [K in OptionalKeys<T>]: Exclude<T[K], undefined> | null };

export type RowOf<M extends ModelDef> = Simplify<SystemFields & StoredFields<Output<M['fields']>>>;
export type CreateOf<M extends ModelDef> = Simplify<Input<M['fields']>>;
/** Every field optional; an optional field may be set to `null` to clear it. */
export type UpdateOf<M extends ModelDef> = Simplify<{
  [K in keyof Output<M['fields']>]?: undefined extends Output<M['fields']>[K]
    ? Output<M['fields']>[K] | null
    : Output<M['fields']>[K];
}>;

/** The three shapes of one model. */
export interface ModelTypes {
  row: object;
  create: object;
  update: object;
}
export type ModelTypeMap = Record<string, ModelTypes>;

export type TypesOf<M extends ModelMap> = {
  [K in keyof M & string]: { row: RowOf<M[K]>; create: CreateOf<M[K]>; update: UpdateOf<M[K]> };
};

/** Anything the SDK accepts as a schema: carries the serialized form and the model types. */
export interface SchemaLike<T extends ModelTypeMap = ModelTypeMap> {
  readonly serialized: SerializedSchema;
  /** Phantom slot for the model types; never set at runtime. */
  readonly '~types'?: T;
}

export interface Schema<M extends ModelMap = ModelMap> extends SchemaLike<TypesOf<M>> {
  readonly kind: 'ablo.schema';
  readonly models: M;
}

export type SchemaTypes<S extends SchemaLike> = NonNullable<S['~types']>;
export type ModelName<S extends SchemaLike> = keyof SchemaTypes<S> & string;

/** A row of `Name`, with `id`, `createdAt`, `updatedAt` and `syncId`. */
export type InferModel<S extends SchemaLike, Name extends ModelName<S>> = SchemaTypes<S>[Name]['row'];
/** What `create({ data })` takes: defaulted and optional fields may be left out. */
export type InferCreate<S extends SchemaLike, Name extends ModelName<S>> = SchemaTypes<S>[Name]['create'];
/** What `update({ data })` takes: any subset of fields. */
export type InferUpdate<S extends SchemaLike, Name extends ModelName<S>> = SchemaTypes<S>[Name]['update'];

/**
 * The stable JSON form of a schema: sorted keys, a format version and a
 * content hash. This is what the CLI pushes, the engine stores and the code
 * generators read.
 */
import { z } from 'zod';
import { abloError, AbloSchemaError } from '../errors.js';
import {
  SCHEMA_FORMAT_VERSION,
  describeZodType,
  type FieldDescriptor,
  type ModelDescriptor,
  type SerializedSchema,
} from './descriptor.js';
import { canonicalJson as canonicalJsonText } from '../protocol/json.js';
import { validateIdentityRoles, type IdentityRoles } from './identityRoles.js';
import { sha256Hex } from './sha256.js';
import { SYSTEM_FIELDS, type ModelMap, type SchemaLike } from './types.js';

/** JSON with object keys sorted at every depth; arrays keep their order. Iterative: any depth. */
export const canonicalJson: (value: unknown) => string = canonicalJsonText;

/** A copy with object keys sorted at every depth (through the iterative writer, so any depth). */
function sortKeys<T>(value: T): T {
  return JSON.parse(canonicalJsonText(value)) as T;
}

const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

export function hashModels(models: Record<string, ModelDescriptor>, identityRoles?: Record<string, string>): string {
  // Without identity roles the hash is what it was before they existed.
  const roles = identityRoles && Object.keys(identityRoles).length ? { identityRoles } : {};
  return sha256Hex(canonicalJson({ formatVersion: SCHEMA_FORMAT_VERSION, models, ...roles }));
}

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
const ID_PREFIX = /^[a-z][a-z0-9]{0,23}$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Default id prefix: the model name in lower case, singular when it ends in a plain `s`. */
export function defaultIdPrefix(modelName: string): string {
  let base = modelName.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
  if (base.length > 3 && base.endsWith('ies')) base = `${base.slice(0, -3)}y`;
  else if (base.length > 3 && base.endsWith('s') && !/(ss|us|is)$/.test(base)) base = base.slice(0, -1);
  return base.slice(0, 24) || 'row';
}

/**
 * Check names, relations and sync group templates. Runs on every schema, both
 * the ones defined in code and the ones received as JSON.
 */
export function validateModels(models: Record<string, ModelDescriptor>): void {
  const lowerModels = new Map<string, string>();
  for (const [name, model] of Object.entries(models)) {
    if (!NAME.test(name)) {
      throw new AbloSchemaError(`Model name "${name}" is not a valid identifier. Use letters, digits and _, starting with a letter (at most 63).`, {
        code: 'invalid_name',
        model: name,
      });
    }
    const clash = lowerModels.get(name.toLowerCase());
    if (clash) {
      throw new AbloSchemaError(`Models "${clash}" and "${name}" differ only in case; give them distinct names.`, { code: 'duplicate_name', model: name });
    }
    lowerModels.set(name.toLowerCase(), name);

    const lowerFields = new Map<string, string>();
    for (const field of Object.keys(model.fields)) {
      if (!NAME.test(field)) {
        throw new AbloSchemaError(`Model "${name}", field "${field}": not a valid identifier. Use letters, digits and _, starting with a letter.`, {
          code: 'invalid_name',
          model: name,
          field,
        });
      }
      if (SYSTEM_FIELDS.some((f) => f.toLowerCase() === field.toLowerCase())) {
        throw new AbloSchemaError(`Model "${name}", field "${field}": this name is managed by Ablo on every row; remove it from the model.`, {
          code: 'reserved_name',
          model: name,
          field,
        });
      }
      const other = lowerFields.get(field.toLowerCase());
      if (other) {
        throw new AbloSchemaError(`Model "${name}": fields "${other}" and "${field}" differ only in case; give them distinct names.`, {
          code: 'duplicate_name',
          model: name,
          field,
        });
      }
      lowerFields.set(field.toLowerCase(), field);
    }

    for (const [relName, rel] of Object.entries(model.relations)) {
      const where = { model: name, field: relName };
      if (!NAME.test(relName)) {
        throw new AbloSchemaError(`Model "${name}", relation "${relName}": not a valid identifier.`, { code: 'invalid_name', ...where });
      }
      if (hasOwn(model.fields, relName)) {
        throw new AbloSchemaError(`Model "${name}": relation "${relName}" has the same name as a field; rename one of them.`, { code: 'duplicate_name', ...where });
      }
      const target = hasOwn(models, rel.model) ? models[rel.model] : undefined;
      if (!target) {
        throw new AbloSchemaError(`Model "${name}", relation "${relName}": it points at model "${rel.model}", which the schema does not define.`, {
          code: 'invalid_relation',
          ...where,
        });
      }
      const keyOwner = rel.kind === 'belongsTo' ? model : target;
      const keyOwnerName = rel.kind === 'belongsTo' ? name : rel.model;
      const key = hasOwn(keyOwner.fields, rel.foreignKey) ? keyOwner.fields[rel.foreignKey] : undefined;
      if (!key) {
        throw new AbloSchemaError(
          `Model "${name}", relation "${relName}": foreign key "${rel.foreignKey}" is not a field of "${keyOwnerName}". Add it as z.string() or fix the name.`,
          { code: 'invalid_relation', ...where },
        );
      }
      if (key.type !== 'string') {
        throw new AbloSchemaError(`Model "${name}", relation "${relName}": foreign key "${keyOwnerName}.${rel.foreignKey}" must be a string field (ids are strings).`, {
          code: 'invalid_relation',
          ...where,
        });
      }
    }

    for (const template of model.options.syncGroupFormat ?? []) {
      if (template.length === 0 || template.length > 200) {
        throw new AbloSchemaError(`Model "${name}": sync group format must be 1 to 200 characters.`, { code: 'invalid_sync_group', model: name });
      }
      for (const match of template.matchAll(PLACEHOLDER)) {
        const field = match[1]!;
        if (field !== 'id' && !hasOwn(model.fields, field)) {
          throw new AbloSchemaError(
            `Model "${name}": sync group format "${template}" uses {${field}}, which is not a field of "${name}".`,
            { code: 'invalid_sync_group', model: name, field },
          );
        }
      }
    }
    if (model.options.idPrefix !== undefined && !ID_PREFIX.test(model.options.idPrefix)) {
      throw new AbloSchemaError(`Model "${name}": idPrefix "${model.options.idPrefix}" must be lower-case letters and digits, starting with a letter (at most 24).`, {
        code: 'invalid_id_prefix',
        model: name,
      });
    }
  }
}

/** Descriptors for code-defined models (Zod shapes). */
export function describeModels(models: ModelMap): Record<string, ModelDescriptor> {
  const out: Record<string, ModelDescriptor> = {};
  for (const [name, def] of Object.entries(models)) {
    if (!def || def.kind !== 'ablo.model') {
      throw new AbloSchemaError(`Model "${name}" must be created with model({...}).`, { code: 'invalid_model', model: name });
    }
    const fields: Record<string, FieldDescriptor> = {};
    for (const [field, type] of Object.entries(def.fields)) {
      if (!type || typeof type !== 'object' || !('_zod' in type)) {
        throw new AbloSchemaError(`Model "${name}", field "${field}": expected a Zod type such as z.string().`, {
          code: 'unsupported_type',
          model: name,
          field,
        });
      }
      fields[field] = describeZodType(type, { model: name, field });
    }
    const relations: ModelDescriptor['relations'] = {};
    for (const [relName, rel] of Object.entries(def.relations)) {
      relations[relName] = { kind: rel.kind, model: rel.model, foreignKey: rel.foreignKey };
    }
    const options: ModelDescriptor['options'] = {};
    const fmt = def.options.syncGroupFormat;
    if (fmt !== undefined) options.syncGroupFormat = Array.isArray(fmt) ? [...fmt] : [fmt];
    if (def.options.idPrefix !== undefined) options.idPrefix = def.options.idPrefix;
    if (def.options.description !== undefined) options.description = def.options.description;
    out[name] = { fields, relations, options };
  }
  return out;
}

/** Build the serialized form (validates, sorts keys, hashes); `identityRoles` is kept when it has any role. */
export function buildSerialized(models: Record<string, ModelDescriptor>, identityRoles?: IdentityRoles): SerializedSchema {
  validateModels(models);
  const sorted = sortKeys(models) as Record<string, ModelDescriptor>;
  if (identityRoles && Object.keys(identityRoles).length) {
    validateIdentityRoles(identityRoles);
    const roles = sortKeys({ ...identityRoles });
    return { formatVersion: SCHEMA_FORMAT_VERSION, hash: hashModels(sorted, roles), models: sorted, identityRoles: roles };
  }
  return { formatVersion: SCHEMA_FORMAT_VERSION, hash: hashModels(sorted), models: sorted };
}

/** The stable JSON document for a schema (a `defineSchema` result, a generated schema, or already-serialized JSON). */
export function serializeSchema(schema: SchemaLike | SerializedSchema): SerializedSchema {
  if ('serialized' in schema && schema.serialized) return schema.serialized;
  return parseSerializedSchema(schema);
}

// ---------------------------------------------------------------------------
// Reading serialized JSON from an untrusted source.

const regexPartsSchema = z.strictObject({ pattern: z.string().max(10_000), flags: z.string().regex(/^[dgimsuvy]*$/) });
const lengthCheckSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('min_length'), value: z.number().int().nonnegative() }),
  z.strictObject({ kind: z.literal('max_length'), value: z.number().int().nonnegative() }),
  z.strictObject({ kind: z.literal('length'), value: z.number().int().nonnegative() }),
]);
const stringCheckSchema = z.union([
  lengthCheckSchema,
  z.strictObject({ kind: z.literal('regex'), ...regexPartsSchema.shape }),
  z.strictObject({ kind: z.literal('email'), ...regexPartsSchema.shape }),
  z.strictObject({ kind: z.literal('format'), format: z.string(), ...regexPartsSchema.shape }),
  z.strictObject({ kind: z.literal('starts_with'), value: z.string() }),
  z.strictObject({ kind: z.literal('ends_with'), value: z.string() }),
  z.strictObject({ kind: z.literal('includes'), value: z.string() }),
  z.strictObject({ kind: z.literal('lowercase') }),
  z.strictObject({ kind: z.literal('uppercase') }),
  z.strictObject({ kind: z.literal('url'), hostname: regexPartsSchema.optional(), protocol: regexPartsSchema.optional() }),
]);
const numberCheckSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('int'), format: z.enum(['safeint', 'int32', 'uint32']) }),
  z.strictObject({ kind: z.literal('min'), value: z.number(), inclusive: z.boolean() }),
  z.strictObject({ kind: z.literal('max'), value: z.number(), inclusive: z.boolean() }),
  z.strictObject({ kind: z.literal('multiple_of'), value: z.number().positive() }),
]);
const fieldBase = {
  nullable: z.literal(true).optional(),
  optional: z.literal(true).optional(),
  default: z.json().optional(),
  description: z.string().max(10_000).optional(),
};
const fieldDescriptorSchema: z.ZodType<FieldDescriptor> = z.lazy(() =>
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('string'), checks: z.array(stringCheckSchema).optional(), ...fieldBase }),
    z.strictObject({ type: z.literal('number'), checks: z.array(numberCheckSchema).optional(), ...fieldBase }),
    z.strictObject({ type: z.literal('boolean'), ...fieldBase }),
    z.strictObject({ type: z.literal('enum'), values: z.array(z.string()).min(1), ...fieldBase }),
    z.strictObject({
      type: z.literal('date'),
      format: z.enum(['datetime', 'date']),
      offset: z.boolean().optional(),
      local: z.boolean().optional(),
      precision: z.number().int().min(-1).max(9).nullable().optional(),
      ...fieldBase,
    }),
    z.strictObject({ type: z.literal('json'), ...fieldBase }),
    z.strictObject({ type: z.literal('array'), items: fieldDescriptorSchema, checks: z.array(lengthCheckSchema).optional(), ...fieldBase }),
    z.strictObject({
      type: z.literal('object'),
      fields: z.record(z.string(), fieldDescriptorSchema),
      unknownKeys: z.enum(['strip', 'strict', 'passthrough']),
      ...fieldBase,
    }),
    z.strictObject({ type: z.literal('record'), values: fieldDescriptorSchema, ...fieldBase }),
  ]),
) as z.ZodType<FieldDescriptor>;

const modelDescriptorSchema = z.strictObject({
  fields: z.record(z.string(), fieldDescriptorSchema),
  relations: z.record(
    z.string(),
    z.strictObject({ kind: z.enum(['belongsTo', 'hasMany']), model: z.string(), foreignKey: z.string() }),
  ),
  options: z.strictObject({
    syncGroupFormat: z.array(z.string()).optional(),
    idPrefix: z.string().optional(),
    description: z.string().optional(),
  }),
});

export const serializedSchemaSchema = z.strictObject({
  formatVersion: z.number().int(),
  hash: z.string().optional(),
  models: z.record(z.string(), modelDescriptorSchema),
  identityRoles: z.record(z.string(), z.string()).optional(),
});

/**
 * Parse and check serialized schema JSON (a string or an object). The hash is
 * recomputed; a document whose hash does not match its content is refused.
 */
export function parseSerializedSchema(json: unknown): SerializedSchema {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new AbloSchemaError(`Schema JSON does not parse: ${(err as Error).message}`, { code: 'invalid_schema_json' });
    }
  }
  const parsed = serializedSchemaSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.');
    const [, model, , field] = issue.path.map(String);
    throw new AbloSchemaError(`Schema JSON is not a valid Ablo schema at "${path}": ${issue.message}`, {
      code: 'invalid_schema_json',
      ...(model ? { model } : {}),
      ...(field ? { field } : {}),
    });
  }
  if (parsed.data.formatVersion !== SCHEMA_FORMAT_VERSION) {
    throw new AbloSchemaError(
      `Schema format version ${parsed.data.formatVersion} is not supported by this version of ablo (it reads version ${SCHEMA_FORMAT_VERSION}). Upgrade ablo.`,
      { code: 'unsupported_format_version' },
    );
  }
  const out = buildSerialized(parsed.data.models as Record<string, ModelDescriptor>, parsed.data.identityRoles);
  if (parsed.data.hash !== undefined && parsed.data.hash !== out.hash) {
    throw abloError('hash_mismatch');
  }
  return out;
}

/**
 * Serialized schema → runtime validators. The engine validates every write
 * with these, so a schema pushed as JSON enforces exactly what the Zod source
 * did.
 */
import { z } from 'zod';
import { AbloValidationError, type FieldIssue } from '../errors.js';
import { cloneJson, jsonValueIssue } from '../protocol/json.js';
import type { FieldDescriptor, JsonValue, ModelDescriptor, SerializedSchema } from './descriptor.js';
import { defaultIdPrefix, parseSerializedSchema } from './serialize.js';
import type { ModelTypeMap, SchemaLike } from './types.js';

function re(parts: { pattern: string; flags: string }): RegExp {
  return new RegExp(parts.pattern, parts.flags);
}

function clone<T extends JsonValue>(value: T): T {
  return cloneJson(value);
}

/**
 * `z.json()` without recursion: Zod's own recurses per level and overflows the
 * stack on deep values (~1,700 levels), which rows restored with
 * `--allow-deep` may have. Accepts and rejects what `z.json()` does (plain
 * objects, arrays, strings, finite numbers, booleans, null) and returns a copy.
 * How deep a value may be is checked where the JSON is read (src/protocol/json.ts).
 */
function jsonZod(): z.ZodType {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      const issue = jsonValueIssue(value);
      if (issue) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    })
    .transform((value) => cloneJson(value));
}

/**
 * Zod's own format checks. Some do more than match a pattern (base64 checks
 * padding, ipv6 parses the address), so the factory is used whenever the stored
 * pattern is the factory's default; a custom pattern is matched as stored.
 */
const FORMAT_FACTORIES: Record<string, () => z.ZodType> = {
  uuid: () => z.uuid(),
  guid: () => z.guid(),
  cuid: () => z.cuid(),
  cuid2: () => z.cuid2(),
  ulid: () => z.ulid(),
  nanoid: () => z.nanoid(),
  xid: () => z.xid(),
  ksuid: () => z.ksuid(),
  ipv4: () => z.ipv4(),
  ipv6: () => z.ipv6(),
  cidrv4: () => z.cidrv4(),
  cidrv6: () => z.cidrv6(),
  e164: () => z.e164(),
  base64: () => z.base64(),
  base64url: () => z.base64url(),
  emoji: () => z.emoji(),
  hex: () => z.hex(),
  time: () => z.iso.time(),
  duration: () => z.iso.duration(),
};

function formatCheck(format: string, pattern: RegExp): z.core.$ZodCheck<string> {
  const factory = Object.prototype.hasOwnProperty.call(FORMAT_FACTORIES, format) ? FORMAT_FACTORIES[format] : undefined;
  if (factory) {
    const made = factory() as unknown as z.core.$ZodCheck<string> & { _zod: { def: { pattern?: RegExp } } };
    const p = made._zod.def.pattern;
    if (p && p.source === pattern.source && p.flags === pattern.flags) return made;
  }
  return z.stringFormat(format, pattern) as unknown as z.core.$ZodCheck<string>;
}

/** The base type of a descriptor, without nullable/optional/default. */
function baseZod(d: FieldDescriptor): z.ZodType {
  switch (d.type) {
    case 'string': {
      let s = z.string();
      for (const c of d.checks ?? []) {
        switch (c.kind) {
          case 'min_length':
            s = s.min(c.value);
            break;
          case 'max_length':
            s = s.max(c.value);
            break;
          case 'length':
            s = s.length(c.value);
            break;
          case 'regex':
            s = s.regex(re(c));
            break;
          case 'starts_with':
            s = s.startsWith(c.value);
            break;
          case 'ends_with':
            s = s.endsWith(c.value);
            break;
          case 'includes':
            s = s.includes(c.value);
            break;
          case 'lowercase':
            s = s.lowercase();
            break;
          case 'uppercase':
            s = s.uppercase();
            break;
          case 'email':
            s = s.check(z.email({ pattern: re(c) }));
            break;
          case 'url':
            s = s.check(
              z.url({
                ...(c.hostname ? { hostname: re(c.hostname) } : {}),
                ...(c.protocol ? { protocol: re(c.protocol) } : {}),
              }),
            );
            break;
          case 'format':
            s = s.check(formatCheck(c.format, re(c)));
            break;
        }
      }
      return s;
    }
    case 'number': {
      let n = z.number();
      for (const c of d.checks ?? []) {
        switch (c.kind) {
          case 'int':
            n = n.check(c.format === 'int32' ? z.int32() : c.format === 'uint32' ? z.uint32() : z.int());
            break;
          case 'min':
            n = c.inclusive ? n.gte(c.value) : n.gt(c.value);
            break;
          case 'max':
            n = c.inclusive ? n.lte(c.value) : n.lt(c.value);
            break;
          case 'multiple_of':
            n = n.multipleOf(c.value);
            break;
        }
      }
      return n;
    }
    case 'boolean':
      return z.boolean();
    case 'enum':
      return z.enum(d.values as [string, ...string[]]);
    case 'date':
      return d.format === 'date'
        ? z.iso.date()
        : z.iso.datetime({ offset: Boolean(d.offset), local: Boolean(d.local), precision: d.precision ?? undefined });
    case 'json':
      return jsonZod();
    case 'array': {
      let a = z.array(fieldZod(d.items));
      for (const c of d.checks ?? []) {
        if (c.kind === 'min_length') a = a.min(c.value);
        else if (c.kind === 'max_length') a = a.max(c.value);
        else a = a.length(c.value);
      }
      return a;
    }
    case 'object': {
      const shape: Record<string, z.ZodType> = {};
      for (const [k, f] of Object.entries(d.fields)) shape[k] = fieldZod(f);
      if (d.unknownKeys === 'strict') return z.strictObject(shape);
      if (d.unknownKeys === 'passthrough') return z.looseObject(shape);
      return z.object(shape);
    }
    case 'record':
      return z.record(z.string(), fieldZod(d.values));
  }
}

/** A descriptor as Zod, with nullable / optional / default, as declared. */
export function fieldZod(d: FieldDescriptor): z.ZodType {
  let s = baseZod(d);
  if (d.nullable) s = s.nullable();
  if (d.default !== undefined) {
    const value = d.default;
    s = s.default(() => clone(value) as never);
  } else if (d.optional) s = s.optional();
  if (d.description) s = s.describe(d.description);
  return s;
}

/** How a field is written in an update: never defaulted; an optional field may be cleared with null. */
function updateFieldZod(d: FieldDescriptor): z.ZodType {
  let s = baseZod(d);
  if (d.nullable || d.optional) s = s.nullable();
  return s.optional();
}

/** How a field looks in a stored row: optional fields read back as null. */
function rowFieldZod(d: FieldDescriptor): z.ZodType {
  let s = baseZod(d);
  if (d.nullable || d.optional) s = s.nullable();
  return s;
}

const SERVER_MANAGED = new Set(['id', 'createdAt', 'updatedAt', 'syncId']);

function issuesOf(error: z.ZodError): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const field = base ? `${base}.${key}` : key;
        out.push({ field, code: 'unknown_field', message: `Unknown field "${field}".` });
      }
    } else {
      out.push({ field: base, code: issue.code, message: issue.message });
    }
  }
  return out;
}

export type ValidationMode = 'create' | 'update' | 'row';

export interface CompiledModel {
  readonly name: string;
  readonly descriptor: ModelDescriptor;
  readonly fields: Readonly<Record<string, FieldDescriptor>>;
  readonly fieldNames: readonly string[];
  readonly idPrefix: string;
  /** Validate create data: fills defaults, rejects unknown and server-managed fields. */
  parseCreate(data: unknown): Record<string, unknown>;
  /** Validate update data: any subset of fields, no defaults. */
  parseUpdate(data: unknown): Record<string, unknown>;
  /** Validate a full stored row's fields (without system fields). */
  parseRow(data: unknown): Record<string, unknown>;
  /** Sync groups of a row, from `syncGroupFormat` (or `['default']`). */
  syncGroups(row: Record<string, unknown>): string[];
}

export interface CompiledSchema<T extends ModelTypeMap = ModelTypeMap> extends SchemaLike<T> {
  readonly kind: 'ablo.compiled-schema';
  readonly hash: string;
  readonly models: Readonly<Record<string, CompiledModel>>;
  readonly modelNames: readonly string[];
  /** The model, or an `AbloValidationError` naming it and the known models. */
  model(name: string): CompiledModel;
}

function compileModel(name: string, descriptor: ModelDescriptor): CompiledModel {
  const createShape: Record<string, z.ZodType> = {};
  const updateShape: Record<string, z.ZodType> = {};
  const rowShape: Record<string, z.ZodType> = {};
  for (const [field, d] of Object.entries(descriptor.fields)) {
    createShape[field] = fieldZod(d);
    updateShape[field] = updateFieldZod(d);
    rowShape[field] = rowFieldZod(d);
  }
  const validators = {
    create: z.strictObject(createShape),
    update: z.strictObject(updateShape),
    row: z.object(rowShape),
  };
  const templates = descriptor.options.syncGroupFormat ?? [];

  const parse = (mode: ValidationMode, data: unknown): Record<string, unknown> => {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new AbloValidationError(`"${name}" ${mode} data must be an object of fields.`, { model: name, code: 'invalid_type', issues: [] });
    }
    if (mode !== 'row') {
      for (const key of Object.keys(data)) {
        if (SERVER_MANAGED.has(key)) {
          throw new AbloValidationError(`Field "${key}" of "${name}" is managed by Ablo and cannot be written.`, {
            model: name,
            field: key,
            code: 'read_only_field',
            issues: [{ field: key, code: 'read_only_field', message: `"${key}" is managed by Ablo.` }],
          });
        }
      }
    }
    const result = validators[mode].safeParse(data);
    if (result.success) return result.data as Record<string, unknown>;
    const issues = issuesOf(result.error);
    const first = issues[0]!;
    const known = Object.keys(descriptor.fields);
    const hint = first.code === 'unknown_field' ? ` Known fields: ${known.join(', ') || '(none)'}.` : '';
    throw new AbloValidationError(`Invalid ${name}.${first.field}: ${first.message}${hint}`, {
      model: name,
      field: first.field,
      code: first.code === 'unknown_field' ? 'unknown_field' : 'invalid_field',
      issues,
    });
  };

  return {
    name,
    descriptor,
    fields: descriptor.fields,
    fieldNames: Object.keys(descriptor.fields),
    idPrefix: descriptor.options.idPrefix ?? defaultIdPrefix(name),
    parseCreate: (data) => parse('create', data),
    parseUpdate: (data) => parse('update', data),
    parseRow: (data) => parse('row', data),
    syncGroups(row) {
      if (templates.length === 0) return ['default'];
      return templates.map((t) =>
        t.replace(/\{([^{}]*)\}/g, (_m, field: string) => {
          const v = row[field];
          return v === null || v === undefined ? '' : String(v);
        }),
      );
    },
  };
}

const compiledCache = new WeakMap<object, CompiledSchema>();

/**
 * Runtime validators for a serialized schema (JSON text or object). Accepts
 * and rejects exactly what the Zod source accepted and rejected.
 */
export function deserializeSchema<T extends ModelTypeMap = ModelTypeMap>(json: unknown): CompiledSchema<T> {
  const serialized = parseSerializedSchema(json);
  return compileSerialized(serialized) as CompiledSchema<T>;
}

function compileSerialized(serialized: SerializedSchema): CompiledSchema {
  const models: Record<string, CompiledModel> = {};
  for (const [name, d] of Object.entries(serialized.models)) models[name] = compileModel(name, d);
  const modelNames = Object.keys(models);
  return {
    kind: 'ablo.compiled-schema',
    serialized,
    hash: serialized.hash,
    models,
    modelNames,
    model(name: string): CompiledModel {
      const m = Object.prototype.hasOwnProperty.call(models, name) ? models[name] : undefined;
      if (!m) {
        throw new AbloValidationError(`Unknown model "${name}". Known models: ${modelNames.join(', ') || '(none)'}.`, {
          code: 'unknown_model',
          model: name,
        });
      }
      return m;
    },
  };
}

/** Compile any schema form (cached per object). */
export function compileSchema<T extends ModelTypeMap>(schema: SchemaLike<T> | SerializedSchema): CompiledSchema<T> {
  if ((schema as CompiledSchema).kind === 'ablo.compiled-schema') return schema as CompiledSchema<T>;
  const cached = compiledCache.get(schema);
  if (cached) return cached as CompiledSchema<T>;
  const serialized = 'serialized' in schema ? schema.serialized : parseSerializedSchema(schema);
  const compiled = compileSerialized(serialized);
  compiledCache.set(schema, compiled);
  return compiled as CompiledSchema<T>;
}

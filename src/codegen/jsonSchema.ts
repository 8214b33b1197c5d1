/**
 * JSON Schema (draft 2020-12) for fields and models, derived from the
 * serialized schema. The output mirrors what `compile.ts` accepts:
 *
 * - `create`: fields as declared (defaulted / optional fields may be left out,
 *   `null` only where the field is nullable), unknown keys rejected.
 * - `update`: any subset of fields; optional fields may be cleared with `null`.
 * - `row`: every field present; optional fields read back as `null`.
 *
 * Nested values (object properties, array items, record values) follow the
 * field's own declaration in every mode, exactly as the Zod validators do.
 *
 * What JSON Schema cannot say is kept as annotations: regex flags that change
 * matching (`i`, `m`, `s`, `y`) go in `x-ablo-flags` next to the pattern, URL
 * hostname / protocol rules in `x-ablo-url-hostname` / `x-ablo-url-protocol`,
 * string formats without a JSON Schema name in `x-ablo-format`.
 */
import { z } from 'zod';
import type { FieldDescriptor, JsonValue, ModelDescriptor, SerializedSchema } from '../schema/descriptor.js';

/** A JSON Schema document or subschema. */
export interface JSONSchema {
  [keyword: string]: unknown;
}

export type FieldSchemaMode = 'row' | 'create' | 'update';

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** Flags that change what a pattern matches and that a JSON Schema `pattern` cannot carry. */
const SEMANTIC_FLAGS = /[imsy]/;

const INT_BOUNDS: Record<string, readonly [number, number]> = {
  safeint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

/** JSON Schema `format` names for Zod string formats that have one. */
const FORMAT_NAMES: Record<string, string> = {
  uuid: 'uuid',
  ipv4: 'ipv4',
  ipv6: 'ipv6',
  duration: 'duration',
};

/** Escape text for use inside an ECMA-262 pattern (valid in unicode mode too). */
function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/**
 * Merge keyword sets: a keyword the target already has (a second pattern, a
 * second format) goes into an `allOf` entry so both keep applying.
 */
function addKeywords(target: JSONSchema, keywords: JSONSchema): void {
  const clash = Object.keys(keywords).some((k) => k in target);
  if (!clash) {
    Object.assign(target, keywords);
    return;
  }
  const allOf = (target.allOf as JSONSchema[] | undefined) ?? [];
  allOf.push(keywords);
  target.allOf = allOf;
}

function patternKeywords(pattern: string, flags: string): JSONSchema {
  const out: JSONSchema = { pattern };
  const kept = flags.replace(/[gdu]/g, '');
  if (kept.length > 0 && (SEMANTIC_FLAGS.test(kept) || kept.includes('v'))) out['x-ablo-flags'] = kept;
  return out;
}

interface Bound {
  value: number;
  exclusive: boolean;
}

function tighterLower(a: Bound | undefined, b: Bound): Bound {
  if (!a) return b;
  if (b.value > a.value) return b;
  if (b.value === a.value && b.exclusive) return b;
  return a;
}

function tighterUpper(a: Bound | undefined, b: Bound): Bound {
  if (!a) return b;
  if (b.value < a.value) return b;
  if (b.value === a.value && b.exclusive) return b;
  return a;
}

function datePattern(d: Extract<FieldDescriptor, { type: 'date' }>): string {
  const schema =
    d.format === 'date'
      ? z.iso.date()
      : z.iso.datetime({ offset: Boolean(d.offset), local: Boolean(d.local), precision: d.precision ?? undefined });
  const pattern = (schema as unknown as { _zod: { def: { pattern?: RegExp } } })._zod.def.pattern;
  return pattern instanceof RegExp ? pattern.source : '';
}

function stringSchema(d: Extract<FieldDescriptor, { type: 'string' }>): JSONSchema {
  const out: JSONSchema = { type: 'string' };
  let minLength: number | undefined;
  let maxLength: number | undefined;
  const keywordSets: JSONSchema[] = [];
  for (const c of d.checks ?? []) {
    switch (c.kind) {
      case 'min_length':
        minLength = Math.max(minLength ?? 0, c.value);
        break;
      case 'max_length':
        maxLength = Math.min(maxLength ?? Infinity, c.value);
        break;
      case 'length':
        minLength = Math.max(minLength ?? 0, c.value);
        maxLength = Math.min(maxLength ?? Infinity, c.value);
        break;
      case 'regex':
        keywordSets.push(patternKeywords(c.pattern, c.flags));
        break;
      case 'starts_with':
        keywordSets.push({ pattern: `^${escapeRegex(c.value)}` });
        break;
      case 'ends_with':
        keywordSets.push({ pattern: `${escapeRegex(c.value)}$` });
        break;
      case 'includes':
        keywordSets.push({ pattern: escapeRegex(c.value) });
        break;
      case 'lowercase':
        keywordSets.push({ pattern: '^[^A-Z]*$' });
        break;
      case 'uppercase':
        keywordSets.push({ pattern: '^[^a-z]*$' });
        break;
      case 'email':
        keywordSets.push({ format: 'email', ...patternKeywords(c.pattern, c.flags) });
        break;
      case 'url': {
        const url: JSONSchema = { format: 'uri' };
        if (c.hostname) url['x-ablo-url-hostname'] = { pattern: c.hostname.pattern, flags: c.hostname.flags };
        if (c.protocol) url['x-ablo-url-protocol'] = { pattern: c.protocol.pattern, flags: c.protocol.flags };
        keywordSets.push(url);
        break;
      }
      case 'format': {
        const named = FORMAT_NAMES[c.format];
        keywordSets.push({
          ...(named ? { format: named } : { 'x-ablo-format': c.format }),
          ...patternKeywords(c.pattern, c.flags),
        });
        break;
      }
    }
  }
  if (minLength !== undefined) out.minLength = minLength;
  if (maxLength !== undefined) out.maxLength = maxLength;
  for (const k of keywordSets) addKeywords(out, k);
  return out;
}

function numberSchema(d: Extract<FieldDescriptor, { type: 'number' }>): JSONSchema {
  let integer = false;
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  const multiples: number[] = [];
  for (const c of d.checks ?? []) {
    switch (c.kind) {
      case 'int': {
        integer = true;
        const [lo, hi] = INT_BOUNDS[c.format] ?? INT_BOUNDS.safeint!;
        lower = tighterLower(lower, { value: lo, exclusive: false });
        upper = tighterUpper(upper, { value: hi, exclusive: false });
        break;
      }
      case 'min':
        lower = tighterLower(lower, { value: c.value, exclusive: !c.inclusive });
        break;
      case 'max':
        upper = tighterUpper(upper, { value: c.value, exclusive: !c.inclusive });
        break;
      case 'multiple_of':
        multiples.push(c.value);
        break;
    }
  }
  const out: JSONSchema = { type: integer ? 'integer' : 'number' };
  if (lower) out[lower.exclusive ? 'exclusiveMinimum' : 'minimum'] = lower.value;
  if (upper) out[upper.exclusive ? 'exclusiveMaximum' : 'maximum'] = upper.value;
  for (const m of multiples) addKeywords(out, { multipleOf: m });
  return out;
}

/** The value schema without nullability, default or description. */
function baseSchema(d: FieldDescriptor, rowNested: boolean): JSONSchema {
  switch (d.type) {
    case 'string':
      return stringSchema(d);
    case 'number':
      return numberSchema(d);
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { type: 'string', enum: [...d.values] };
    case 'date': {
      const out: JSONSchema = { type: 'string' };
      // A local date-time has no offset, which the `date-time` format requires.
      if (d.format === 'date') out.format = 'date';
      else if (!d.local) out.format = 'date-time';
      const pattern = datePattern(d);
      if (pattern) out.pattern = pattern;
      return out;
    }
    case 'json':
      return {};
    case 'array': {
      const out: JSONSchema = { type: 'array', items: nestedSchema(d.items, rowNested) };
      let min: number | undefined;
      let max: number | undefined;
      for (const c of d.checks ?? []) {
        if (c.kind === 'min_length' || c.kind === 'length') min = Math.max(min ?? 0, c.value);
        if (c.kind === 'max_length' || c.kind === 'length') max = Math.min(max ?? Infinity, c.value);
      }
      if (min !== undefined) out.minItems = min;
      if (max !== undefined) out.maxItems = max;
      return out;
    }
    case 'object': {
      const properties: Record<string, JSONSchema> = {};
      const required: string[] = [];
      for (const [key, f] of Object.entries(d.fields)) {
        properties[key] = nestedSchema(f, rowNested);
        // Create/update: may be left out when optional or defaulted. A stored
        // row has defaults filled in, so only optional-without-default is absent.
        const mayBeAbsent = rowNested ? Boolean(f.optional) && f.default === undefined : Boolean(f.optional) || f.default !== undefined;
        if (!mayBeAbsent) required.push(key);
      }
      const out: JSONSchema = { type: 'object', properties };
      if (required.length > 0) out.required = required;
      if (d.unknownKeys === 'strict') out.additionalProperties = false;
      return out;
    }
    case 'record':
      return { type: 'object', additionalProperties: nestedSchema(d.values, rowNested) };
  }
}

/** Allow `null` in a schema built by `baseSchema`. */
function allowNull(schema: JSONSchema): void {
  const type = schema.type;
  if (type === undefined) return; // no type constraint: null already passes
  if (typeof type === 'string') schema.type = [type, 'null'];
  else if (Array.isArray(type) && !type.includes('null')) schema.type = [...type, 'null'];
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...(schema.enum as unknown[]), null];
}

function annotate(schema: JSONSchema, d: FieldDescriptor, withDefault: boolean): JSONSchema {
  if (withDefault && d.default !== undefined) schema.default = d.default as JsonValue;
  if (d.description) schema.description = d.description;
  return schema;
}

/** A value nested in an object, array or record: always as declared. */
function nestedSchema(d: FieldDescriptor, rowNested: boolean): JSONSchema {
  const s = baseSchema(d, rowNested);
  if (d.nullable) allowNull(s);
  return annotate(s, d, true);
}

/**
 * JSON Schema for one top-level field of a model, in one of the three modes.
 * Whether the field is *required* is decided by the containing object (see
 * `modelJsonSchemas`); this gives the value schema.
 */
export function fieldJsonSchema(d: FieldDescriptor, mode: FieldSchemaMode): JSONSchema {
  const s = baseSchema(d, mode === 'row');
  const nullable = mode === 'create' ? Boolean(d.nullable) : Boolean(d.nullable || d.optional);
  if (nullable) allowNull(s);
  return annotate(s, d, mode === 'create');
}

// ---------------------------------------------------------------------------
// Names

/** Names the generators define themselves; a model never takes one of these. */
export const RESERVED_TYPE_NAMES: ReadonlySet<string> = new Set([
  // typed client
  'AbloModels',
  'ModelName',
  'JsonValue',
  // OpenAPI shared components and operation bases
  'Error',
  'ErrorEnvelope',
  'FieldIssue',
  'Participant',
  'OnStale',
  'ReadDependency',
  'RowReadDependency',
  'GroupReadDependency',
  'StaleNotification',
  'Operation',
  'Commit',
  'CommitRequest',
  'CommitReceipt',
  'Change',
  'ChangeList',
  'Claim',
  'ClaimRequest',
  'ClaimQueueEntry',
  'Health',
  'Schema',
  'SerializedSchema',
  'SchemaPushRequest',
  'SchemaPushResult',
  'SchemaPlan',
  'ApiKey',
  'ApiKeyCreate',
  'Session',
  'SessionCreate',
  'Deleted',
  'OpenApi',
  'OpenApiDocument',
  // global TypeScript / DOM types a module should not shadow
  'Object',
  'Array',
  'String',
  'Number',
  'Boolean',
  'Symbol',
  'BigInt',
  'Function',
  'Date',
  'RegExp',
  'Map',
  'Set',
  'WeakMap',
  'WeakSet',
  'Promise',
  'Record',
  'Partial',
  'Required',
  'Readonly',
  'Pick',
  'Omit',
  'Exclude',
  'Extract',
  'NonNullable',
  'ReturnType',
  'Parameters',
  'Awaited',
  'JSON',
  'Math',
  'Intl',
  'Iterable',
  'Iterator',
  'Response',
  'Request',
  'URL',
  'Blob',
  'File',
  'Event',
  'Node',
  'Element',
  'Document',
  'Window',
]);

/** Suffixes every model type name is combined with by the generators. */
export const MODEL_NAME_SUFFIXES = [
  '',
  'Create',
  'Update',
  'List',
  'Claim',
  'ClaimState',
  'Operation',
  'CreateOperation',
  'UpdateOperation',
  'DeleteOperation',
] as const;

/** `task_items` → `TaskItems`. */
export function pascalCase(name: string): string {
  const out = name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
  return /^[A-Za-z]/.test(out) ? out : `M${out}`;
}

/** A cautious English singular: `tasks` → `task`, `categories` → `category`, `status` stays. */
export function singular(word: string): string {
  if (word.length <= 3) return word;
  if (/ies$/.test(word)) return `${word.slice(0, -3)}y`;
  if (/(ss|us|is)$/i.test(word)) return word;
  if (/(sses|xes|ches|shes|zzes)$/.test(word)) return word.slice(0, -2);
  if (/s$/.test(word)) return word.slice(0, -1);
  return word;
}

/**
 * The type / component base name of every model: PascalCase and singular
 * (`tasks` → `Task`), unique across the schema together with every suffix
 * the generators add (`TaskCreate`, `TaskList`, ...), and never one of the
 * generators' own names. Deterministic: models are named in sorted order.
 */
export function modelTypeNames(schema: Pick<SerializedSchema, 'models'>): Record<string, string> {
  const taken = new Set<string>(RESERVED_TYPE_NAMES);
  const out: Record<string, string> = {};
  for (const model of Object.keys(schema.models).sort()) {
    const plural = pascalCase(model);
    const single = pascalCase(singular(model));
    const candidates = [single, plural, `${single}Model`];
    for (let n = 2; ; ) {
      const candidate = candidates.shift() ?? `${single}Model${n++}`;
      const names = MODEL_NAME_SUFFIXES.map((s) => candidate + s);
      if (names.some((name) => taken.has(name))) continue;
      for (const name of names) taken.add(name);
      out[model] = candidate;
      break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Models

export interface ModelJsonSchemas {
  /** A stored row: system fields plus every field (optional fields as `null`). */
  row: JSONSchema;
  /** Create input: required fields, defaults, and an optional client-chosen `id`. */
  create: JSONSchema;
  /** Update input: any subset of fields. */
  update: JSONSchema;
}

const SYSTEM_FIELD_SCHEMAS: Record<string, JSONSchema> = {
  id: { type: 'string', description: 'Row id: client-chosen, or `<prefix>_<ulid>` generated by the engine.' },
  createdAt: { type: 'string', format: 'date-time', description: 'When the row was created (ISO 8601, set by the engine).' },
  updatedAt: { type: 'string', format: 'date-time', description: 'When the row last changed (ISO 8601, set by the engine).' },
  syncId: { type: 'integer', description: 'Sync id of the last change to the row.' },
};

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function modelSchemas(name: string, typeName: string, model: ModelDescriptor): ModelJsonSchemas {
  const fieldNames = Object.keys(model.fields);

  const rowProps: Record<string, JSONSchema> = clone(SYSTEM_FIELD_SCHEMAS);
  const createProps: Record<string, JSONSchema> = {
    id: { type: 'string', description: 'Optional client-chosen id for the new row; generated when left out.' },
  };
  const updateProps: Record<string, JSONSchema> = {};
  const createRequired: string[] = [];
  for (const field of fieldNames) {
    const d = model.fields[field]!;
    rowProps[field] = fieldJsonSchema(d, 'row');
    createProps[field] = fieldJsonSchema(d, 'create');
    updateProps[field] = fieldJsonSchema(d, 'update');
    if (d.default === undefined && !d.optional) createRequired.push(field);
  }
  const row: JSONSchema = {
    $schema: JSON_SCHEMA_DIALECT,
    title: typeName,
    description: model.options.description ?? `A row of "${name}".`,
    type: 'object',
    properties: rowProps,
    required: [...Object.keys(SYSTEM_FIELD_SCHEMAS), ...fieldNames],
  };
  const create: JSONSchema = {
    $schema: JSON_SCHEMA_DIALECT,
    title: `${typeName}Create`,
    description: `Fields for creating a row of "${name}".`,
    type: 'object',
    properties: createProps,
    ...(createRequired.length > 0 ? { required: createRequired } : {}),
    additionalProperties: false,
  };
  const update: JSONSchema = {
    $schema: JSON_SCHEMA_DIALECT,
    title: `${typeName}Update`,
    description: `Fields to change on a row of "${name}"; any subset. Optional fields may be set to null to clear them.`,
    type: 'object',
    properties: updateProps,
    additionalProperties: false,
  };
  return { row, create, update };
}

/** Row, create and update JSON Schemas for every model, keyed by model name (sorted). */
export function modelJsonSchemas(schema: SerializedSchema): Record<string, ModelJsonSchemas> {
  const names = modelTypeNames(schema);
  const out: Record<string, ModelJsonSchemas> = {};
  for (const model of Object.keys(schema.models).sort()) {
    out[model] = modelSchemas(model, names[model]!, schema.models[model]!);
  }
  return out;
}

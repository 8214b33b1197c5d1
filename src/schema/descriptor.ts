/**
 * The serializable description of a field, and the walk that turns a Zod type
 * into one. This is the single source the engine, the planner and the code
 * generators read; `compile.ts` turns it back into a validator.
 */
import type { z } from 'zod';
import { AbloSchemaError } from '../errors.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A check on a string, in the order Zod applies it. */
export type StringCheck =
  | { kind: 'min_length'; value: number }
  | { kind: 'max_length'; value: number }
  | { kind: 'length'; value: number }
  | { kind: 'regex'; pattern: string; flags: string }
  | { kind: 'starts_with'; value: string }
  | { kind: 'ends_with'; value: string }
  | { kind: 'includes'; value: string }
  | { kind: 'lowercase' }
  | { kind: 'uppercase' }
  | { kind: 'email'; pattern: string; flags: string }
  | { kind: 'url'; hostname?: { pattern: string; flags: string }; protocol?: { pattern: string; flags: string } }
  | { kind: 'format'; format: string; pattern: string; flags: string };

export type NumberCheck =
  | { kind: 'int'; format: string }
  | { kind: 'min'; value: number; inclusive: boolean }
  | { kind: 'max'; value: number; inclusive: boolean }
  | { kind: 'multiple_of'; value: number };

export type LengthCheck =
  | { kind: 'min_length'; value: number }
  | { kind: 'max_length'; value: number }
  | { kind: 'length'; value: number };

interface FieldBase {
  /** `null` is a valid value. */
  nullable?: true;
  /** The field may be left out; stored as null. */
  optional?: true;
  /** Value used when the field is left out on create. */
  default?: JsonValue;
  /** Text from `.describe()`. */
  description?: string;
}

export type FieldDescriptor = FieldBase &
  (
    | { type: 'string'; checks?: StringCheck[] }
    | { type: 'number'; checks?: NumberCheck[] }
    | { type: 'boolean' }
    | { type: 'enum'; values: string[] }
    | { type: 'date'; format: 'datetime' | 'date'; offset?: boolean; local?: boolean; precision?: number | null }
    | { type: 'json' }
    | { type: 'array'; items: FieldDescriptor; checks?: LengthCheck[] }
    | { type: 'object'; fields: Record<string, FieldDescriptor>; unknownKeys: 'strip' | 'strict' | 'passthrough' }
    | { type: 'record'; values: FieldDescriptor }
  );

export type FieldType = FieldDescriptor['type'];

export interface RelationDescriptor {
  kind: 'belongsTo' | 'hasMany';
  model: string;
  foreignKey: string;
}

export interface ModelOptionsDescriptor {
  /** Templates like `project:{projectId}`; a row fans out on every group they produce. */
  syncGroupFormat?: string[];
  /** Prefix of generated ids: `<idPrefix>_<ulid>`. */
  idPrefix?: string;
  description?: string;
}

export interface ModelDescriptor {
  fields: Record<string, FieldDescriptor>;
  relations: Record<string, RelationDescriptor>;
  options: ModelOptionsDescriptor;
}

export const SCHEMA_FORMAT_VERSION = 1;

export interface SerializedSchema {
  formatVersion: number;
  /** sha256 of the canonical JSON of `{ formatVersion, models }` (and `identityRoles`, when there are any). */
  hash: string;
  models: Record<string, ModelDescriptor>;
  /**
   * Role name → sync group template over the participant (`'user:{participantId}'`):
   * sessions and restricted keys expand them per participant. Absent when there are none.
   */
  identityRoles?: Record<string, string>;
}

interface Where {
  model: string;
  field: string;
}

function unsupported(where: Where, what: string, fix: string): never {
  throw new AbloSchemaError(`Model "${where.model}", field "${where.field}": ${what} is not supported. ${fix}`, {
    code: 'unsupported_type',
    model: where.model,
    field: where.field,
  });
}

// Zod 4 keeps its definition on `_zod.def`; we read it structurally.
interface AnyDef {
  type: string;
  checks?: Array<{ _zod: { def: Record<string, unknown> } }>;
  [key: string]: unknown;
}
function defOf(schema: unknown): AnyDef {
  return (schema as { _zod: { def: AnyDef } })._zod.def;
}

function regexParts(re: unknown): { pattern: string; flags: string } {
  const r = re as RegExp;
  return { pattern: r.source, flags: r.flags };
}

function isJsonValue(value: unknown): value is JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(value as object).every(isJsonValue);
  }
  return false;
}

const STRING_FORMATS_WITH_PATTERN = new Set([
  'uuid',
  'guid',
  'cuid',
  'cuid2',
  'ulid',
  'nanoid',
  'xid',
  'ksuid',
  'ipv4',
  'ipv6',
  'cidrv4',
  'cidrv6',
  'e164',
  'base64',
  'base64url',
  'emoji',
  'time',
  'duration',
  'hex',
]);

function stringFormatCheck(def: Record<string, unknown>, where: Where): StringCheck | 'date' {
  const format = def.format as string;
  switch (format) {
    case 'regex':
      return { kind: 'regex', ...regexParts(def.pattern) };
    case 'starts_with':
      return { kind: 'starts_with', value: def.prefix as string };
    case 'ends_with':
      return { kind: 'ends_with', value: def.suffix as string };
    case 'includes':
      if (def.position !== undefined) unsupported(where, '.includes() with a position', 'Use .regex() instead.');
      return { kind: 'includes', value: def.includes as string };
    case 'lowercase':
      return { kind: 'lowercase' };
    case 'uppercase':
      return { kind: 'uppercase' };
    case 'email':
      return { kind: 'email', ...regexParts(def.pattern) };
    case 'url': {
      const check: StringCheck = { kind: 'url' };
      if (def.hostname) check.hostname = regexParts(def.hostname);
      if (def.protocol) check.protocol = regexParts(def.protocol);
      if (def.normalize) unsupported(where, 'z.url({ normalize: true })', 'Normalize URLs in your own code before writing them.');
      return check;
    }
    case 'datetime':
    case 'date':
      return 'date';
    default:
      if (STRING_FORMATS_WITH_PATTERN.has(format) && def.pattern instanceof RegExp) {
        return { kind: 'format', format, ...regexParts(def.pattern) };
      }
      return unsupported(where, `the string format "${format}"`, 'Use .regex() with an equivalent pattern.');
  }
}

function lengthCheck(def: Record<string, unknown>): LengthCheck | undefined {
  switch (def.check) {
    case 'min_length':
      return { kind: 'min_length', value: def.minimum as number };
    case 'max_length':
      return { kind: 'max_length', value: def.maximum as number };
    case 'length_equals':
      return { kind: 'length', value: def.length as number };
    default:
      return undefined;
  }
}

function rejectTransform(check: Record<string, unknown>, where: Where): void {
  if (check.check === 'overwrite') {
    unsupported(where, 'a transforming check (.trim(), .toLowerCase(), .overwrite())', 'Normalize values in your own code before writing them; the schema must validate the same way on every side.');
  }
  if (check.check === 'custom' || check.type === 'custom') {
    unsupported(where, '.refine() / .superRefine() / .check() with a custom function', 'Functions cannot travel to the engine; express the rule with built-in checks (min, max, regex, enum).');
  }
}

function describeString(def: AnyDef, where: Where): FieldDescriptor {
  const checks: StringCheck[] = [];
  let date: FieldDescriptor | undefined;
  const takeFormat = (d: Record<string, unknown>): void => {
    const c = stringFormatCheck(d, where);
    if (c === 'date') {
      if (date) unsupported(where, 'two date formats on one string', 'Use a single z.iso.datetime() or z.iso.date().');
      date =
        d.format === 'datetime'
          ? { type: 'date', format: 'datetime', offset: Boolean(d.offset), local: Boolean(d.local), precision: (d.precision as number | null) ?? null }
          : { type: 'date', format: 'date' };
    } else checks.push(c);
  };
  // `z.email()` etc. put the format on the type itself.
  if (typeof def.format === 'string') takeFormat(def);
  for (const c of def.checks ?? []) {
    const cd = c._zod.def;
    rejectTransform(cd, where);
    const len = lengthCheck(cd);
    if (len) checks.push(len);
    else if (cd.check === 'string_format') takeFormat(cd);
    else unsupported(where, `the string check "${String(cd.check)}"`, 'Use min, max, length, regex or a built-in format.');
  }
  if (def.coerce) unsupported(where, 'z.coerce', 'Send values of the declared type; coercion differs between sides.');
  if (date) {
    if (checks.length) unsupported(where, 'extra checks on a date string', 'Use z.iso.datetime() or z.iso.date() alone.');
    return date;
  }
  return checks.length ? { type: 'string', checks } : { type: 'string' };
}

function describeNumber(def: AnyDef, where: Where): FieldDescriptor {
  const checks: NumberCheck[] = [];
  const take = (d: Record<string, unknown>): void => {
    switch (d.check) {
      case 'number_format':
        checks.push({ kind: 'int', format: d.format as string });
        return;
      case 'greater_than':
        checks.push({ kind: 'min', value: d.value as number, inclusive: Boolean(d.inclusive) });
        return;
      case 'less_than':
        checks.push({ kind: 'max', value: d.value as number, inclusive: Boolean(d.inclusive) });
        return;
      case 'multiple_of':
        checks.push({ kind: 'multiple_of', value: d.value as number });
        return;
      default:
        rejectTransform(d, where);
        unsupported(where, `the number check "${String(d.check)}"`, 'Use int, min, max, positive, negative or multipleOf.');
    }
  };
  if (def.check === 'number_format') take(def);
  for (const c of def.checks ?? []) take(c._zod.def);
  if (def.coerce) unsupported(where, 'z.coerce', 'Send values of the declared type; coercion differs between sides.');
  if (checks.some((c) => c.kind === 'int' && !['safeint', 'int32', 'uint32'].includes(c.format))) {
    unsupported(where, 'this number format', 'Use z.number(), z.number().int() or z.int().');
  }
  return checks.length ? { type: 'number', checks } : { type: 'number' };
}

function isZodJson(def: AnyDef): boolean {
  if (def.type !== 'lazy' || typeof def.getter !== 'function') return false;
  try {
    const inner = defOf((def.getter as () => unknown)());
    if (inner.type !== 'union') return false;
    const kinds = (inner.options as unknown[]).map((o) => defOf(o).type).sort();
    return kinds.join(',') === 'array,boolean,null,number,record,string';
  } catch {
    return false;
  }
}

function noChecks(def: AnyDef, where: Where, what: string): void {
  for (const c of def.checks ?? []) {
    rejectTransform(c._zod.def, where);
    unsupported(where, `a check on ${what}`, 'Remove the check.');
  }
}

/** Read the description from a schema layer; Zod 4 keeps it in the global registry. */
function descriptionOf(schema: z.ZodType): string | undefined {
  const d = (schema as { description?: string }).description;
  return typeof d === 'string' && d.length > 0 ? d : undefined;
}

/**
 * Turn one Zod type into a field descriptor. Throws `AbloSchemaError` naming
 * the model and field for anything the engine could not enforce the same way.
 */
export function describeZodType(schema: z.ZodType, where: Where): FieldDescriptor {
  let nullable = false;
  let optional = false;
  let hasDefault = false;
  let defaultValue: JsonValue | undefined;
  let description: string | undefined;
  let current: z.ZodType = schema;

  // Peel wrappers: optional, nullable, default (in any order and depth).
  for (;;) {
    description ??= descriptionOf(current);
    const def = defOf(current);
    if (def.type === 'optional') optional = true;
    else if (def.type === 'nullable') nullable = true;
    else if (def.type === 'default' || def.type === 'prefault') {
      if (def.type === 'prefault') unsupported(where, '.prefault()', 'Use .default().');
      const getValue = () => (def as unknown as { defaultValue: unknown }).defaultValue;
      const first = getValue();
      if (!isJsonValue(first)) {
        unsupported(where, 'a default that is not plain JSON (a Date, undefined, a class instance)', 'Use a string, number, boolean, null, array or plain object.');
      }
      if (JSON.stringify(first) !== JSON.stringify(getValue())) {
        unsupported(where, 'a default computed by a function that returns a new value each time', 'Use a constant default, or set the value when you write the row.');
      }
      if (!hasDefault) {
        hasDefault = true;
        defaultValue = first;
      }
    } else if (def.type === 'readonly') {
      // .readonly() only changes TypeScript types.
    } else break;
    current = def.innerType as z.ZodType;
  }

  const def = defOf(current);
  let base: FieldDescriptor;
  switch (def.type) {
    case 'string':
      base = describeString(def, where);
      break;
    case 'number':
      base = describeNumber(def, where);
      break;
    case 'boolean':
      noChecks(def, where, 'a boolean');
      if (def.coerce) unsupported(where, 'z.coerce', 'Send values of the declared type.');
      base = { type: 'boolean' };
      break;
    case 'enum': {
      const values = Object.values(def.entries as Record<string, unknown>);
      if (!values.every((v) => typeof v === 'string')) {
        unsupported(where, 'an enum with non-string values', 'Use string values: z.enum(["a", "b"]).');
      }
      base = { type: 'enum', values: values as string[] };
      break;
    }
    case 'literal': {
      const values = def.values as unknown[];
      if (!values.every((v) => typeof v === 'string')) {
        unsupported(where, 'a non-string literal', 'Use z.literal("text") or z.enum([...]).');
      }
      base = { type: 'enum', values: values as string[] };
      break;
    }
    case 'array': {
      const checks: LengthCheck[] = [];
      for (const c of def.checks ?? []) {
        rejectTransform(c._zod.def, where);
        const len = lengthCheck(c._zod.def);
        if (!len) unsupported(where, `the array check "${String(c._zod.def.check)}"`, 'Use min, max or length.');
        checks.push(len);
      }
      const items = describeZodType(def.element as z.ZodType, { model: where.model, field: `${where.field}[]` });
      if (items.optional || items.default !== undefined) {
        unsupported(where, 'optional or defaulted array items', 'Use .nullable() on the item type instead.');
      }
      base = checks.length ? { type: 'array', items, checks } : { type: 'array', items };
      break;
    }
    case 'object': {
      noChecks(def, where, 'an object');
      const shape = def.shape as Record<string, z.ZodType>;
      const fields: Record<string, FieldDescriptor> = {};
      for (const key of Object.keys(shape)) {
        fields[key] = describeZodType(shape[key]!, { model: where.model, field: `${where.field}.${key}` });
      }
      const catchall = def.catchall ? defOf(def.catchall).type : undefined;
      let unknownKeys: 'strip' | 'strict' | 'passthrough' = 'strip';
      if (catchall === 'never') unknownKeys = 'strict';
      else if (catchall === 'unknown' || catchall === 'any') unknownKeys = 'passthrough';
      else if (catchall !== undefined) unsupported(where, 'an object catchall type', 'Use z.object, z.strictObject or z.looseObject.');
      base = { type: 'object', fields, unknownKeys };
      break;
    }
    case 'record': {
      noChecks(def, where, 'a record');
      const keyDef = defOf(def.keyType);
      if (keyDef.type !== 'string' || (keyDef.checks ?? []).length > 0 || keyDef.format) {
        unsupported(where, 'a record whose keys are not plain strings', 'Use z.record(z.string(), valueType).');
      }
      const values = describeZodType(def.valueType as z.ZodType, { model: where.model, field: `${where.field}.*` });
      base = { type: 'record', values };
      break;
    }
    case 'lazy':
      if (isZodJson(def)) {
        base = { type: 'json' };
        break;
      }
      return unsupported(where, 'z.lazy()', 'Use z.json() for free-form JSON.');
    case 'date':
      return unsupported(where, 'z.date()', 'Dates travel as ISO strings: use z.iso.datetime() or z.iso.date().');
    case 'any':
    case 'unknown':
      return unsupported(where, `z.${def.type}()`, 'Use z.json() for free-form JSON values.');
    case 'union':
    case 'discriminatedUnion':
      return unsupported(where, 'a union', 'Use z.enum() for a set of strings, or z.json() for free-form values.');
    case 'pipe':
    case 'transform':
      return unsupported(where, 'a transform or pipe', 'Transform values in your own code; the schema must validate the same way on every side.');
    default:
      return unsupported(where, `z.${def.type}()`, 'Use string, number, boolean, enum, z.iso.datetime(), z.json(), arrays or objects.');
  }

  const out = base as FieldDescriptor;
  if (nullable) out.nullable = true;
  if (optional) out.optional = true;
  if (hasDefault) out.default = defaultValue as JsonValue;
  if (description) out.description = description;
  return out;
}

/** Whether a field must be given on create (no default, not optional). */
export function isRequiredOnCreate(field: FieldDescriptor): boolean {
  return field.default === undefined && !field.optional;
}

/** Whether the stored value can be null (nullable or optional). */
export function acceptsNull(field: FieldDescriptor): boolean {
  return Boolean(field.nullable || field.optional);
}

/**
 * Field diffs: what changed between two versions of one field, walking into
 * arrays, records and objects. Each difference is a `RawDiff` (unclassed); the
 * classifier turns them into changes once the stored data is known.
 */
import type { FieldDescriptor } from '../descriptor.js';
import { canonicalJson } from '../serialize.js';
import { compareDates, compareLengths, compareNumbers, compareStrings, type Direction, type Of, type RuleDiff } from './checks.js';
import { changeLine, fieldLabel, jsonLabel, modifierLabel, textLabel, typeLabel } from './labels.js';
import type { ChangeKind } from './types.js';
import { get, unionKeys } from './util.js';

export type FieldChangeKind = Exclude<
  ChangeKind,
  'add_model' | 'drop_model' | 'rename_model' | 'add_field' | 'drop_field' | 'rename_field' | 'change_relations' | 'change_options' | 'change_identity_roles'
>;

export interface RawDiff {
  kind: FieldChangeKind;
  /** Path from the model, starting with the field name. */
  path: string;
  nested: boolean;
  /** A full line (change_type, make_*, change_default, change_description) or a fragment (constraints). */
  text: string;
  from?: unknown;
  to?: unknown;
  /** Enum values added or removed. */
  values?: string[];
  /** The change cannot invalidate stored data whatever the data is. */
  harmless?: boolean;
  /** change_type: an object key was removed. */
  removedKey?: boolean;
}

function acceptsNullValue(d: FieldDescriptor): boolean {
  return Boolean(d.nullable || d.optional);
}

function pushRules(path: string, nested: boolean, a: FieldDescriptor, b: FieldDescriptor, rules: RuleDiff[], out: RawDiff[]): void {
  for (const r of rules) {
    out.push({ kind: r.dir === 'tighten' ? 'tighten_constraint' : 'relax_constraint', path, nested, text: r.text, from: a, to: b });
  }
}

/** Nullability and optionality: `make_required` / `make_optional`. */
function diffPresence(where: string, path: string, a: FieldDescriptor, b: FieldDescriptor, nested: boolean, out: RawDiff[]): void {
  const now = modifierLabel(b);
  const was = now === 'required' ? `was ${modifierLabel(a)}` : `was ${modifierLabel(a)}, now ${now}`;
  const base = { path, nested, from: a, to: b };
  if (!nested) {
    if (Boolean(a.optional) === Boolean(b.optional) && Boolean(a.nullable) === Boolean(b.nullable)) return;
    // A stored row holds null for an optional or nullable field that was not set.
    const x = acceptsNullValue(a);
    const y = acceptsNullValue(b);
    if (x && !y) out.push({ ...base, kind: 'make_required', text: `Make ${where} required (${was})` });
    else if (!x && y) out.push({ ...base, kind: 'make_optional', text: `Make ${where} optional (${was})` });
    // Both accept a stored null: only what a create may send changes.
    else if (b.optional && !a.optional) out.push({ ...base, kind: 'make_optional', text: `Make ${where} optional (${was})`, harmless: true });
    else if (a.optional && !b.optional) {
      out.push({ ...base, kind: 'make_required', text: `Make ${where} required on create (${was}; stored nulls stay valid)`, harmless: true });
    } else if (b.nullable) out.push({ ...base, kind: 'make_optional', text: `Make ${where} accept null (${was})`, harmless: true });
    else out.push({ ...base, kind: 'make_required', text: `Make ${where} refuse null on create (${was}; stored nulls stay valid)`, harmless: true });
    return;
  }
  // Inside a value: a missing key is valid only when optional or defaulted, null only when nullable.
  const lostNull = Boolean(a.nullable) && !b.nullable;
  const lostMissing = Boolean(a.optional || a.default !== undefined) && !b.optional && b.default === undefined;
  const gained = (b.nullable && !a.nullable) || (b.optional && !a.optional);
  if (lostNull || lostMissing) out.push({ ...base, kind: 'make_required', text: `Make ${where} required (${was})` });
  else if (gained) out.push({ ...base, kind: 'make_optional', text: `Make ${where} optional (${was})` });
}

function diffEnum(path: string, nested: boolean, a: Of<'enum'>, b: Of<'enum'>, out: RawDiff[]): void {
  const added = b.values.filter((v) => !a.values.includes(v));
  const removed = a.values.filter((v) => !b.values.includes(v));
  if (added.length) out.push({ kind: 'add_enum_value', path, nested, text: '', values: added, to: added });
  if (removed.length) out.push({ kind: 'remove_enum_value', path, nested, text: '', values: removed, from: removed });
}

const UNKNOWN_KEYS_RANK = { strict: 0, strip: 1, passthrough: 2 } as const;

/** An object's unknown-keys mode and its keys: added and dropped keys are rules, kept keys are diffed inside. */
function diffObject(model: string, path: string, nested: boolean, a: Of<'object'>, b: Of<'object'>, out: RawDiff[]): void {
  const where = `${model}.${path}`;
  const rules: RuleDiff[] = [];
  const from = UNKNOWN_KEYS_RANK[a.unknownKeys];
  const to = UNKNOWN_KEYS_RANK[b.unknownKeys];
  if (from !== to) rules.push({ dir: to > from ? 'relax' : 'tighten', text: `unknown keys ${a.unknownKeys} → ${b.unknownKeys}` });
  const inner: RawDiff[] = [];
  for (const key of unionKeys(a.fields, b.fields)) {
    const x = get(a.fields, key);
    const z = get(b.fields, key);
    if (x && z) diffField(model, `${path}.${key}`, x, z, true, inner);
    else if (x) {
      if (b.unknownKeys === 'passthrough') rules.push({ dir: 'relax', text: `drops key ${key} (kept unchecked)` });
      else {
        inner.push({
          kind: 'change_type',
          path: `${path}.${key}`,
          nested: true,
          text: `Remove key ${where}.${key} (${fieldLabel(x)}) from the object`,
          from: x,
          to: undefined,
          removedKey: true,
        });
      }
    } else if (z) {
      const mayBeMissing = Boolean(z.optional) || z.default !== undefined;
      // Stored extra keys of a passthrough object may hold anything.
      const dir: Direction = mayBeMissing && a.unknownKeys !== 'passthrough' ? 'relax' : 'tighten';
      rules.push({ dir, text: `adds key ${key} (${fieldLabel(z)})` });
    }
  }
  pushRules(path, nested, a, b, rules, out);
  out.push(...inner);
}

/**
 * Every difference between two versions of a field at `path` (the field name,
 * or a path into it when `nested`), appended to `out`.
 */
export function diffField(model: string, path: string, a: FieldDescriptor, b: FieldDescriptor, nested: boolean, out: RawDiff[]): void {
  const where = `${model}.${path}`;
  diffPresence(where, path, a, b, nested, out);
  const valueChange = <T>(kind: 'change_default' | 'change_description', what: string, from: T, to: T, label: (v: T) => string): void => {
    out.push({ kind, path, nested, text: changeLine(what, where, label(from), label(to)), from, to });
  };
  if (canonicalJson(a.default ?? null) !== canonicalJson(b.default ?? null) || (a.default === undefined) !== (b.default === undefined)) {
    valueChange('change_default', 'default', a.default, b.default, jsonLabel);
  }
  if (a.description !== b.description) valueChange('change_description', 'description', a.description, b.description, textLabel);
  if (a.type !== b.type) {
    out.push({ kind: 'change_type', path, nested, text: changeLine('type', where, typeLabel(a), typeLabel(b)), from: a, to: b });
    return;
  }
  const rules: RuleDiff[] = [];
  switch (a.type) {
    case 'string':
      compareStrings(a, b as Of<'string'>, rules);
      break;
    case 'number':
      compareNumbers(a, b as Of<'number'>, rules);
      break;
    case 'date':
      compareDates(a, b as Of<'date'>, rules);
      break;
    case 'enum':
      diffEnum(path, nested, a, b as Of<'enum'>, out);
      break;
    case 'array': {
      const y = b as Of<'array'>;
      compareLengths('items', a.checks, y.checks, rules);
      pushRules(path, nested, a, b, rules, out);
      diffField(model, `${path}[]`, a.items, y.items, true, out);
      return;
    }
    case 'record':
      diffField(model, `${path}.*`, a.values, (b as Of<'record'>).values, true, out);
      return;
    case 'object':
      diffObject(model, path, nested, a, b as Of<'object'>, out);
      return;
    default:
      break;
  }
  pushRules(path, nested, a, b, rules, out);
}

/**
 * The schema planner: compares the schema the engine runs with the schema in
 * code and lists, change by change, what applying it does to stored rows.
 *
 * Each change is classed:
 * - `safe`: no stored value can become invalid or be lost;
 * - `needs-data`: stored rows may not satisfy the new schema until they are
 *   filled in or fixed (a required field without default, a tighter rule);
 * - `destructive`: applying it may lose data (drop, type change, enum value removed).
 *
 * With live data statistics (`options.stats`) a change that touches no data is
 * safe: dropping a field no row fills, removing an enum value no row uses.
 *
 * Naming: renames come first in a plan, and every later change names models
 * and fields by their new names, except `drop_model` (the model only has its
 * old name). Statistics describe the data as it is stored now, so they are
 * keyed by the current (old) model and field names.
 */
import { AbloSchemaError } from '../errors.js';
import type {
  FieldDescriptor,
  FieldType,
  LengthCheck,
  ModelDescriptor,
  NumberCheck,
  RelationDescriptor,
  SerializedSchema,
  StringCheck,
} from './descriptor.js';
import { canonicalJson, defaultIdPrefix } from './serialize.js';

export type ChangeClass = 'safe' | 'destructive' | 'needs-data';

export type ChangeKind =
  | 'add_model'
  | 'drop_model'
  | 'rename_model'
  | 'add_field'
  | 'drop_field'
  | 'rename_field'
  | 'change_type'
  | 'add_enum_value'
  | 'remove_enum_value'
  | 'make_required'
  | 'make_optional'
  | 'tighten_constraint'
  | 'relax_constraint'
  | 'change_default'
  | 'change_description'
  | 'change_relations'
  | 'change_options';

export interface SchemaChange {
  kind: ChangeKind;
  class: ChangeClass;
  /** The model, by its new name (by its old name for `drop_model`). */
  model: string;
  /** The top-level field, by its new name (its old name for `drop_field`). Absent for model-level changes. */
  field?: string;
  /**
   * For a change inside a nested value (object key, array item, record value):
   * the path from the model, e.g. `meta.priority`, `tags[]`, `labels.*`.
   */
  path?: string;
  /** One human line, e.g. `Add field tasks.priority (number, optional)`. */
  description: string;
  /** Present when `class !== 'safe'`: the way out. */
  fix?: string;
  /**
   * Old and new value, for display and the engine:
   * - `add_model`/`drop_model`, `add_field`/`drop_field`: the descriptor (`to` / `from`);
   * - `rename_model`/`rename_field`: the old and new names;
   * - `add_enum_value`: `to` is the values added; `remove_enum_value`: `from` is the values removed;
   * - `change_default`/`change_description`/`change_options`: the old and new values (`undefined` when unset);
   * - `change_relations`: the old and new relation maps;
   * - other field changes: the old and new descriptors at `path` (or of the field).
   */
  from?: unknown;
  to?: unknown;
}

export interface SchemaStats {
  [model: string]: {
    rows: number;
    fields?: { [field: string]: { nonNull: number; values?: Record<string, number> } };
  };
}

export interface PlanOptions {
  /** Live data statistics, keyed by the current model and field names. */
  stats?: SchemaStats;
  /**
   * `{ 'todos': 'tasks' }` renames a model; `{ 'tasks.title': 'tasks.name' }`
   * renames a field. A field rename names its model by its new name; the old
   * name is accepted too. The target may also be the bare field name.
   */
  renames?: Record<string, string>;
}

export interface SchemaPlan {
  changes: SchemaChange[];
  /** Every change is safe (also true for an empty plan). */
  safe: boolean;
  counts: Record<ChangeClass, number>;
}

// ---------------------------------------------------------------------------
// Small helpers

type Of<T extends FieldType> = Extract<FieldDescriptor, { type: T }>;

function has(obj: object | undefined, key: string): boolean {
  return obj !== undefined && Object.prototype.hasOwnProperty.call(obj, key);
}

function get<T>(obj: Record<string, T> | undefined, key: string): T | undefined {
  return obj && has(obj, key) ? obj[key] : undefined;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function shorten(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function jsonLabel(value: unknown): string {
  return value === undefined ? 'none' : shorten(canonicalJson(value), 40);
}

function textLabel(value: string | undefined): string {
  return value === undefined ? 'none' : JSON.stringify(shorten(value, 50));
}

function typeLabel(d: FieldDescriptor): string {
  switch (d.type) {
    case 'number':
      return d.checks?.some((c) => c.kind === 'int') ? 'int' : 'number';
    case 'enum': {
      const shown = d.values.slice(0, 5).map((v) => JSON.stringify(v));
      if (d.values.length > 5) shown.push('...');
      return `enum(${shown.join(' | ')})`;
    }
    case 'date':
      return d.format === 'date' ? 'date' : 'datetime';
    case 'array':
      return `array<${typeLabel(d.items)}${d.items.nullable ? ' | null' : ''}>`;
    case 'record':
      return `record<${typeLabel(d.values)}${d.values.nullable ? ' | null' : ''}>`;
    default:
      return d.type;
  }
}

function modifierLabel(d: FieldDescriptor): string {
  const parts: string[] = [];
  if (d.optional) parts.push('optional');
  if (d.nullable) parts.push('nullable');
  if (d.default !== undefined) parts.push(`default ${jsonLabel(d.default)}`);
  return parts.length ? parts.join(', ') : 'required';
}

function fieldLabel(d: FieldDescriptor): string {
  return `${typeLabel(d)}, ${modifierLabel(d)}`;
}

function acceptsNullValue(d: FieldDescriptor): boolean {
  return Boolean(d.nullable || d.optional);
}

function invalidRename(message: string, where: { model?: string; field?: string } = {}): never {
  throw new AbloSchemaError(message, {
    code: 'invalid_rename',
    ...(where.model !== undefined ? { model: where.model } : {}),
    ...(where.field !== undefined ? { field: where.field } : {}),
  });
}

// ---------------------------------------------------------------------------
// Renames

interface Renames {
  /** old model name → new model name */
  models: Map<string, string>;
  /** new model name → old model name */
  modelsBack: Map<string, string>;
  /** new model name → (new field name → old field name) */
  fieldsBack: Map<string, Map<string, string>>;
  /** new model name → (old field name → new field name) */
  fields: Map<string, Map<string, string>>;
}

function known(names: string[]): string {
  return names.length ? names.join(', ') : '(none)';
}

function resolveRenames(
  current: Record<string, ModelDescriptor>,
  next: Record<string, ModelDescriptor>,
  renames: Record<string, string> | undefined,
): Renames {
  const out: Renames = { models: new Map(), modelsBack: new Map(), fields: new Map(), fieldsBack: new Map() };
  if (!renames) return out;
  const modelEntries: Array<[string, string]> = [];
  const fieldEntries: Array<[string, string]> = [];
  for (const [from, to] of Object.entries(renames)) {
    if (typeof to !== 'string' || to.length === 0) {
      invalidRename(`Rename "${from}": the new name must be a non-empty string.`);
    }
    if (from.includes('.')) fieldEntries.push([from, to]);
    else if (to.includes('.')) {
      invalidRename(`Rename ${from} → ${to}: rename a model to a model (todos=tasks) or a field to a field (tasks.title=tasks.name).`, {
        model: from,
      });
    } else modelEntries.push([from, to]);
  }

  const modelSources = new Set(modelEntries.map(([from]) => from));
  const modelTargets = new Set(modelEntries.map(([, to]) => to));
  for (const [from, to] of modelEntries) {
    const label = `Rename ${from} → ${to}`;
    if (from === to) invalidRename(`${label}: both sides name the same model.`, { model: from });
    if (!has(current, from)) {
      invalidRename(`${label}: model "${from}" is not in the current schema. Current models: ${known(Object.keys(current))}.`, { model: from });
    }
    if (!has(next, to)) {
      invalidRename(`${label}: model "${to}" is not in the new schema. New models: ${known(Object.keys(next))}.`, { model: to });
    }
    if (has(next, from) && !modelTargets.has(from)) {
      invalidRename(`${label}: model "${from}" still exists in the new schema, so it was not renamed.`, { model: from });
    }
    if (has(current, to) && !modelSources.has(to)) {
      invalidRename(`${label}: model "${to}" already exists in the current schema.`, { model: to });
    }
    if (out.modelsBack.has(to)) {
      invalidRename(`${label}: models "${out.modelsBack.get(to)}" and "${from}" are both renamed to "${to}".`, { model: to });
    }
    out.models.set(from, to);
    out.modelsBack.set(to, from);
  }

  // Field renames, grouped by the (new) model they belong to.
  const perModel = new Map<string, { oldModel: string; entries: Array<{ from: string; to: string; label: string }> }>();
  for (const [key, value] of fieldEntries) {
    const label = `Rename ${key} → ${value}`;
    const parts = key.split('.');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      invalidRename(`${label}: expected model.field on the left, e.g. tasks.title=tasks.name.`);
    }
    const [m, f] = parts as [string, string];
    let oldModel = m;
    let newModel = m;
    const renamedTo = out.models.get(m);
    const renamedFrom = out.modelsBack.get(m);
    if (renamedFrom !== undefined) oldModel = renamedFrom;
    else if (renamedTo !== undefined) newModel = renamedTo;
    if (!has(current, oldModel)) {
      invalidRename(`${label}: model "${m}" is not in the current schema. Current models: ${known(Object.keys(current))}.`, { model: m, field: f });
    }
    if (!has(next, newModel)) {
      invalidRename(`${label}: model "${newModel}" is not in the new schema. New models: ${known(Object.keys(next))}.`, { model: newModel, field: f });
    }
    const target = value.split('.');
    let to: string;
    if (target.length === 1 && target[0]) to = target[0];
    else if (target.length === 2 && target[0] && target[1]) {
      if (target[0] !== newModel && target[0] !== oldModel) {
        invalidRename(`${label}: a field rename stays within one model ("${newModel}"); a field cannot move to "${target[0]}".`, {
          model: newModel,
          field: f,
        });
      }
      to = target[1];
    } else invalidRename(`${label}: expected model.field on the right, e.g. tasks.title=tasks.name.`, { model: newModel, field: f });
    const group = perModel.get(newModel) ?? { oldModel, entries: [] };
    group.entries.push({ from: f, to, label });
    perModel.set(newModel, group);
  }

  for (const [newModel, { oldModel, entries }] of perModel) {
    const oldFields = current[oldModel]!.fields;
    const newFields = next[newModel]!.fields;
    const sources = new Set(entries.map((e) => e.from));
    const targets = new Set(entries.map((e) => e.to));
    const forward = new Map<string, string>();
    const back = new Map<string, string>();
    for (const { from, to, label } of entries) {
      const where = { model: newModel, field: from };
      if (from === to) invalidRename(`${label}: both sides name the same field.`, where);
      if (forward.has(from)) invalidRename(`${label}: field "${oldModel}.${from}" is renamed twice.`, where);
      if (!has(oldFields, from)) {
        invalidRename(`${label}: "${from}" is not a field of "${oldModel}" in the current schema. Its fields: ${known(Object.keys(oldFields))}.`, where);
      }
      if (!has(newFields, to)) {
        invalidRename(`${label}: "${to}" is not a field of "${newModel}" in the new schema. Its fields: ${known(Object.keys(newFields))}.`, {
          model: newModel,
          field: to,
        });
      }
      if (has(newFields, from) && !targets.has(from)) {
        invalidRename(`${label}: field "${newModel}.${from}" still exists in the new schema, so it was not renamed.`, where);
      }
      if (has(oldFields, to) && !sources.has(to)) {
        invalidRename(`${label}: field "${oldModel}.${to}" already exists in the current schema.`, { model: newModel, field: to });
      }
      if (back.has(to)) invalidRename(`${label}: fields "${back.get(to)}" and "${from}" are both renamed to "${to}".`, { model: newModel, field: to });
      forward.set(from, to);
      back.set(to, from);
    }
    out.fields.set(newModel, forward);
    out.fieldsBack.set(newModel, back);
  }
  return out;
}

/** Match old names to new names: `pairs` are [old, new]. */
function pairNames(
  oldNames: string[],
  newNames: string[],
  back: Map<string, string> | undefined,
): { pairs: Array<[string, string]>; added: string[]; dropped: string[] } {
  const oldSet = new Set(oldNames);
  const used = new Set<string>();
  const pairs: Array<[string, string]> = [];
  const added: string[] = [];
  for (const name of newNames) {
    const old = back?.get(name) ?? (oldSet.has(name) ? name : undefined);
    if (old === undefined) added.push(name);
    else {
      pairs.push([old, name]);
      used.add(old);
    }
  }
  return { pairs, added, dropped: oldNames.filter((n) => !used.has(n)) };
}

// ---------------------------------------------------------------------------
// Statistics

interface DataInfo {
  /** Rows of the model; undefined when unknown. */
  rows?: number;
  /** Rows where the field is not null; undefined when unknown. */
  nonNull?: number;
  values?: Record<string, number>;
}

function dataInfo(stats: SchemaStats | undefined, model: string, field?: string): DataInfo {
  const m = get(stats, model);
  if (!m) return {};
  const f = field === undefined ? undefined : get(m.fields, field);
  return { rows: m.rows, ...(f ? { nonNull: f.nonNull, ...(f.values ? { values: f.values } : {}) } : {}) };
}

/** Stats prove the field holds no non-null value. */
function holdsNoData(info: DataInfo): boolean {
  return info.rows === 0 || info.nonNull === 0;
}

function valueNote(info: DataInfo, model: string): string {
  if (info.rows === undefined) return '';
  if (info.rows === 0) return `${model} is empty`;
  if (info.nonNull === undefined) return `${model} has ${plural(info.rows, 'row')}`;
  if (info.nonNull === 0) return 'no row has a value';
  return `${info.nonNull} of ${plural(info.rows, 'row')} ${info.nonNull === 1 ? 'has' : 'have'} a value`;
}

/** Append a stats note in parentheses; with `merge`, into the line's closing parenthesis. */
function withNote(line: string, note: string, merge = false): string {
  if (!note) return line;
  return merge && line.endsWith(')') ? `${line.slice(0, -1)}; ${note})` : `${line} (${note})`;
}

// ---------------------------------------------------------------------------
// Field comparison

type Direction = 'tighten' | 'relax';

interface RuleDiff {
  dir: Direction;
  text: string;
}

interface RawDiff {
  kind: Exclude<ChangeKind, 'add_model' | 'drop_model' | 'rename_model' | 'add_field' | 'drop_field' | 'rename_field' | 'change_relations' | 'change_options'>;
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

function lengthBounds(checks: ReadonlyArray<StringCheck | LengthCheck> | undefined): { min?: number; max?: number } {
  let min: number | undefined;
  let max: number | undefined;
  for (const c of checks ?? []) {
    if (c.kind === 'min_length' || c.kind === 'length') min = Math.max(min ?? -Infinity, c.value);
    if (c.kind === 'max_length' || c.kind === 'length') max = Math.min(max ?? Infinity, c.value);
  }
  return { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
}

function compareLengths(
  noun: string,
  a: ReadonlyArray<StringCheck | LengthCheck> | undefined,
  b: ReadonlyArray<StringCheck | LengthCheck> | undefined,
  out: RuleDiff[],
): void {
  const x = lengthBounds(a);
  const y = lengthBounds(b);
  const show = (v: number | undefined) => (v === undefined ? 'none' : String(v));
  if (x.min !== y.min) {
    const dir: Direction = x.min === undefined || (y.min !== undefined && y.min > x.min) ? 'tighten' : 'relax';
    out.push({ dir, text: `min ${noun} ${show(x.min)} → ${show(y.min)}` });
  }
  if (x.max !== y.max) {
    const dir: Direction = x.max === undefined || (y.max !== undefined && y.max < x.max) ? 'tighten' : 'relax';
    out.push({ dir, text: `max ${noun} ${show(x.max)} → ${show(y.max)}` });
  }
}

type RuleCheck = Exclude<StringCheck, LengthCheck>;

function ruleLabel(c: RuleCheck): string {
  switch (c.kind) {
    case 'regex':
      return `matches /${c.pattern}/${c.flags}`;
    case 'starts_with':
      return `starts with ${JSON.stringify(c.value)}`;
    case 'ends_with':
      return `ends with ${JSON.stringify(c.value)}`;
    case 'includes':
      return `includes ${JSON.stringify(c.value)}`;
    case 'lowercase':
      return 'is lowercase';
    case 'uppercase':
      return 'is uppercase';
    case 'email':
      return 'is an email';
    case 'url':
      return 'is a URL';
    case 'format':
      return `is a ${c.format}`;
  }
}

/** Checks of one kind pair up when exactly one was removed and one added: a changed check. */
function pairKey(c: RuleCheck): string {
  return c.kind === 'format' ? `format:${c.format}` : c.kind;
}

function pairedDirection(a: RuleCheck, b: RuleCheck): Direction {
  // Anything starting with "abc" starts with "ab": a shorter prefix accepts more.
  if (a.kind === 'starts_with' && b.kind === 'starts_with') return a.value.startsWith(b.value) ? 'relax' : 'tighten';
  if (a.kind === 'ends_with' && b.kind === 'ends_with') return a.value.endsWith(b.value) ? 'relax' : 'tighten';
  if (a.kind === 'includes' && b.kind === 'includes') return a.value.includes(b.value) ? 'relax' : 'tighten';
  // A changed pattern: the direction cannot be decided, so assume tighter.
  return 'tighten';
}

/** Set difference of checks keyed by their canonical JSON, pairing a changed check of one kind. */
function compareRuleSets<T>(
  a: T[],
  b: T[],
  keyOf: (c: T) => string,
  pairOf: (c: T) => string,
  label: (c: T) => string,
  changed: (x: T, y: T) => RuleDiff,
  out: RuleDiff[],
): void {
  const aKeys = new Set(a.map(keyOf));
  const bKeys = new Set(b.map(keyOf));
  const removed = a.filter((c) => !bKeys.has(keyOf(c)));
  const added = b.filter((c) => !aKeys.has(keyOf(c)));
  const pairedRemoved = new Set<T>();
  const pairedAdded = new Set<T>();
  for (const r of removed) {
    const k = pairOf(r);
    const sameR = removed.filter((c) => pairOf(c) === k);
    const sameA = added.filter((c) => pairOf(c) === k);
    if (sameR.length === 1 && sameA.length === 1) {
      const x = sameA[0]!;
      out.push(changed(r, x));
      pairedRemoved.add(r);
      pairedAdded.add(x);
    }
  }
  for (const r of removed) if (!pairedRemoved.has(r)) out.push({ dir: 'relax', text: `drops check: ${label(r)}` });
  for (const x of added) if (!pairedAdded.has(x)) out.push({ dir: 'tighten', text: `adds check: ${label(x)}` });
}

function compareStrings(a: Of<'string'>, b: Of<'string'>, out: RuleDiff[]): void {
  compareLengths('length', a.checks, b.checks, out);
  const rules = (d: Of<'string'>) =>
    (d.checks ?? []).filter((c): c is RuleCheck => c.kind !== 'min_length' && c.kind !== 'max_length' && c.kind !== 'length');
  compareRuleSets(rules(a), rules(b), canonicalJson, pairKey, ruleLabel, (x, y) => {
    const dir = pairedDirection(x, y);
    const simple = x.kind === 'regex' || x.kind === 'starts_with' || x.kind === 'ends_with' || x.kind === 'includes';
    return { dir, text: simple ? `${ruleLabel(x)} → ${ruleLabel(y)}` : `${ruleLabel(y).replace(/^is an? /, '')} check changed` };
  }, out);
}

interface Bound {
  value: number;
  inclusive: boolean;
}

const INT_RANGES: Record<string, [number, number]> = {
  safeint: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

function numberRules(checks: NumberCheck[] | undefined): { lower?: Bound; upper?: Bound; int?: { formats: string[]; range: [number, number] }; multiples: number[] } {
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  let int: { formats: string[]; range: [number, number] } | undefined;
  const multiples: number[] = [];
  for (const c of checks ?? []) {
    if (c.kind === 'min') {
      if (!lower || c.value > lower.value || (c.value === lower.value && !c.inclusive)) lower = { value: c.value, inclusive: c.inclusive };
    } else if (c.kind === 'max') {
      if (!upper || c.value < upper.value || (c.value === upper.value && !c.inclusive)) upper = { value: c.value, inclusive: c.inclusive };
    } else if (c.kind === 'int') {
      const r = INT_RANGES[c.format] ?? INT_RANGES.safeint!;
      int = int
        ? { formats: [...int.formats, c.format], range: [Math.max(int.range[0], r[0]), Math.min(int.range[1], r[1])] }
        : { formats: [c.format], range: [r[0], r[1]] };
    } else multiples.push(c.value);
  }
  return { ...(lower ? { lower } : {}), ...(upper ? { upper } : {}), ...(int ? { int } : {}), multiples };
}

function isMultiple(x: number, of: number): boolean {
  const q = x / of;
  return Math.abs(q - Math.round(q)) < 1e-9;
}

function compareBounds(side: 'min' | 'max', a: Bound | undefined, b: Bound | undefined, out: RuleDiff[]): void {
  if (!a && !b) return;
  if (a && b && a.value === b.value && a.inclusive === b.inclusive) return;
  const show = (x: Bound | undefined) => (x === undefined ? 'none' : `${side === 'min' ? '>' : '<'}${x.inclusive ? '=' : ''} ${x.value}`);
  let dir: Direction;
  if (!a) dir = 'tighten';
  else if (!b) dir = 'relax';
  else if (a.value === b.value) dir = a.inclusive && !b.inclusive ? 'tighten' : 'relax';
  else dir = (side === 'min' ? b.value > a.value : b.value < a.value) ? 'tighten' : 'relax';
  out.push({ dir, text: `${side} ${show(a)} → ${show(b)}` });
}

function compareNumbers(a: Of<'number'>, b: Of<'number'>, out: RuleDiff[]): void {
  const x = numberRules(a.checks);
  const y = numberRules(b.checks);
  if (x.int || y.int) {
    const label = (i: typeof x.int) => (i ? `integer (${i.formats.join(', ')})` : 'any number');
    if (!x.int) out.push({ dir: 'tighten', text: `${label(x.int)} → ${label(y.int)}` });
    else if (!y.int) out.push({ dir: 'relax', text: `${label(x.int)} → ${label(y.int)}` });
    else if (x.int.range[0] !== y.int.range[0] || x.int.range[1] !== y.int.range[1]) {
      const wider = y.int.range[0] <= x.int.range[0] && y.int.range[1] >= x.int.range[1];
      out.push({ dir: wider ? 'relax' : 'tighten', text: `${label(x.int)} → ${label(y.int)}` });
    }
  }
  compareBounds('min', x.lower, y.lower, out);
  compareBounds('max', x.upper, y.upper, out);
  compareRuleSets(
    x.multiples,
    y.multiples,
    String,
    () => 'multiple_of',
    (v) => `multiple of ${v}`,
    (p, q) => ({ dir: isMultiple(p, q) ? 'relax' : 'tighten', text: `multiple of ${p} → multiple of ${q}` }),
    out,
  );
}

function precisionLabel(p: number | null | undefined): string {
  if (p === null || p === undefined) return 'any';
  if (p === -1) return 'minutes';
  return `${p} fractional digits`;
}

function compareDates(a: Of<'date'>, b: Of<'date'>, out: RuleDiff[]): void {
  if (a.format !== b.format) {
    // A date is not a datetime and the other way round: values must be rewritten.
    out.push({ dir: 'tighten', text: `format ${a.format} → ${b.format}` });
    return;
  }
  if (a.format !== 'datetime') return;
  const flag = (name: string, x: boolean, y: boolean) => {
    if (x !== y) out.push({ dir: y ? 'relax' : 'tighten', text: `${name} ${x ? 'allowed' : 'not allowed'} → ${y ? 'allowed' : 'not allowed'}` });
  };
  flag('timezone offsets', Boolean(a.offset), Boolean(b.offset));
  flag('local times', Boolean(a.local), Boolean(b.local));
  const p = a.precision ?? null;
  const q = b.precision ?? null;
  if (p !== q) out.push({ dir: q === null ? 'relax' : 'tighten', text: `precision ${precisionLabel(p)} → ${precisionLabel(q)}` });
}

const UNKNOWN_KEYS_RANK = { strict: 0, strip: 1, passthrough: 2 } as const;

function pushRules(path: string, nested: boolean, a: FieldDescriptor, b: FieldDescriptor, rules: RuleDiff[], out: RawDiff[]): void {
  for (const r of rules) {
    out.push({ kind: r.dir === 'tighten' ? 'tighten_constraint' : 'relax_constraint', path, nested, text: r.text, from: a, to: b });
  }
}

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

function diffField(model: string, path: string, a: FieldDescriptor, b: FieldDescriptor, nested: boolean, out: RawDiff[]): void {
  const where = `${model}.${path}`;
  diffPresence(where, path, a, b, nested, out);
  if (canonicalJson(a.default ?? null) !== canonicalJson(b.default ?? null) || (a.default === undefined) !== (b.default === undefined)) {
    out.push({
      kind: 'change_default',
      path,
      nested,
      text: `Change default of ${where}: ${jsonLabel(a.default)} → ${jsonLabel(b.default)}`,
      from: a.default,
      to: b.default,
    });
  }
  if (a.description !== b.description) {
    out.push({
      kind: 'change_description',
      path,
      nested,
      text: `Change description of ${where}: ${textLabel(a.description)} → ${textLabel(b.description)}`,
      from: a.description,
      to: b.description,
    });
  }
  if (a.type !== b.type) {
    out.push({ kind: 'change_type', path, nested, text: `Change type of ${where}: ${typeLabel(a)} → ${typeLabel(b)}`, from: a, to: b });
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
    case 'enum': {
      const y = b as Of<'enum'>;
      const added = y.values.filter((v) => !a.values.includes(v));
      const removed = a.values.filter((v) => !y.values.includes(v));
      if (added.length) out.push({ kind: 'add_enum_value', path, nested, text: '', values: added, to: added });
      if (removed.length) out.push({ kind: 'remove_enum_value', path, nested, text: '', values: removed, from: removed });
      break;
    }
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
    case 'object': {
      const y = b as Of<'object'>;
      const from = UNKNOWN_KEYS_RANK[a.unknownKeys];
      const to = UNKNOWN_KEYS_RANK[y.unknownKeys];
      if (from !== to) rules.push({ dir: to > from ? 'relax' : 'tighten', text: `unknown keys ${a.unknownKeys} → ${y.unknownKeys}` });
      const keys = [...new Set([...Object.keys(a.fields), ...Object.keys(y.fields)])].sort(byString);
      const inner: RawDiff[] = [];
      for (const key of keys) {
        const x = get(a.fields, key);
        const z = get(y.fields, key);
        if (x && z) diffField(model, `${path}.${key}`, x, z, true, inner);
        else if (x) {
          if (y.unknownKeys === 'passthrough') rules.push({ dir: 'relax', text: `drops key ${key} (kept unchecked)` });
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
      return;
    }
    default:
      break;
  }
  pushRules(path, nested, a, b, rules, out);
}

// ---------------------------------------------------------------------------
// Classification and wording

const GROUP = {
  rename_model: 0,
  rename_field: 1,
  add_model: 2,
  add_field: 3,
  modify: 4,
  drop_field: 5,
  drop_model: 6,
} as const;

const KIND_RANK: Record<ChangeKind, number> = {
  rename_model: 0,
  rename_field: 0,
  add_model: 0,
  add_field: 0,
  drop_field: 0,
  drop_model: 0,
  change_relations: 0,
  change_options: 1,
  change_type: 2,
  tighten_constraint: 3,
  relax_constraint: 4,
  remove_enum_value: 5,
  add_enum_value: 6,
  make_required: 7,
  make_optional: 8,
  change_default: 9,
  change_description: 10,
};

interface Entry {
  group: number;
  sub: string;
  change: SchemaChange;
}

const ALLOW = 'pass --allow-destructive';

function valuesList(values: string[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

function enumChange(model: string, field: string, raw: RawDiff, info: DataInfo): SchemaChange {
  const values = raw.values ?? [];
  const where = `${model}.${raw.path}`;
  const base = { model, field, ...(raw.nested ? { path: raw.path } : {}) };
  if (raw.kind === 'add_enum_value') {
    const noun = values.length === 1 ? 'value' : 'values';
    return { ...base, kind: 'add_enum_value', class: 'safe', description: `Add enum ${noun} ${valuesList(values)} to ${where}`, to: values };
  }
  const counts = !raw.nested && info.values ? info.values : undefined;
  const used = (v: string) => (counts ? (get(counts, v) ?? 0) : undefined);
  let note: string;
  if (info.rows === 0) note = `${model} is empty`;
  else if (info.nonNull === 0) note = 'no row has a value';
  else if (counts) {
    if (values.length === 1) {
      const n = used(values[0]!)!;
      note = n === 0 ? 'no row uses it' : `${plural(n, 'row')} ${n === 1 ? 'uses' : 'use'} it`;
    } else note = values.map((v) => `${JSON.stringify(v)}: ${plural(used(v)!, 'row')}`).join(', ');
  } else note = '';
  const safe = holdsNoData(info) || (counts !== undefined && values.every((v) => used(v) === 0));
  const noun = values.length === 1 ? 'value' : 'values';
  const change: SchemaChange = {
    ...base,
    kind: 'remove_enum_value',
    class: safe ? 'safe' : 'destructive',
    description: withNote(`Remove enum ${noun} ${valuesList(values)} from ${where}`, note),
    from: values,
  };
  if (!safe) {
    change.fix = `Move the rows that use ${valuesList(values)} to another value first (or keep the ${noun} in the enum); or ${ALLOW} to apply it anyway`;
  }
  return change;
}

/** Turn the raw differences of one field into changes, merging constraint fragments per path. */
function fieldChanges(model: string, field: string, raws: RawDiff[], info: DataInfo): SchemaChange[] {
  const groups = new Map<string, RawDiff[]>();
  for (const r of raws) {
    const key = `${r.kind}\u0000${r.path}`;
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  const out: SchemaChange[] = [];
  const empty = holdsNoData(info);
  for (const list of groups.values()) {
    const first = list[0]!;
    const base = { model, field, ...(first.nested ? { path: first.path } : {}) };
    const where = `${model}.${first.path}`;
    switch (first.kind) {
      case 'add_enum_value':
      case 'remove_enum_value':
        out.push(enumChange(model, field, first, info));
        break;
      case 'change_default':
      case 'change_description':
        out.push({ ...base, kind: first.kind, class: 'safe', description: first.text, from: first.from, to: first.to });
        break;
      case 'make_optional':
      case 'relax_constraint': {
        const description = first.kind === 'make_optional' ? first.text : `Relax ${where}: ${list.map((r) => r.text).join('; ')}`;
        out.push({ ...base, kind: first.kind, class: 'safe', description, from: first.from, to: first.to });
        break;
      }
      case 'change_type': {
        const safe = empty;
        const change: SchemaChange = {
          ...base,
          kind: 'change_type',
          class: safe ? 'safe' : 'destructive',
          description: withNote(first.text, valueNote(info, model)),
          from: first.from,
          to: first.to,
        };
        if (!safe) {
          change.fix = first.removedKey
            ? `Keep the key as .optional() in the object, or copy its values elsewhere first; or ${ALLOW} (its values are lost)`
            : `Add a new field with the new type, copy the values over, then drop ${model}.${field} in a later push; or ${ALLOW} (values that do not fit are lost)`;
        }
        out.push(change);
        break;
      }
      case 'make_required': {
        let safe: boolean;
        let note = '';
        if (first.harmless) safe = true;
        else if (first.nested) {
          safe = empty;
          note = valueNote(info, model);
        } else if (info.rows === 0) {
          safe = true;
          note = `${model} is empty`;
        } else if (info.rows !== undefined && info.nonNull !== undefined) {
          const nulls = Math.max(0, info.rows - info.nonNull);
          safe = nulls === 0;
          note = safe ? `no nulls in ${plural(info.rows, 'row')}` : `${nulls} of ${plural(info.rows, 'row')} ${nulls === 1 ? 'is' : 'are'} null`;
        } else safe = false;
        const change: SchemaChange = {
          ...base,
          kind: 'make_required',
          class: safe ? 'safe' : 'needs-data',
          description: withNote(first.text, note, true),
          from: first.from,
          to: first.to,
        };
        if (!safe) {
          const nulls = !first.nested && info.rows !== undefined && info.nonNull !== undefined ? info.rows - info.nonNull : undefined;
          const which = nulls === undefined ? `the rows where ${where} is null` : `the ${plural(nulls, 'row')} where ${where} is null`;
          change.fix = `Fill in ${which} first, or keep it .optional()/.nullable(); or ${ALLOW}`;
        }
        out.push(change);
        break;
      }
      case 'tighten_constraint': {
        const safe = empty;
        const change: SchemaChange = {
          ...base,
          kind: 'tighten_constraint',
          class: safe ? 'safe' : 'needs-data',
          description: withNote(`Tighten ${where}: ${list.map((r) => r.text).join('; ')}`, valueNote(info, model)),
          from: first.from,
          to: first.to,
        };
        if (!safe) change.fix = `Fix the rows whose ${where} breaks the new rule first, or keep the old rule; or ${ALLOW}`;
        out.push(change);
        break;
      }
    }
  }
  return out;
}

function relationLabel(r: RelationDescriptor): string {
  return `${r.kind} ${r.model} via ${r.foreignKey}`;
}

// ---------------------------------------------------------------------------
// The plan

/**
 * Compare two schemas (`current = null` is an empty schema) and list the
 * changes, each classed safe / needs-data / destructive. Throws
 * `AbloSchemaError` (code `invalid_rename`) for a rename that does not fit.
 */
export function planSchemaChange(current: SerializedSchema | null, next: SerializedSchema, options: PlanOptions = {}): SchemaPlan {
  const cur = current?.models ?? {};
  const nxt = next.models;
  const renames = resolveRenames(cur, nxt, options.renames);
  const stats = options.stats;
  const entries: Entry[] = [];
  const push = (group: number, change: SchemaChange, sub = '') => entries.push({ group, sub, change });

  const models = pairNames(Object.keys(cur), Object.keys(nxt), renames.modelsBack);
  const newModelName = (old: string) => renames.models.get(old) ?? old;
  const newFieldName = (newModel: string, old: string) => renames.fields.get(newModel)?.get(old) ?? old;

  for (const name of models.added) {
    push(GROUP.add_model, {
      kind: 'add_model',
      class: 'safe',
      model: name,
      description: `Add model ${name} (${plural(Object.keys(nxt[name]!.fields).length, 'field')})`,
      to: nxt[name],
    });
  }

  for (const name of models.dropped) {
    const info = dataInfo(stats, name);
    const safe = info.rows === 0;
    const note = info.rows === undefined ? '' : info.rows === 0 ? 'empty' : plural(info.rows, 'row');
    const change: SchemaChange = {
      kind: 'drop_model',
      class: safe ? 'safe' : 'destructive',
      model: name,
      description: withNote(`Drop model ${name}`, note),
      from: cur[name],
    };
    if (!safe) {
      const target = models.added[0];
      const rename = target
        ? `If it was renamed to ${target}, pass --rename ${name}=${target} to keep its rows`
        : `If it was renamed, pass --rename ${name}=<new name> to keep its rows`;
      change.fix = `${rename}; to delete its rows, ${ALLOW}`;
    }
    push(GROUP.drop_model, change);
  }

  for (const [oldName, name] of models.pairs) {
    const a = cur[oldName]!;
    const b = nxt[name]!;
    if (oldName !== name) {
      const info = dataInfo(stats, oldName);
      push(GROUP.rename_model, {
        kind: 'rename_model',
        class: 'safe',
        model: name,
        description: withNote(`Rename model ${oldName} → ${name}`, info.rows ? `${plural(info.rows, 'row')} kept` : ''),
        from: oldName,
        to: name,
      });
    }

    const fields = pairNames(Object.keys(a.fields), Object.keys(b.fields), renames.fieldsBack.get(name));
    for (const [oldField, field] of fields.pairs) {
      const info = dataInfo(stats, oldName, oldField);
      const fa = a.fields[oldField]!;
      const fb = b.fields[field]!;
      if (oldField !== field) {
        push(GROUP.rename_field, {
          kind: 'rename_field',
          class: 'safe',
          model: name,
          field,
          description: withNote(
            `Rename field ${name}.${oldField} → ${name}.${field} (${fieldLabel(fa)})`,
            info.nonNull ? `${plural(info.nonNull, 'value')} kept` : '',
            true,
          ),
          from: oldField,
          to: field,
        });
      }
      const raws: RawDiff[] = [];
      diffField(name, field, fa, fb, false, raws);
      for (const change of fieldChanges(name, field, raws, info)) {
        push(GROUP.modify, change, `${KIND_RANK[change.kind].toString().padStart(2, '0')}\u0000${change.path ?? ''}`);
      }
    }

    for (const field of fields.added) {
      const d = b.fields[field]!;
      const info = dataInfo(stats, oldName);
      const fillsItself = Boolean(d.optional || d.nullable) || d.default !== undefined;
      const safe = fillsItself || info.rows === 0;
      let note = '';
      if (!fillsItself && info.rows !== undefined) note = info.rows === 0 ? `; ${name} is empty` : `; ${name} has ${plural(info.rows, 'row')}`;
      const change: SchemaChange = {
        kind: 'add_field',
        class: safe ? 'safe' : 'needs-data',
        model: name,
        field,
        description: `Add field ${name}.${field} (${fieldLabel(d)}${note})`,
        to: d,
      };
      if (!safe) {
        change.fix = `Give ${name}.${field} a .default(...) or make it .optional() (fill it in, then make it required in a later push); or ${ALLOW}`;
      }
      push(GROUP.add_field, change);
    }

    for (const field of fields.dropped) {
      const d = a.fields[field]!;
      const info = dataInfo(stats, oldName, field);
      const safe = holdsNoData(info);
      const change: SchemaChange = {
        kind: 'drop_field',
        class: safe ? 'safe' : 'destructive',
        model: name,
        field,
        description: withNote(`Drop field ${name}.${field} (${fieldLabel(d)})`, valueNote(info, name), true),
        from: d,
      };
      if (!safe) {
        const target = fields.added.find((f) => b.fields[f]!.type === d.type) ?? fields.added[0];
        const rename = target
          ? `If it was renamed to ${target}, pass --rename ${name}.${field}=${name}.${target} to keep its values`
          : `If it was renamed, pass --rename ${name}.${field}=${name}.<new name> to keep its values`;
        change.fix = `${rename}; to delete its values, ${ALLOW}`;
      }
      push(GROUP.drop_field, change);
    }

    // Relations, with old names carried through the renames.
    const normalize = (rels: Record<string, RelationDescriptor>): Record<string, RelationDescriptor> => {
      const out: Record<string, RelationDescriptor> = {};
      for (const [rel, r] of Object.entries(rels)) {
        const target = newModelName(r.model);
        const keyOwner = r.kind === 'belongsTo' ? name : target;
        out[rel] = { kind: r.kind, model: target, foreignKey: newFieldName(keyOwner, r.foreignKey) };
      }
      return out;
    };
    const ra = normalize(a.relations);
    const rb = b.relations;
    const relNames = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort(byString);
    const parts: string[] = [];
    for (const rel of relNames) {
      const x = get(ra, rel);
      const y = get(rb, rel);
      if (x && !y) parts.push(`remove ${rel} (${relationLabel(x)})`);
      else if (!x && y) parts.push(`add ${rel} (${relationLabel(y)})`);
      else if (x && y && canonicalJson(x) !== canonicalJson(y)) parts.push(`change ${rel}: ${relationLabel(x)} → ${relationLabel(y)}`);
    }
    if (parts.length) {
      push(GROUP.modify, {
        kind: 'change_relations',
        class: 'safe',
        model: name,
        description: `Change relations of ${name}: ${parts.join('; ')}`,
        from: a.relations,
        to: b.relations,
      }, '00');
    }

    // Options.
    const renameInTemplate = (t: string) => t.replace(/\{([^{}]*)\}/g, (_m, f: string) => `{${f === 'id' ? f : newFieldName(name, f)}}`);
    const groupsA = (a.options.syncGroupFormat ?? []).map(renameInTemplate);
    const groupsB = b.options.syncGroupFormat ?? [];
    if (canonicalJson([...groupsA].sort(byString)) !== canonicalJson([...groupsB].sort(byString))) {
      const show = (g: string[]) => (g.length ? g.join(', ') : 'default');
      push(GROUP.modify, {
        kind: 'change_options',
        class: 'safe',
        model: name,
        description: `Change sync groups of ${name}: ${show(groupsA)} → ${show(groupsB)}; existing rows keep their old groups in the change log until they are next written`,
        from: a.options.syncGroupFormat,
        to: b.options.syncGroupFormat,
      }, '01\u0000syncGroupFormat');
    }
    const prefixA = a.options.idPrefix ?? defaultIdPrefix(oldName);
    const prefixB = b.options.idPrefix ?? defaultIdPrefix(name);
    if (prefixA !== prefixB) {
      push(GROUP.modify, {
        kind: 'change_options',
        class: 'safe',
        model: name,
        description: `Change id prefix of ${name}: ${prefixA} → ${prefixB} (new rows only; existing ids keep theirs)`,
        from: prefixA,
        to: prefixB,
      }, '01\u0000idPrefix');
    }
    if (a.options.description !== b.options.description) {
      push(GROUP.modify, {
        kind: 'change_options',
        class: 'safe',
        model: name,
        description: `Change description of model ${name}: ${textLabel(a.options.description)} → ${textLabel(b.options.description)}`,
        from: a.options.description,
        to: b.options.description,
      }, '01\u0000description');
    }
  }

  entries.sort(
    (x, y) =>
      x.group - y.group ||
      byString(x.change.model, y.change.model) ||
      byString(x.change.field ?? '', y.change.field ?? '') ||
      byString(x.sub, y.sub),
  );
  const changes = entries.map((e) => e.change);
  const counts: Record<ChangeClass, number> = { safe: 0, destructive: 0, 'needs-data': 0 };
  for (const c of changes) counts[c.class] += 1;
  return { changes, safe: counts.destructive === 0 && counts['needs-data'] === 0, counts };
}

/**
 * The plan as plain lines: `[class] description` per change, and for a change
 * that is not safe, its fix on the next line, indented. An empty plan gives no lines.
 */
export function formatPlan(plan: SchemaPlan): string[] {
  const lines: string[] = [];
  for (const c of plan.changes) {
    lines.push(`[${c.class}] ${c.description}`);
    if (c.class !== 'safe' && c.fix) lines.push(`    fix: ${c.fix}`);
  }
  return lines;
}

/**
 * Classification: each change is `safe`, `needs-data` or `destructive`, decided
 * from what the change does and, when the live data statistics are given, from
 * what is stored (a change that touches no stored value is safe). A change that
 * is not safe carries a fix. This module holds the stats reading and the
 * classing of field-level changes; `structure.ts` classes adds, drops and renames.
 */
import type { RawDiff } from './fields.js';
import { valuesList, withNote } from './labels.js';
import type { SchemaChange, SchemaStats } from './types.js';
import { get, plural } from './util.js';

/** The way out every fix ends with. */
export const ALLOW = 'pass --allow-destructive';

/** What the statistics say about a model, or one of its fields. */
export interface DataInfo {
  /** Rows of the model; undefined when unknown. */
  rows?: number;
  /** Rows where the field is not null; undefined when unknown. */
  nonNull?: number;
  values?: Record<string, number>;
}

/** The statistics of a model (and field), by their current names. */
export function dataInfo(stats: SchemaStats | undefined, model: string, field?: string): DataInfo {
  const m = get(stats, model);
  if (!m) return {};
  const f = field === undefined ? undefined : get(m.fields, field);
  return { rows: m.rows, ...(f ? { nonNull: f.nonNull, ...(f.values ? { values: f.values } : {}) } : {}) };
}

/** Stats prove the field holds no non-null value. */
export function holdsNoData(info: DataInfo): boolean {
  return info.rows === 0 || info.nonNull === 0;
}

/** `tasks is empty`, `3 of 10 rows have a value`, ...; empty without stats. */
export function valueNote(info: DataInfo, model: string): string {
  if (info.rows === undefined) return '';
  if (info.rows === 0) return `${model} is empty`;
  if (info.nonNull === undefined) return `${model} has ${plural(info.rows, 'row')}`;
  if (info.nonNull === 0) return 'no row has a value';
  return `${info.nonNull} of ${plural(info.rows, 'row')} ${info.nonNull === 1 ? 'has' : 'have'} a value`;
}

/** A change that is not safe gets its fix (appended last, so the JSON keys keep their order). */
export function withFix(change: SchemaChange, fix: () => string): SchemaChange {
  if (change.class !== 'safe') change.fix = fix();
  return change;
}

type Base = Pick<SchemaChange, 'model' | 'field' | 'path'>;

function enumChange(base: Base, where: string, raw: RawDiff, info: DataInfo): SchemaChange {
  const values = raw.values ?? [];
  const noun = values.length === 1 ? 'value' : 'values';
  if (raw.kind === 'add_enum_value') {
    return { ...base, kind: 'add_enum_value', class: 'safe', description: `Add enum ${noun} ${valuesList(values)} to ${where}`, to: values };
  }
  const model = base.model;
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
  return withFix(
    {
      ...base,
      kind: 'remove_enum_value',
      class: safe ? 'safe' : 'destructive',
      description: withNote(`Remove enum ${noun} ${valuesList(values)} from ${where}`, note),
      from: values,
    },
    () => `Move the rows that use ${valuesList(values)} to another value first (or keep the ${noun} in the enum); or ${ALLOW} to apply it anyway`,
  );
}

function typeChange(base: Base, raw: RawDiff, info: DataInfo): SchemaChange {
  return withFix(
    {
      ...base,
      kind: 'change_type',
      class: holdsNoData(info) ? 'safe' : 'destructive',
      description: withNote(raw.text, valueNote(info, base.model)),
      from: raw.from,
      to: raw.to,
    },
    () =>
      raw.removedKey
        ? `Keep the key as .optional() in the object, or copy its values elsewhere first; or ${ALLOW} (its values are lost)`
        : `Add a new field with the new type, copy the values over, then drop ${base.model}.${base.field} in a later push; or ${ALLOW} (values that do not fit are lost)`,
  );
}

function requiredChange(base: Base, where: string, raw: RawDiff, info: DataInfo): SchemaChange {
  const model = base.model;
  let safe: boolean;
  let note = '';
  if (raw.harmless) safe = true;
  else if (raw.nested) {
    safe = holdsNoData(info);
    note = valueNote(info, model);
  } else if (info.rows === 0) {
    safe = true;
    note = `${model} is empty`;
  } else if (info.rows !== undefined && info.nonNull !== undefined) {
    const nulls = Math.max(0, info.rows - info.nonNull);
    safe = nulls === 0;
    note = safe ? `no nulls in ${plural(info.rows, 'row')}` : `${nulls} of ${plural(info.rows, 'row')} ${nulls === 1 ? 'is' : 'are'} null`;
  } else safe = false;
  return withFix(
    {
      ...base,
      kind: 'make_required',
      class: safe ? 'safe' : 'needs-data',
      description: withNote(raw.text, note, true),
      from: raw.from,
      to: raw.to,
    },
    () => {
      const nulls = !raw.nested && info.rows !== undefined && info.nonNull !== undefined ? info.rows - info.nonNull : undefined;
      const which = nulls === undefined ? `the rows where ${where} is null` : `the ${plural(nulls, 'row')} where ${where} is null`;
      return `Fill in ${which} first, or keep it .optional()/.nullable(); or ${ALLOW}`;
    },
  );
}

/** One change from the raw differences of one kind at one path (constraint fragments joined). */
function fieldChange(model: string, field: string, list: RawDiff[], info: DataInfo): SchemaChange {
  const first = list[0]!;
  const base: Base = { model, field, ...(first.nested ? { path: first.path } : {}) };
  const where = `${model}.${first.path}`;
  const rules = () => list.map((r) => r.text).join('; ');
  switch (first.kind) {
    case 'add_enum_value':
    case 'remove_enum_value':
      return enumChange(base, where, first, info);
    case 'change_default':
    case 'change_description':
    case 'make_optional':
      return { ...base, kind: first.kind, class: 'safe', description: first.text, from: first.from, to: first.to };
    case 'relax_constraint':
      return { ...base, kind: first.kind, class: 'safe', description: `Relax ${where}: ${rules()}`, from: first.from, to: first.to };
    case 'change_type':
      return typeChange(base, first, info);
    case 'make_required':
      return requiredChange(base, where, first, info);
    case 'tighten_constraint':
      return withFix(
        {
          ...base,
          kind: 'tighten_constraint',
          class: holdsNoData(info) ? 'safe' : 'needs-data',
          description: withNote(`Tighten ${where}: ${rules()}`, valueNote(info, model)),
          from: first.from,
          to: first.to,
        },
        () => `Fix the rows whose ${where} breaks the new rule first, or keep the old rule; or ${ALLOW}`,
      );
  }
}

/** Turn the raw differences of one field into classed changes, one per kind and path. */
export function fieldChanges(model: string, field: string, raws: RawDiff[], info: DataInfo): SchemaChange[] {
  const groups = new Map<string, RawDiff[]>();
  for (const r of raws) {
    const key = `${r.kind}\u0000${r.path}`;
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((list) => fieldChange(model, field, list, info));
}

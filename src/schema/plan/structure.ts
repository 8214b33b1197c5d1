/**
 * Structural changes: models and fields added, dropped or renamed, each classed
 * from the statistics (a drop of something that holds no data is safe; a
 * required field added to a table with rows needs data).
 */
import type { FieldDescriptor, ModelDescriptor } from '../descriptor.js';
import { ALLOW, holdsNoData, valueNote, withFix, type DataInfo } from './classify.js';
import { fieldLabel, withNote } from './labels.js';
import type { SchemaChange } from './types.js';
import { plural } from './util.js';

/**
 * The fix of a drop that loses data: perhaps it was a rename (`source` is the
 * --rename left side, `spell` writes a new name as its right side).
 */
function dropFix(source: string, renameTarget: string | undefined, spell: (name: string) => string, noun: 'rows' | 'values'): string {
  const rename = renameTarget
    ? `If it was renamed to ${renameTarget}, pass --rename ${source}=${spell(renameTarget)} to keep its ${noun}`
    : `If it was renamed, pass --rename ${source}=${spell('<new name>')} to keep its ${noun}`;
  return `${rename}; to delete its ${noun}, ${ALLOW}`;
}

export function addModel(name: string, d: ModelDescriptor): SchemaChange {
  return { kind: 'add_model', class: 'safe', model: name, description: `Add model ${name} (${plural(Object.keys(d.fields).length, 'field')})`, to: d };
}

/** `renameTarget`: a model the plan adds, offered in the fix as what this one may have become. */
export function dropModel(name: string, d: ModelDescriptor, info: DataInfo, renameTarget: string | undefined): SchemaChange {
  const note = info.rows === undefined ? '' : info.rows === 0 ? 'empty' : plural(info.rows, 'row');
  return withFix(
    { kind: 'drop_model', class: info.rows === 0 ? 'safe' : 'destructive', model: name, description: withNote(`Drop model ${name}`, note), from: d },
    () => dropFix(name, renameTarget, (n) => n, 'rows'),
  );
}

export function renameModel(oldName: string, name: string, info: DataInfo): SchemaChange {
  return {
    kind: 'rename_model',
    class: 'safe',
    model: name,
    description: withNote(`Rename model ${oldName} → ${name}`, info.rows ? `${plural(info.rows, 'row')} kept` : ''),
    from: oldName,
    to: name,
  };
}

export function renameField(model: string, oldField: string, field: string, d: FieldDescriptor, info: DataInfo): SchemaChange {
  return {
    kind: 'rename_field',
    class: 'safe',
    model,
    field,
    description: withNote(`Rename field ${model}.${oldField} → ${model}.${field} (${fieldLabel(d)})`, info.nonNull ? `${plural(info.nonNull, 'value')} kept` : '', true),
    from: oldField,
    to: field,
  };
}

/** A field that fills itself (optional, nullable or defaulted) is safe; else only on an empty table. */
export function addField(model: string, field: string, d: FieldDescriptor, info: DataInfo): SchemaChange {
  const fillsItself = Boolean(d.optional || d.nullable) || d.default !== undefined;
  let note = '';
  if (!fillsItself && info.rows !== undefined) note = info.rows === 0 ? `; ${model} is empty` : `; ${model} has ${plural(info.rows, 'row')}`;
  return withFix(
    {
      kind: 'add_field',
      class: fillsItself || info.rows === 0 ? 'safe' : 'needs-data',
      model,
      field,
      description: `Add field ${model}.${field} (${fieldLabel(d)}${note})`,
      to: d,
    },
    () => `Give ${model}.${field} a .default(...) or make it .optional() (fill it in, then make it required in a later push); or ${ALLOW}`,
  );
}

/** `renameTarget`: a field the plan adds to the model, offered in the fix as what this one may have become. */
export function dropField(model: string, field: string, d: FieldDescriptor, info: DataInfo, renameTarget: string | undefined): SchemaChange {
  return withFix(
    {
      kind: 'drop_field',
      class: holdsNoData(info) ? 'safe' : 'destructive',
      model,
      field,
      description: withNote(`Drop field ${model}.${field} (${fieldLabel(d)})`, valueNote(info, model), true),
      from: d,
    },
    () => dropFix(`${model}.${field}`, renameTarget, (n) => `${model}.${n}`, 'values'),
  );
}

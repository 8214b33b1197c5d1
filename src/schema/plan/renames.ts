/**
 * Rename resolution: `--rename` entries checked against both schemas, and old
 * names paired with new names. Model renames and the field renames of each
 * model follow the same rules, checked once by `checkRenames`.
 */
import { AbloSchemaError } from '../../errors.js';
import type { ModelDescriptor } from '../descriptor.js';
import { has } from './util.js';

export interface Renames {
  /** old model name → new model name */
  models: Map<string, string>;
  /** new model name → old model name */
  modelsBack: Map<string, string>;
  /** new model name → (new field name → old field name) */
  fieldsBack: Map<string, Map<string, string>>;
  /** new model name → (old field name → new field name) */
  fields: Map<string, Map<string, string>>;
}

type Models = Record<string, ModelDescriptor>;

interface Where {
  model?: string;
  field?: string;
}

interface RenameEntry {
  from: string;
  to: string;
  /** `Rename a → b`, as the user wrote it: every error starts with it. */
  label: string;
}

function invalidRename(message: string, where: Where = {}): never {
  throw new AbloSchemaError(message, {
    code: 'invalid_rename',
    ...(where.model !== undefined ? { model: where.model } : {}),
    ...(where.field !== undefined ? { field: where.field } : {}),
  });
}

function known(names: string[]): string {
  return names.length ? names.join(', ') : '(none)';
}

type Side = 'current' | 'new';

/** What differs between checking model renames and the field renames of one model. */
interface RenameScope {
  noun: 'model' | 'field';
  /** The names on each side (own keys). */
  current: object;
  new: object;
  /** `model "todos"`, `field "tasks.title"`: a name on one side. */
  named(name: string, side: Side): string;
  /** Why a name is not on one side, listing the names that are. */
  missing(name: string, side: Side): string;
  /** What an error about this name points at. */
  at(name: string): Where;
}

function modelScope(current: Models, next: Models): RenameScope {
  return {
    noun: 'model',
    current,
    new: next,
    named: (name) => `model "${name}"`,
    missing: (name, side) =>
      side === 'current'
        ? `model "${name}" is not in the current schema. Current models: ${known(Object.keys(current))}.`
        : `model "${name}" is not in the new schema. New models: ${known(Object.keys(next))}.`,
    at: (name) => ({ model: name }),
  };
}

function fieldScope(oldModel: string, newModel: string, current: Models, next: Models): RenameScope {
  const oldFields = current[oldModel]!.fields;
  const newFields = next[newModel]!.fields;
  return {
    noun: 'field',
    current: oldFields,
    new: newFields,
    named: (name, side) => `field "${side === 'current' ? oldModel : newModel}.${name}"`,
    missing: (name, side) =>
      side === 'current'
        ? `"${name}" is not a field of "${oldModel}" in the current schema. Its fields: ${known(Object.keys(oldFields))}.`
        : `"${name}" is not a field of "${newModel}" in the new schema. Its fields: ${known(Object.keys(newFields))}.`,
    at: (name) => ({ model: newModel, field: name }),
  };
}

/**
 * Check one set of renames (the models, or the fields of one model) and return
 * them both ways. A source must be gone from the new schema and a target new
 * to it, unless another rename of the set frees the name (a swap).
 */
function checkRenames(entries: RenameEntry[], scope: RenameScope): { forward: Map<string, string>; back: Map<string, string> } {
  const sources = new Set(entries.map((e) => e.from));
  const targets = new Set(entries.map((e) => e.to));
  const forward = new Map<string, string>();
  const back = new Map<string, string>();
  for (const { from, to, label } of entries) {
    const fail = (message: string, name: string): never => invalidRename(`${label}: ${message}`, scope.at(name));
    if (from === to) fail(`both sides name the same ${scope.noun}.`, from);
    if (forward.has(from)) fail(`${scope.named(from, 'current')} is renamed twice.`, from);
    if (!has(scope.current, from)) fail(scope.missing(from, 'current'), from);
    if (!has(scope.new, to)) fail(scope.missing(to, 'new'), to);
    if (has(scope.new, from) && !targets.has(from)) fail(`${scope.named(from, 'new')} still exists in the new schema, so it was not renamed.`, from);
    if (has(scope.current, to) && !sources.has(to)) fail(`${scope.named(to, 'current')} already exists in the current schema.`, to);
    const other = back.get(to);
    if (other !== undefined) fail(`${scope.noun}s "${other}" and "${from}" are both renamed to "${to}".`, to);
    forward.set(from, to);
    back.set(to, from);
  }
  return { forward, back };
}

/** Sort entries into model renames and field renames (`model.field` on the left). */
function splitEntries(renames: Record<string, string>): { models: RenameEntry[]; fields: RenameEntry[] } {
  const models: RenameEntry[] = [];
  const fields: RenameEntry[] = [];
  for (const [from, to] of Object.entries(renames)) {
    if (typeof to !== 'string' || to.length === 0) {
      invalidRename(`Rename "${from}": the new name must be a non-empty string.`);
    }
    const entry = { from, to, label: `Rename ${from} → ${to}` };
    if (from.includes('.')) fields.push(entry);
    else if (to.includes('.')) {
      invalidRename(`Rename ${from} → ${to}: rename a model to a model (todos=tasks) or a field to a field (tasks.title=tasks.name).`, {
        model: from,
      });
    } else models.push(entry);
  }
  return { models, fields };
}

/**
 * Field renames grouped by the (new) model they belong to, as bare field names.
 * The model may be named by its old or new name, and so may the target's.
 */
function groupFieldRenames(
  entries: RenameEntry[],
  current: Models,
  next: Models,
  models: { forward: Map<string, string>; back: Map<string, string> },
): Map<string, { oldModel: string; entries: RenameEntry[] }> {
  const perModel = new Map<string, { oldModel: string; entries: RenameEntry[] }>();
  for (const { from: key, to: value, label } of entries) {
    const parts = key.split('.');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      invalidRename(`${label}: expected model.field on the left, e.g. tasks.title=tasks.name.`);
    }
    const [m, f] = parts as [string, string];
    const renamedFrom = models.back.get(m);
    const oldModel = renamedFrom ?? m;
    const newModel = renamedFrom !== undefined ? m : (models.forward.get(m) ?? m);
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
  return perModel;
}

/**
 * Check `options.renames` against both schemas. Throws `AbloSchemaError`
 * (code `invalid_rename`) naming the first rename that does not fit.
 */
export function resolveRenames(current: Models, next: Models, renames: Record<string, string> | undefined): Renames {
  const out: Renames = { models: new Map(), modelsBack: new Map(), fields: new Map(), fieldsBack: new Map() };
  if (!renames) return out;
  const entries = splitEntries(renames);
  const models = checkRenames(entries.models, modelScope(current, next));
  out.models = models.forward;
  out.modelsBack = models.back;
  for (const [newModel, { oldModel, entries: fields }] of groupFieldRenames(entries.fields, current, next, models)) {
    const checked = checkRenames(fields, fieldScope(oldModel, newModel, current, next));
    out.fields.set(newModel, checked.forward);
    out.fieldsBack.set(newModel, checked.back);
  }
  return out;
}

/** Match old names to new names: `pairs` are [old, new]. */
export function pairNames(
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

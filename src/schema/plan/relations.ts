/**
 * Model-level diffs besides fields: relations (old names carried through the
 * renames, so a renamed target or key is no change) and options (sync groups,
 * id prefix, description). All are safe: no stored value changes.
 */
import type { ModelDescriptor, RelationDescriptor } from '../descriptor.js';
import { canonicalJson, defaultIdPrefix } from '../serialize.js';
import { changeLine, relationLabel, textLabel } from './labels.js';
import type { SchemaChange } from './types.js';
import { byString, get, unionKeys } from './util.js';

/** Old names to new names, through the renames (a name not renamed maps to itself). */
export interface NewNames {
  model(old: string): string;
  /** A field of `newModel`, by its old name. */
  field(newModel: string, old: string): string;
}

/** The relations of `model` that were added, removed or changed, as one change. */
export function relationChange(model: string, a: ModelDescriptor, b: ModelDescriptor, names: NewNames): SchemaChange | undefined {
  const ra: Record<string, RelationDescriptor> = {};
  for (const [rel, r] of Object.entries(a.relations)) {
    const target = names.model(r.model);
    const keyOwner = r.kind === 'belongsTo' ? model : target;
    ra[rel] = { kind: r.kind, model: target, foreignKey: names.field(keyOwner, r.foreignKey) };
  }
  const rb = b.relations;
  const parts: string[] = [];
  for (const rel of unionKeys(ra, rb)) {
    const x = get(ra, rel);
    const y = get(rb, rel);
    if (x && !y) parts.push(`remove ${rel} (${relationLabel(x)})`);
    else if (!x && y) parts.push(`add ${rel} (${relationLabel(y)})`);
    else if (x && y && canonicalJson(x) !== canonicalJson(y)) parts.push(`change ${rel}: ${relationLabel(x)} → ${relationLabel(y)}`);
  }
  if (!parts.length) return undefined;
  return {
    kind: 'change_relations',
    class: 'safe',
    model,
    description: `Change relations of ${model}: ${parts.join('; ')}`,
    from: a.relations,
    to: b.relations,
  };
}

/** Changed model options, each with the option's name (the plan orders them by it). */
export function optionChanges(
  oldName: string,
  model: string,
  a: ModelDescriptor,
  b: ModelDescriptor,
  names: NewNames,
): Array<{ option: string; change: SchemaChange }> {
  const out: Array<{ option: string; change: SchemaChange }> = [];
  const push = (option: string, description: string, from: unknown, to: unknown) =>
    out.push({ option, change: { kind: 'change_options', class: 'safe', model, description, from, to } });

  // Sync groups, compared as sets, with renamed fields renamed in the old templates.
  const renameInTemplate = (t: string) => t.replace(/\{([^{}]*)\}/g, (_m, f: string) => `{${f === 'id' ? f : names.field(model, f)}}`);
  const groupsA = (a.options.syncGroupFormat ?? []).map(renameInTemplate);
  const groupsB = b.options.syncGroupFormat ?? [];
  if (canonicalJson([...groupsA].sort(byString)) !== canonicalJson([...groupsB].sort(byString))) {
    const show = (g: string[]) => (g.length ? g.join(', ') : 'default');
    const line = changeLine('sync groups', model, show(groupsA), show(groupsB));
    push('syncGroupFormat', `${line}; existing rows keep their old groups in the change log until they are next written`, a.options.syncGroupFormat, b.options.syncGroupFormat);
  }

  const prefixA = a.options.idPrefix ?? defaultIdPrefix(oldName);
  const prefixB = b.options.idPrefix ?? defaultIdPrefix(model);
  if (prefixA !== prefixB) {
    push('idPrefix', `${changeLine('id prefix', model, prefixA, prefixB)} (new rows only; existing ids keep theirs)`, prefixA, prefixB);
  }

  if (a.options.description !== b.options.description) {
    const line = changeLine('description', `model ${model}`, textLabel(a.options.description), textLabel(b.options.description));
    push('description', line, a.options.description, b.options.description);
  }
  return out;
}

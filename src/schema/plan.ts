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
 *
 * This module composes the parts in `./plan/`:
 * - `renames.ts`: `--rename` entries checked, old names paired with new;
 * - `fields.ts`, `checks.ts`: what changed in a field (nullability, defaults,
 *   descriptions, enums, nested values; string, number, date and length rules);
 * - `relations.ts`: relations and model options (sync groups, id prefix, description);
 * - `classify.ts`, `structure.ts`: each change classed from the stats, with its fix;
 * - `labels.ts`: the wording, and `formatPlan`;
 * - `types.ts`: the public types.
 */
import type { ModelDescriptor, SerializedSchema } from './descriptor.js';
import { dataInfo, fieldChanges } from './plan/classify.js';
import { diffField, type RawDiff } from './plan/fields.js';
import { optionChanges, relationChange, type NewNames } from './plan/relations.js';
import { pairNames, resolveRenames, type Renames } from './plan/renames.js';
import { addField, addModel, dropField, dropModel, renameField, renameModel } from './plan/structure.js';
import type { ChangeClass, ChangeKind, PlanOptions, SchemaChange, SchemaPlan, SchemaStats } from './plan/types.js';
import { byString } from './plan/util.js';

export { formatPlan } from './plan/labels.js';
export type { ChangeClass, ChangeKind, SchemaChange, SchemaStats, PlanOptions, SchemaPlan } from './plan/types.js';

// ---------------------------------------------------------------------------
// Order: renames, additions, modifications, drops; then by model, field, and
// for modifications by kind and path (or option name).

const GROUP: Partial<Record<ChangeKind, number>> = {
  rename_model: 0,
  rename_field: 1,
  add_model: 2,
  add_field: 3,
  drop_field: 5,
  drop_model: 6,
};
const MODIFY = 4;

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
  change_identity_roles: 11,
};

interface Entry {
  group: number;
  sub: string;
  change: SchemaChange;
}

/** The changes of a plan as they are found, sorted by `finish`. */
class Changes {
  private readonly entries: Entry[] = [];

  /** `key` orders modifications of one kind on one field: the path, or the option name. */
  add(change: SchemaChange, key = change.path ?? ''): void {
    const group = GROUP[change.kind];
    if (group !== undefined) this.entries.push({ group, sub: '', change });
    else this.entries.push({ group: MODIFY, sub: `${KIND_RANK[change.kind].toString().padStart(2, '0')}\u0000${key}`, change });
  }

  finish(): SchemaPlan {
    const changes = this.entries
      .sort(
        (x, y) =>
          x.group - y.group ||
          byString(x.change.model, y.change.model) ||
          byString(x.change.field ?? '', y.change.field ?? '') ||
          byString(x.sub, y.sub),
      )
      .map((e) => e.change);
    const counts: Record<ChangeClass, number> = { safe: 0, destructive: 0, 'needs-data': 0 };
    for (const c of changes) counts[c.class] += 1;
    return { changes, safe: counts.destructive === 0 && counts['needs-data'] === 0, counts };
  }
}

// ---------------------------------------------------------------------------
// The plan

/** The fields of one model kept, added and dropped (`name` new, `oldName` current). */
function planFields(oldName: string, name: string, a: ModelDescriptor, b: ModelDescriptor, renames: Renames, stats: SchemaStats | undefined, out: Changes): void {
  const fields = pairNames(Object.keys(a.fields), Object.keys(b.fields), renames.fieldsBack.get(name));
  for (const [oldField, field] of fields.pairs) {
    const info = dataInfo(stats, oldName, oldField);
    const fa = a.fields[oldField]!;
    if (oldField !== field) out.add(renameField(name, oldField, field, fa, info));
    const raws: RawDiff[] = [];
    diffField(name, field, fa, b.fields[field]!, false, raws);
    for (const change of fieldChanges(name, field, raws, info)) out.add(change);
  }
  for (const field of fields.added) out.add(addField(name, field, b.fields[field]!, dataInfo(stats, oldName)));
  for (const field of fields.dropped) {
    const d = a.fields[field]!;
    // Offer, as what it may have been renamed to, an added field of the same type (else any added field).
    const target = fields.added.find((f) => b.fields[f]!.type === d.type) ?? fields.added[0];
    out.add(dropField(name, field, d, dataInfo(stats, oldName, field), target));
  }
}

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
  const names: NewNames = {
    model: (old) => renames.models.get(old) ?? old,
    field: (newModel, old) => renames.fields.get(newModel)?.get(old) ?? old,
  };
  const out = new Changes();

  const models = pairNames(Object.keys(cur), Object.keys(nxt), renames.modelsBack);
  for (const name of models.added) out.add(addModel(name, nxt[name]!));
  for (const name of models.dropped) out.add(dropModel(name, cur[name]!, dataInfo(stats, name), models.added[0]));
  for (const [oldName, name] of models.pairs) {
    const a = cur[oldName]!;
    const b = nxt[name]!;
    if (oldName !== name) out.add(renameModel(oldName, name, dataInfo(stats, oldName)));
    planFields(oldName, name, a, b, renames, stats, out);
    const relations = relationChange(name, a, b, names);
    if (relations) out.add(relations);
    for (const { option, change } of optionChanges(oldName, name, a, b, names)) out.add(change, option);
  }
  const roles = identityRolesChange(current?.identityRoles, next.identityRoles);
  if (roles) out.add(roles);
  return out.finish();
}

/**
 * A change of the schema's identity roles: safe (no stored row changes;
 * sessions and restricted keys made from then on expand the new templates,
 * the ones made before keep their groups).
 */
function identityRolesChange(a: Record<string, string> | undefined, b: Record<string, string> | undefined): SchemaChange | null {
  const from = a ?? {};
  const to = b ?? {};
  const parts: string[] = [];
  for (const name of Object.keys(to).sort(byString)) {
    if (!(name in from)) parts.push(`add @${name} (${to[name]})`);
    else if (from[name] !== to[name]) parts.push(`change @${name}: ${from[name]} → ${to[name]}`);
  }
  for (const name of Object.keys(from).sort(byString)) if (!(name in to)) parts.push(`remove @${name} (${from[name]})`);
  if (parts.length === 0) return null;
  return {
    kind: 'change_identity_roles',
    class: 'safe',
    model: '',
    description: `Change identity roles: ${parts.join('; ')} (sessions and keys made from now on; existing ones keep their groups)`,
    from: a,
    to: b,
  };
}

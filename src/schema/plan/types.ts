/** The planner's public types: a plan, its changes, and what it is given. */

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
  | 'change_options'
  | 'change_identity_roles';

export interface SchemaChange {
  kind: ChangeKind;
  class: ChangeClass;
  /** The model, by its new name (by its old name for `drop_model`); `''` for a change of the whole schema (`change_identity_roles`). */
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
   * - `change_identity_roles`: the old and new role maps (`undefined` when there were none);
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

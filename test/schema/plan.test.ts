import { describe, expect, it } from 'vitest';
import {
  AbloSchemaError,
  belongsTo,
  defineSchema,
  formatPlan,
  hasMany,
  model,
  planSchemaChange,
  z,
  type ModelMap,
  type SchemaPlan,
  type SerializedSchema,
} from '../../src/schema/index.js';

const schema = (models: ModelMap): SerializedSchema => defineSchema(models).serialized;

/** [kind, class, model, field?, path?] per change, in plan order. */
const summary = (plan: SchemaPlan) =>
  plan.changes.map((c) => [c.kind, c.class, c.model, ...(c.field !== undefined ? [c.field] : []), ...(c.path !== undefined ? [c.path] : [])]);

/** Plan between two versions of a single `tasks` model. */
const planTasks = (before: Parameters<typeof model>[0], after: Parameters<typeof model>[0], options?: Parameters<typeof planSchemaChange>[2]) =>
  planSchemaChange(schema({ tasks: model(before) }), schema({ tasks: model(after) }), options);

const only = (plan: SchemaPlan) => {
  expect(plan.changes).toHaveLength(1);
  return plan.changes[0]!;
};

const expectInvalidRename = (fn: () => unknown, mention: string) => {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AbloSchemaError);
  expect((caught as AbloSchemaError).code).toBe('invalid_rename');
  expect((caught as AbloSchemaError).message).toContain(mention);
};

describe('planSchemaChange: whole plans', () => {
  it('identical schemas give no changes', () => {
    const build = () =>
      schema({
        projects: model({ name: z.string().min(1), tasks: z.number().int().optional() }, {}, { idPrefix: 'proj' }),
        tasks: model(
          { title: z.string().describe('Title'), status: z.enum(['todo', 'done']).default('todo'), projectId: z.string(), meta: z.object({ a: z.array(z.string()) }) },
          { project: belongsTo('projects', 'projectId') },
          { syncGroupFormat: 'project:{projectId}' },
        ),
      });
    const plan = planSchemaChange(build(), build());
    expect(plan).toEqual({ changes: [], safe: true, counts: { safe: 0, destructive: 0, 'needs-data': 0 } });
    expect(formatPlan(plan)).toEqual([]);
  });

  it('a null current schema plans every model as added', () => {
    const plan = planSchemaChange(null, schema({ tasks: model({ title: z.string() }), projects: model({ name: z.string() }) }));
    expect(summary(plan)).toEqual([
      ['add_model', 'safe', 'projects'],
      ['add_model', 'safe', 'tasks'],
    ]);
    expect(plan.changes[1]!.description).toBe('Add model tasks (1 field)');
    expect(plan.changes[1]!.to).toEqual({ fields: { title: { type: 'string' } }, relations: {}, options: {} });
    expect(plan.safe).toBe(true);
    expect(plan.counts).toEqual({ safe: 2, destructive: 0, 'needs-data': 0 });
  });

  it('orders renames, adds, modifications, field drops, model drops, sorted by model then field', () => {
    const before = schema({
      zebras: model({ b: z.string(), a: z.string(), gone: z.string(), old: z.string() }),
      alphas: model({ z: z.string(), y: z.number(), drop1: z.string() }),
      legacy: model({ x: z.string() }),
      olds: model({ x: z.string() }),
    });
    const after = schema({
      zebras: model({ b: z.number(), a: z.number(), fresh: z.string().optional(), renamed: z.string() }),
      alphas: model({ z: z.string().optional(), y: z.number(), added: z.string().optional() }),
      news: model({ x: z.string() }),
      brand: model({ x: z.string() }),
    });
    const plan = planSchemaChange(before, after, { renames: { olds: 'news', 'zebras.old': 'zebras.renamed' } });
    expect(summary(plan)).toEqual([
      ['rename_model', 'safe', 'news'],
      ['rename_field', 'safe', 'zebras', 'renamed'],
      ['add_model', 'safe', 'brand'],
      ['add_field', 'safe', 'alphas', 'added'],
      ['add_field', 'safe', 'zebras', 'fresh'],
      ['make_optional', 'safe', 'alphas', 'z'],
      ['change_options', 'safe', 'news'],
      ['change_type', 'destructive', 'zebras', 'a'],
      ['change_type', 'destructive', 'zebras', 'b'],
      ['drop_field', 'destructive', 'alphas', 'drop1'],
      ['drop_field', 'destructive', 'zebras', 'gone'],
      ['drop_model', 'destructive', 'legacy'],
    ]);
    expect(plan.safe).toBe(false);
    expect(plan.counts).toEqual({ safe: 7, destructive: 5, 'needs-data': 0 });
  });

  it('orders several changes of one field: type/constraints, enum, required/optional, default, description', () => {
    const plan = planTasks(
      { x: z.string().optional(), s: z.enum(['a', 'b']) },
      { x: z.string().min(2).default('ab').describe('X'), s: z.enum(['a', 'c']).nullable() },
    );
    expect(summary(plan)).toEqual([
      ['remove_enum_value', 'destructive', 'tasks', 's'],
      ['add_enum_value', 'safe', 'tasks', 's'],
      ['make_optional', 'safe', 'tasks', 's'],
      ['tighten_constraint', 'needs-data', 'tasks', 'x'],
      ['make_required', 'needs-data', 'tasks', 'x'],
      ['change_default', 'safe', 'tasks', 'x'],
      ['change_description', 'safe', 'tasks', 'x'],
    ]);
  });

  it('is deterministic whatever order models and fields are declared in', () => {
    const a1 = schema({ b: model({ y: z.string(), x: z.string() }), a: model({ q: z.string() }) });
    const a2 = schema({ a: model({ q: z.string() }), b: model({ x: z.string(), y: z.string() }) });
    const b1 = schema({ b: model({ y: z.number(), x: z.number(), w: z.string().optional() }), c: model({ q: z.string() }) });
    const b2 = schema({ c: model({ q: z.string() }), b: model({ w: z.string().optional(), x: z.number(), y: z.number() }) });
    const p1 = planSchemaChange(a1, b1);
    const p2 = planSchemaChange(a2, b2);
    expect(p2).toEqual(p1);
    expect(summary(p1)).toEqual([
      ['add_model', 'safe', 'c'],
      ['add_field', 'safe', 'b', 'w'],
      ['change_type', 'destructive', 'b', 'x'],
      ['change_type', 'destructive', 'b', 'y'],
      ['drop_model', 'destructive', 'a'],
    ]);
  });
});

describe('planSchemaChange: models', () => {
  it('add_model is safe', () => {
    const plan = planSchemaChange(schema({ a: model({ x: z.string() }) }), schema({ a: model({ x: z.string() }), b: model({ y: z.string() }) }));
    expect(summary(plan)).toEqual([['add_model', 'safe', 'b']]);
    expect(plan.changes[0]!.fix).toBeUndefined();
  });

  it('drop_model is destructive without stats, with rows, and safe when empty', () => {
    const before = schema({ a: model({ x: z.string() }), b: model({ y: z.string() }) });
    const after = schema({ a: model({ x: z.string() }) });

    const unknown = only(planSchemaChange(before, after));
    expect([unknown.kind, unknown.class, unknown.model]).toEqual(['drop_model', 'destructive', 'b']);
    expect(unknown.description).toBe('Drop model b');
    expect(unknown.fix).toContain('--allow-destructive');
    expect(unknown.fix).toContain('--rename b=<new name>');

    const full = only(planSchemaChange(before, after, { stats: { b: { rows: 12 } } }));
    expect([full.kind, full.class]).toEqual(['drop_model', 'destructive']);
    expect(full.description).toBe('Drop model b (12 rows)');

    const empty = only(planSchemaChange(before, after, { stats: { b: { rows: 0 } } }));
    expect([empty.kind, empty.class]).toEqual(['drop_model', 'safe']);
    expect(empty.description).toBe('Drop model b (empty)');
    expect(empty.fix).toBeUndefined();
  });

  it('a dropped model next to an added one suggests the rename flag', () => {
    const plan = planSchemaChange(schema({ todos: model({ x: z.string() }) }), schema({ tasks: model({ x: z.string() }) }));
    expect(summary(plan)).toEqual([
      ['add_model', 'safe', 'tasks'],
      ['drop_model', 'destructive', 'todos'],
    ]);
    expect(plan.changes[1]!.fix).toBe('If it was renamed to tasks, pass --rename todos=tasks to keep its rows; to delete its rows, pass --allow-destructive');
  });
});

describe('planSchemaChange: adding fields', () => {
  it('an optional, nullable or defaulted field is safe on any model', () => {
    const plan = planTasks(
      { title: z.string() },
      { title: z.string(), a: z.number().optional(), b: z.string().nullable(), c: z.boolean().default(false) },
      { stats: { tasks: { rows: 50 } } },
    );
    expect(summary(plan)).toEqual([
      ['add_field', 'safe', 'tasks', 'a'],
      ['add_field', 'safe', 'tasks', 'b'],
      ['add_field', 'safe', 'tasks', 'c'],
    ]);
    expect(plan.changes.map((c) => c.description)).toEqual([
      'Add field tasks.a (number, optional)',
      'Add field tasks.b (string, nullable)',
      'Add field tasks.c (boolean, default false)',
    ]);
  });

  it('a required field without default needs data when stats are unknown', () => {
    const c = only(planTasks({ title: z.string() }, { title: z.string(), estimate: z.number() }));
    expect([c.kind, c.class, c.field]).toEqual(['add_field', 'needs-data', 'estimate']);
    expect(c.description).toBe('Add field tasks.estimate (number, required)');
    expect(c.fix).toBe(
      'Give tasks.estimate a .default(...) or make it .optional() (fill it in, then make it required in a later push); or pass --allow-destructive',
    );
    expect(c.to).toEqual({ type: 'number' });
  });

  it('a required field without default needs data only on a non-empty model', () => {
    const full = only(planTasks({ title: z.string() }, { title: z.string(), estimate: z.number() }, { stats: { tasks: { rows: 3 } } }));
    expect([full.kind, full.class]).toEqual(['add_field', 'needs-data']);
    expect(full.description).toBe('Add field tasks.estimate (number, required; tasks has 3 rows)');

    const empty = only(planTasks({ title: z.string() }, { title: z.string(), estimate: z.number() }, { stats: { tasks: { rows: 0 } } }));
    expect([empty.kind, empty.class]).toEqual(['add_field', 'safe']);
    expect(empty.description).toBe('Add field tasks.estimate (number, required; tasks is empty)');
    expect(empty.fix).toBeUndefined();
  });

  it('fields of a new model are part of add_model, never needs-data', () => {
    const plan = planSchemaChange(schema({ a: model({ x: z.string() }) }), schema({ a: model({ x: z.string() }), b: model({ req: z.string() }) }));
    expect(summary(plan)).toEqual([['add_model', 'safe', 'b']]);
  });
});

describe('planSchemaChange: dropping fields', () => {
  it('is destructive without stats or with values', () => {
    const c = only(planTasks({ title: z.string(), notes: z.string().optional() }, { title: z.string() }));
    expect([c.kind, c.class, c.field]).toEqual(['drop_field', 'destructive', 'notes']);
    expect(c.description).toBe('Drop field tasks.notes (string, optional)');
    expect(c.fix).toBe('If it was renamed, pass --rename tasks.notes=tasks.<new name> to keep its values; to delete its values, pass --allow-destructive');

    const used = only(
      planTasks({ title: z.string(), notes: z.string().optional() }, { title: z.string() }, { stats: { tasks: { rows: 10, fields: { notes: { nonNull: 3 } } } } }),
    );
    expect([used.kind, used.class]).toEqual(['drop_field', 'destructive']);
    expect(used.description).toBe('Drop field tasks.notes (string, optional; 3 of 10 rows have a value)');
  });

  it('dropping an empty field is safe', () => {
    const noValues = only(
      planTasks({ title: z.string(), notes: z.string().optional() }, { title: z.string() }, { stats: { tasks: { rows: 10, fields: { notes: { nonNull: 0 } } } } }),
    );
    expect([noValues.kind, noValues.class]).toEqual(['drop_field', 'safe']);
    expect(noValues.description).toBe('Drop field tasks.notes (string, optional; no row has a value)');
    expect(noValues.fix).toBeUndefined();

    const emptyModel = only(planTasks({ title: z.string(), notes: z.string() }, { title: z.string() }, { stats: { tasks: { rows: 0 } } }));
    expect([emptyModel.kind, emptyModel.class]).toEqual(['drop_field', 'safe']);
  });

  it('a dropped field next to an added one suggests the rename flag', () => {
    const plan = planTasks({ title: z.string() }, { name: z.string() });
    expect(summary(plan)).toEqual([
      ['add_field', 'needs-data', 'tasks', 'name'],
      ['drop_field', 'destructive', 'tasks', 'title'],
    ]);
    expect(plan.changes[1]!.fix).toBe(
      'If it was renamed to name, pass --rename tasks.title=tasks.name to keep its values; to delete its values, pass --allow-destructive',
    );
  });
});

describe('planSchemaChange: types', () => {
  it('change_type is destructive, and safe when the field holds no value', () => {
    const c = only(planTasks({ estimate: z.string() }, { estimate: z.number() }));
    expect([c.kind, c.class, c.field]).toEqual(['change_type', 'destructive', 'estimate']);
    expect(c.description).toBe('Change type of tasks.estimate: string → number');
    expect(c.fix).toContain('--allow-destructive');
    expect(c.from).toEqual({ type: 'string' });
    expect(c.to).toEqual({ type: 'number' });

    const withValues = only(planTasks({ estimate: z.string() }, { estimate: z.number() }, { stats: { tasks: { rows: 4, fields: { estimate: { nonNull: 2 } } } } }));
    expect([withValues.kind, withValues.class]).toEqual(['change_type', 'destructive']);
    expect(withValues.description).toBe('Change type of tasks.estimate: string → number (2 of 4 rows have a value)');

    const noValues = only(planTasks({ estimate: z.string() }, { estimate: z.number() }, { stats: { tasks: { rows: 4, fields: { estimate: { nonNull: 0 } } } } }));
    expect([noValues.kind, noValues.class]).toEqual(['change_type', 'safe']);
    const emptyModel = only(planTasks({ estimate: z.string() }, { estimate: z.number() }, { stats: { tasks: { rows: 0 } } }));
    expect([emptyModel.kind, emptyModel.class]).toEqual(['change_type', 'safe']);
  });

  it('changing enum to string or date to string is a type change', () => {
    expect(summary(planTasks({ s: z.enum(['a']), d: z.iso.date() }, { s: z.string(), d: z.string() }))).toEqual([
      ['change_type', 'destructive', 'tasks', 'd'],
      ['change_type', 'destructive', 'tasks', 's'],
    ]);
  });

  it('nested array item, object key and record value types are type changes with a path', () => {
    const plan = planTasks(
      { tags: z.array(z.string()), meta: z.object({ a: z.string(), b: z.string() }), labels: z.record(z.string(), z.string()) },
      { tags: z.array(z.number()), meta: z.object({ a: z.number(), b: z.string() }), labels: z.record(z.string(), z.boolean()) },
    );
    expect(summary(plan)).toEqual([
      ['change_type', 'destructive', 'tasks', 'labels', 'labels.*'],
      ['change_type', 'destructive', 'tasks', 'meta', 'meta.a'],
      ['change_type', 'destructive', 'tasks', 'tags', 'tags[]'],
    ]);
    expect(plan.changes.map((c) => c.description)).toEqual([
      'Change type of tasks.labels.*: string → boolean',
      'Change type of tasks.meta.a: string → number',
      'Change type of tasks.tags[]: string → number',
    ]);
  });

  it('removing an object key is destructive unless the object passes unknown keys through', () => {
    const strip = only(planTasks({ meta: z.object({ a: z.string(), b: z.string() }) }, { meta: z.object({ a: z.string() }) }));
    expect([strip.kind, strip.class, strip.field, strip.path]).toEqual(['change_type', 'destructive', 'meta', 'meta.b']);
    expect(strip.description).toBe('Remove key tasks.meta.b (string, required) from the object');

    const loose = only(planTasks({ meta: z.looseObject({ a: z.string(), b: z.string() }) }, { meta: z.looseObject({ a: z.string() }) }));
    expect([loose.kind, loose.class, loose.field]).toEqual(['relax_constraint', 'safe', 'meta']);
  });

  it('adding an object key: optional relaxes, required tightens', () => {
    const plan = planTasks({ meta: z.object({ a: z.string() }) }, { meta: z.object({ a: z.string(), b: z.string().optional(), c: z.number() }) });
    expect(summary(plan)).toEqual([
      ['tighten_constraint', 'needs-data', 'tasks', 'meta'],
      ['relax_constraint', 'safe', 'tasks', 'meta'],
    ]);
    expect(plan.changes[0]!.description).toBe('Tighten tasks.meta: adds key c (number, required)');
    expect(plan.changes[1]!.description).toBe('Relax tasks.meta: adds key b (string, optional)');
  });
});

describe('planSchemaChange: enums', () => {
  it('adding an enum value is safe; reordering is no change', () => {
    const c = only(planTasks({ status: z.enum(['todo', 'done']) }, { status: z.enum(['done', 'todo', 'doing']) }));
    expect([c.kind, c.class, c.field]).toEqual(['add_enum_value', 'safe', 'status']);
    expect(c.description).toBe('Add enum value "doing" to tasks.status');
    expect(c.to).toEqual(['doing']);
    expect(planTasks({ status: z.enum(['a', 'b']) }, { status: z.enum(['b', 'a']) }).changes).toEqual([]);
  });

  it('removing an enum value is destructive without stats', () => {
    const c = only(planTasks({ status: z.enum(['todo', 'done']) }, { status: z.enum(['todo']) }));
    expect([c.kind, c.class]).toEqual(['remove_enum_value', 'destructive']);
    expect(c.description).toBe('Remove enum value "done" from tasks.status');
    expect(c.from).toEqual(['done']);
    expect(c.fix).toContain('--allow-destructive');
  });

  it('removing an enum value rows use is destructive, naming the count', () => {
    const c = only(
      planTasks({ status: z.enum(['todo', 'done']) }, { status: z.enum(['todo']) }, { stats: { tasks: { rows: 5, fields: { status: { nonNull: 5, values: { todo: 2, done: 3 } } } } } }),
    );
    expect([c.kind, c.class]).toEqual(['remove_enum_value', 'destructive']);
    expect(c.description).toBe('Remove enum value "done" from tasks.status (3 rows use it)');
  });

  it('removing an enum value no row uses is safe', () => {
    const zero = only(
      planTasks({ status: z.enum(['todo', 'done']) }, { status: z.enum(['todo']) }, { stats: { tasks: { rows: 5, fields: { status: { nonNull: 5, values: { todo: 5, done: 0 } } } } } }),
    );
    expect([zero.kind, zero.class]).toEqual(['remove_enum_value', 'safe']);
    expect(zero.description).toBe('Remove enum value "done" from tasks.status (no row uses it)');
    expect(zero.fix).toBeUndefined();

    // A value absent from the counts is used by no row.
    const absent = only(
      planTasks({ status: z.enum(['todo', 'done']) }, { status: z.enum(['todo']) }, { stats: { tasks: { rows: 5, fields: { status: { nonNull: 5, values: { todo: 5 } } } } } }),
    );
    expect(absent.class).toBe('safe');

    // Counts without per-value numbers cannot prove it.
    const noValues = only(planTasks({ status: z.enum(['todo', 'done']) }, { status: z.enum(['todo']) }, { stats: { tasks: { rows: 5, fields: { status: { nonNull: 5 } } } } }));
    expect(noValues.class).toBe('destructive');
  });

  it('lists all removed values in one change and added values in another', () => {
    const plan = planTasks(
      { status: z.enum(['a', 'b', 'c']) },
      { status: z.enum(['a', 'x']) },
      { stats: { tasks: { rows: 4, fields: { status: { nonNull: 4, values: { a: 3, b: 1 } } } } } },
    );
    expect(summary(plan)).toEqual([
      ['remove_enum_value', 'destructive', 'tasks', 'status'],
      ['add_enum_value', 'safe', 'tasks', 'status'],
    ]);
    expect(plan.changes[0]!.from).toEqual(['b', 'c']);
    expect(plan.changes[0]!.description).toBe('Remove enum values "b", "c" from tasks.status ("b": 1 row, "c": 0 rows)');
    expect(plan.changes[1]!.to).toEqual(['x']);
  });
});

describe('planSchemaChange: required and optional', () => {
  it('making a field required needs data when stats are unknown', () => {
    const c = only(planTasks({ due: z.iso.date().optional() }, { due: z.iso.date() }));
    expect([c.kind, c.class, c.field]).toEqual(['make_required', 'needs-data', 'due']);
    expect(c.description).toBe('Make tasks.due required (was optional)');
    expect(c.fix).toBe('Fill in the rows where tasks.due is null first, or keep it .optional()/.nullable(); or pass --allow-destructive');
  });

  it('making a field required needs data only if nulls exist', () => {
    const withNulls = only(planTasks({ due: z.iso.date().nullable() }, { due: z.iso.date() }, { stats: { tasks: { rows: 10, fields: { due: { nonNull: 6 } } } } }));
    expect([withNulls.kind, withNulls.class]).toEqual(['make_required', 'needs-data']);
    expect(withNulls.description).toBe('Make tasks.due required (was nullable; 4 of 10 rows are null)');
    expect(withNulls.fix).toContain('Fill in the 4 rows where tasks.due is null');

    const noNulls = only(planTasks({ due: z.iso.date().optional() }, { due: z.iso.date() }, { stats: { tasks: { rows: 10, fields: { due: { nonNull: 10 } } } } }));
    expect([noNulls.kind, noNulls.class]).toEqual(['make_required', 'safe']);
    expect(noNulls.description).toBe('Make tasks.due required (was optional; no nulls in 10 rows)');

    const empty = only(planTasks({ due: z.iso.date().optional() }, { due: z.iso.date() }, { stats: { tasks: { rows: 0 } } }));
    expect([empty.kind, empty.class]).toEqual(['make_required', 'safe']);
  });

  it('optional → defaulted required is make_required (stored nulls no longer valid) plus a default change', () => {
    const plan = planTasks({ p: z.number().optional() }, { p: z.number().default(0) });
    expect(summary(plan)).toEqual([
      ['make_required', 'needs-data', 'tasks', 'p'],
      ['change_default', 'safe', 'tasks', 'p'],
    ]);
    expect(plan.changes[0]!.description).toBe('Make tasks.p required (was optional, now default 0)');
  });

  it('switching between nullable and optional keeps stored nulls valid, so it is safe', () => {
    const toOptional = only(planTasks({ x: z.string().nullable() }, { x: z.string().optional() }));
    expect([toOptional.kind, toOptional.class]).toEqual(['make_optional', 'safe']);

    const toNullable = only(planTasks({ x: z.string().optional() }, { x: z.string().nullable() }));
    expect([toNullable.kind, toNullable.class]).toEqual(['make_required', 'safe']);
    expect(toNullable.description).toBe('Make tasks.x required on create (was optional, now nullable; stored nulls stay valid)');

    const dropNullable = only(planTasks({ x: z.string().optional().nullable() }, { x: z.string().optional() }));
    expect([dropNullable.kind, dropNullable.class]).toEqual(['make_required', 'safe']);
  });

  it('making a field optional or nullable is safe', () => {
    const optional = only(planTasks({ x: z.string() }, { x: z.string().optional() }));
    expect([optional.kind, optional.class]).toEqual(['make_optional', 'safe']);
    expect(optional.description).toBe('Make tasks.x optional (was required, now optional)');
    const nullable = only(planTasks({ x: z.string() }, { x: z.string().nullable() }));
    expect([nullable.kind, nullable.class]).toEqual(['make_optional', 'safe']);
    const more = only(planTasks({ x: z.string().optional() }, { x: z.string().optional().nullable() }));
    expect([more.kind, more.class]).toEqual(['make_optional', 'safe']);
  });

  it('a nested key becoming required needs data unless the field is empty', () => {
    const before = { meta: z.object({ a: z.string().optional() }) };
    const after = { meta: z.object({ a: z.string() }) };
    const c = only(planTasks(before, after));
    expect([c.kind, c.class, c.field, c.path]).toEqual(['make_required', 'needs-data', 'meta', 'meta.a']);
    const empty = only(planTasks(before, after, { stats: { tasks: { rows: 3, fields: { meta: { nonNull: 0 } } } } }));
    expect([empty.kind, empty.class]).toEqual(['make_required', 'safe']);
  });
});

describe('planSchemaChange: constraints', () => {
  it('raising a string minimum tightens; removing a maximum relaxes', () => {
    const plan = planTasks({ title: z.string().min(1).max(200) }, { title: z.string().min(3) });
    expect(summary(plan)).toEqual([
      ['tighten_constraint', 'needs-data', 'tasks', 'title'],
      ['relax_constraint', 'safe', 'tasks', 'title'],
    ]);
    expect(plan.changes[0]!.description).toBe('Tighten tasks.title: min length 1 → 3');
    expect(plan.changes[0]!.fix).toBe('Fix the rows whose tasks.title breaks the new rule first, or keep the old rule; or pass --allow-destructive');
    expect(plan.changes[1]!.description).toBe('Relax tasks.title: max length 200 → none');
  });

  it('merges several tightenings of one field into one change', () => {
    const c = only(planTasks({ code: z.string() }, { code: z.string().length(4).regex(/^[A-Z]+$/) }));
    expect([c.kind, c.class]).toEqual(['tighten_constraint', 'needs-data']);
    expect(c.description).toBe('Tighten tasks.code: min length none → 4; max length none → 4; adds check: matches /^[A-Z]+$/');
  });

  it('a changed regex is treated as tightening; a removed one relaxes', () => {
    const changed = only(planTasks({ code: z.string().regex(/^[a-z]+$/) }, { code: z.string().regex(/^[a-z0-9]+$/) }));
    expect([changed.kind, changed.class]).toEqual(['tighten_constraint', 'needs-data']);
    expect(changed.description).toBe('Tighten tasks.code: matches /^[a-z]+$/ → matches /^[a-z0-9]+$/');
    const removed = only(planTasks({ code: z.string().regex(/^[a-z]+$/) }, { code: z.string() }));
    expect([removed.kind, removed.class]).toEqual(['relax_constraint', 'safe']);
    const email = only(planTasks({ e: z.string() }, { e: z.email() }));
    expect([email.kind, email.class, email.description]).toEqual(['tighten_constraint', 'needs-data', 'Tighten tasks.e: adds check: is an email']);
  });

  it('a shorter required prefix relaxes, a longer one tightens', () => {
    expect(only(planTasks({ s: z.string().startsWith('ab') }, { s: z.string().startsWith('a') })).kind).toBe('relax_constraint');
    expect(only(planTasks({ s: z.string().startsWith('a') }, { s: z.string().startsWith('ab') })).kind).toBe('tighten_constraint');
  });

  it('int → float relaxes, float → int tightens, int32 → safe int relaxes', () => {
    const relax = only(planTasks({ n: z.number().int() }, { n: z.number() }));
    expect([relax.kind, relax.class, relax.description]).toEqual(['relax_constraint', 'safe', 'Relax tasks.n: integer (safeint) → any number']);
    const tighten = only(planTasks({ n: z.number() }, { n: z.number().int() }));
    expect([tighten.kind, tighten.class]).toEqual(['tighten_constraint', 'needs-data']);
    expect(only(planTasks({ n: z.int32() }, { n: z.int() })).kind).toBe('relax_constraint');
    expect(only(planTasks({ n: z.int() }, { n: z.int32() })).kind).toBe('tighten_constraint');
  });

  it('number bounds compare by value and inclusiveness', () => {
    const plan = planTasks({ n: z.number().min(0).max(10) }, { n: z.number().positive().max(100) });
    expect(summary(plan)).toEqual([
      ['tighten_constraint', 'needs-data', 'tasks', 'n'],
      ['relax_constraint', 'safe', 'tasks', 'n'],
    ]);
    expect(plan.changes[0]!.description).toBe('Tighten tasks.n: min >= 0 → > 0');
    expect(plan.changes[1]!.description).toBe('Relax tasks.n: max <= 10 → <= 100');
    expect(only(planTasks({ n: z.number().multipleOf(10) }, { n: z.number().multipleOf(5) })).kind).toBe('relax_constraint');
    expect(only(planTasks({ n: z.number().multipleOf(5) }, { n: z.number().multipleOf(10) })).kind).toBe('tighten_constraint');
  });

  it('array length, date format and object unknown keys are constraints', () => {
    expect(summary(planTasks({ t: z.array(z.string()).max(3) }, { t: z.array(z.string()).max(5) }))).toEqual([['relax_constraint', 'safe', 'tasks', 't']]);
    expect(summary(planTasks({ t: z.array(z.string()) }, { t: z.array(z.string()).min(1) }))).toEqual([['tighten_constraint', 'needs-data', 'tasks', 't']]);
    expect(summary(planTasks({ d: z.iso.datetime() }, { d: z.iso.datetime({ offset: true }) }))).toEqual([['relax_constraint', 'safe', 'tasks', 'd']]);
    expect(summary(planTasks({ d: z.iso.datetime() }, { d: z.iso.datetime({ precision: 3 }) }))).toEqual([['tighten_constraint', 'needs-data', 'tasks', 'd']]);
    expect(summary(planTasks({ d: z.iso.date() }, { d: z.iso.datetime() }))).toEqual([['tighten_constraint', 'needs-data', 'tasks', 'd']]);
    expect(summary(planTasks({ m: z.object({ a: z.string() }) }, { m: z.strictObject({ a: z.string() }) }))).toEqual([['tighten_constraint', 'needs-data', 'tasks', 'm']]);
    expect(summary(planTasks({ m: z.strictObject({ a: z.string() }) }, { m: z.looseObject({ a: z.string() }) }))).toEqual([['relax_constraint', 'safe', 'tasks', 'm']]);
  });

  it('tightening is safe when the field holds no value', () => {
    const noValues = only(planTasks({ title: z.string() }, { title: z.string().min(3) }, { stats: { tasks: { rows: 5, fields: { title: { nonNull: 0 } } } } }));
    expect([noValues.kind, noValues.class]).toEqual(['tighten_constraint', 'safe']);
    expect(noValues.description).toBe('Tighten tasks.title: min length none → 3 (no row has a value)');
    const empty = only(planTasks({ title: z.string() }, { title: z.string().min(3) }, { stats: { tasks: { rows: 0 } } }));
    expect([empty.kind, empty.class]).toEqual(['tighten_constraint', 'safe']);
    const used = only(planTasks({ title: z.string() }, { title: z.string().min(3) }, { stats: { tasks: { rows: 5, fields: { title: { nonNull: 5 } } } } }));
    expect([used.kind, used.class]).toEqual(['tighten_constraint', 'needs-data']);
  });
});

describe('planSchemaChange: defaults, descriptions, relations, options', () => {
  it('default and description changes are safe', () => {
    const plan = planTasks({ p: z.number().default(0), t: z.string() }, { p: z.number().default(1), t: z.string().describe('The title') });
    expect(summary(plan)).toEqual([
      ['change_default', 'safe', 'tasks', 'p'],
      ['change_description', 'safe', 'tasks', 't'],
    ]);
    expect(plan.changes.map((c) => [c.description, c.from, c.to])).toEqual([
      ['Change default of tasks.p: 0 → 1', 0, 1],
      ['Change description of tasks.t: none → "The title"', undefined, 'The title'],
    ]);
  });

  it('relation changes are safe', () => {
    const before = schema({ projects: model({ name: z.string() }), tasks: model({ projectId: z.string(), ownerId: z.string() }) });
    const after = schema({
      projects: model({ name: z.string() }, { tasks: hasMany('tasks', 'projectId') }),
      tasks: model({ projectId: z.string(), ownerId: z.string() }, { project: belongsTo('projects', 'projectId') }),
    });
    const plan = planSchemaChange(before, after);
    expect(summary(plan)).toEqual([
      ['change_relations', 'safe', 'projects'],
      ['change_relations', 'safe', 'tasks'],
    ]);
    expect(plan.changes[1]!.description).toBe('Change relations of tasks: add project (belongsTo projects via projectId)');
  });

  it('option changes are safe; a sync group change warns about existing rows', () => {
    const before = schema({ tasks: model({ projectId: z.string(), teamId: z.string() }, {}, { syncGroupFormat: 'project:{projectId}' }) });
    const after = schema({ tasks: model({ projectId: z.string(), teamId: z.string() }, {}, { syncGroupFormat: 'team:{teamId}', idPrefix: 'tsk', description: 'Work items' }) });
    const plan = planSchemaChange(before, after);
    expect(summary(plan)).toEqual([
      ['change_options', 'safe', 'tasks'],
      ['change_options', 'safe', 'tasks'],
      ['change_options', 'safe', 'tasks'],
    ]);
    expect(plan.changes.map((c) => c.description)).toEqual([
      'Change description of model tasks: none → "Work items"',
      'Change id prefix of tasks: task → tsk (new rows only; existing ids keep theirs)',
      'Change sync groups of tasks: project:{projectId} → team:{teamId}; existing rows keep their old groups in the change log until they are next written',
    ]);
  });
});

describe('planSchemaChange: renames', () => {
  it('a field rename keeps the data: one safe rename_field instead of drop + add', () => {
    const plan = planTasks({ title: z.string() }, { name: z.string() }, {
      renames: { 'tasks.title': 'tasks.name' },
      stats: { tasks: { rows: 3, fields: { title: { nonNull: 3 } } } },
    });
    const c = only(plan);
    expect([c.kind, c.class, c.model, c.field, c.from, c.to]).toEqual(['rename_field', 'safe', 'tasks', 'name', 'title', 'name']);
    expect(c.description).toBe('Rename field tasks.title → tasks.name (string, required; 3 values kept)');
    expect(plan.safe).toBe(true);
    // The bare field name works as the target too.
    expect(planTasks({ title: z.string() }, { name: z.string() }, { renames: { 'tasks.title': 'name' } })).toEqual(
      planTasks({ title: z.string() }, { name: z.string() }, { renames: { 'tasks.title': 'tasks.name' } }),
    );
  });

  it('a model rename keeps its rows, and relations into it are not reported as changed', () => {
    const before = schema({ todos: model({ title: z.string() }), notes: model({ todoId: z.string() }, { todo: belongsTo('todos', 'todoId') }) });
    const after = schema({ tasks: model({ title: z.string() }, {}, { idPrefix: 'todo' }), notes: model({ todoId: z.string() }, { todo: belongsTo('tasks', 'todoId') }) });
    const plan = planSchemaChange(before, after, { renames: { todos: 'tasks' }, stats: { todos: { rows: 7 } } });
    expect(summary(plan)).toEqual([['rename_model', 'safe', 'tasks']]);
    expect(plan.changes[0]!.description).toBe('Rename model todos → tasks (7 rows kept)');
    expect([plan.changes[0]!.from, plan.changes[0]!.to]).toEqual(['todos', 'tasks']);
  });

  it('a model rename with a field rename inside it names the model by its new name (the old one is accepted)', () => {
    const before = schema({ todos: model({ title: z.string() }) });
    const after = schema({ tasks: model({ name: z.string() }, {}, { idPrefix: 'todo' }) });
    const plan = planSchemaChange(before, after, { renames: { todos: 'tasks', 'tasks.title': 'tasks.name' } });
    expect(summary(plan)).toEqual([
      ['rename_model', 'safe', 'tasks'],
      ['rename_field', 'safe', 'tasks', 'name'],
    ]);
    expect(planSchemaChange(before, after, { renames: { todos: 'tasks', 'todos.title': 'tasks.name' } })).toEqual(plan);
  });

  it('a rename with a type change gives the rename, then the type change', () => {
    const plan = planTasks({ estimate: z.string() }, { hours: z.number().optional() }, {
      renames: { 'tasks.estimate': 'tasks.hours' },
      stats: { tasks: { rows: 4, fields: { estimate: { nonNull: 4 } } } },
    });
    expect(summary(plan)).toEqual([
      ['rename_field', 'safe', 'tasks', 'hours'],
      ['change_type', 'destructive', 'tasks', 'hours'],
      ['make_optional', 'safe', 'tasks', 'hours'],
    ]);
    expect(plan.changes[1]!.description).toBe('Change type of tasks.hours: string → number (4 of 4 rows have a value)');
  });

  it('stats are read under the current (old) names', () => {
    const before = schema({ todos: model({ title: z.string().optional() }) });
    const after = schema({ tasks: model({ name: z.string() }, {}, { idPrefix: 'todo' }) });
    const plan = planSchemaChange(before, after, {
      renames: { todos: 'tasks', 'tasks.title': 'name' },
      stats: { todos: { rows: 2, fields: { title: { nonNull: 2 } } } },
    });
    expect(summary(plan)).toEqual([
      ['rename_model', 'safe', 'tasks'],
      ['rename_field', 'safe', 'tasks', 'name'],
      ['make_required', 'safe', 'tasks', 'name'],
    ]);
  });

  it('swapping two fields by renames works', () => {
    const plan = planTasks({ a: z.string(), b: z.string() }, { a: z.string(), b: z.string() }, { renames: { 'tasks.a': 'tasks.b', 'tasks.b': 'tasks.a' } });
    expect(summary(plan)).toEqual([
      ['rename_field', 'safe', 'tasks', 'a'],
      ['rename_field', 'safe', 'tasks', 'b'],
    ]);
  });

  it('invalid renames throw invalid_rename naming the problem', () => {
    const before = schema({ todos: model({ title: z.string() }), other: model({ x: z.string() }) });
    const after = schema({ tasks: model({ name: z.string() }), other: model({ x: z.string() }) });
    // Source not in the current schema.
    expectInvalidRename(() => planSchemaChange(before, after, { renames: { missing: 'tasks' } }), 'model "missing" is not in the current schema');
    expectInvalidRename(() => planSchemaChange(null, after, { renames: { todos: 'tasks' } }), 'model "todos" is not in the current schema');
    // Target not in the new schema.
    expectInvalidRename(() => planSchemaChange(before, after, { renames: { todos: 'jobs' } }), 'model "jobs" is not in the new schema');
    // Source still exists.
    expectInvalidRename(() => planSchemaChange(before, after, { renames: { other: 'tasks' } }), 'model "other" still exists in the new schema');
    // Field source missing, target missing, source still there.
    const t1 = schema({ tasks: model({ title: z.string(), keep: z.string() }) });
    const t2 = schema({ tasks: model({ name: z.string(), keep: z.string() }) });
    expectInvalidRename(() => planSchemaChange(t1, t2, { renames: { 'tasks.nope': 'tasks.name' } }), '"nope" is not a field of "tasks" in the current schema');
    expectInvalidRename(() => planSchemaChange(t1, t2, { renames: { 'tasks.title': 'tasks.nope' } }), '"nope" is not a field of "tasks" in the new schema');
    expectInvalidRename(() => planSchemaChange(t1, t2, { renames: { 'tasks.keep': 'tasks.name' } }), 'field "tasks.keep" still exists in the new schema');
    expectInvalidRename(() => planSchemaChange(t1, t2, { renames: { 'tasks.title': 'other.name' } }), 'a field rename stays within one model');
    expectInvalidRename(() => planSchemaChange(t1, t2, { renames: { 'a.b.c': 'tasks.name' } }), 'expected model.field');
    expectInvalidRename(() => planSchemaChange(t1, t2, { renames: { 'nomodel.title': 'nomodel.name' } }), 'model "nomodel" is not in the current schema');
  });
});

describe('formatPlan', () => {
  it('prints one line per change, the fix indented below non-safe ones', () => {
    const plan = planTasks(
      { title: z.string(), status: z.enum(['todo', 'done']), notes: z.string().optional() },
      { title: z.string(), status: z.enum(['todo', 'doing']), priority: z.number().optional() },
      { stats: { tasks: { rows: 5, fields: { status: { nonNull: 5, values: { todo: 2, done: 3 } }, notes: { nonNull: 0 } } } } },
    );
    expect(formatPlan(plan)).toEqual([
      '[safe] Add field tasks.priority (number, optional)',
      '[destructive] Remove enum value "done" from tasks.status (3 rows use it)',
      '    fix: Move the rows that use "done" to another value first (or keep the value in the enum); or pass --allow-destructive to apply it anyway',
      '[safe] Add enum value "doing" to tasks.status',
      '[safe] Drop field tasks.notes (string, optional; no row has a value)',
    ]);
    expect(plan.counts).toEqual({ safe: 3, destructive: 1, 'needs-data': 0 });
    expect(plan.safe).toBe(false);
  });
});

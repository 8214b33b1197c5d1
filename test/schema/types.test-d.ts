import { describe, expectTypeOf, test } from 'vitest';
import { belongsTo, defineSchema, model, z, type InferCreate, type InferModel, type InferUpdate } from '../../src/schema/index.js';

const schema = defineSchema({
  projects: model({ name: z.string() }),
  tasks: model(
    {
      title: z.string().min(1),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      assigneeId: z.string().nullable().default(null),
      projectId: z.string(),
      estimate: z.number().int().optional(),
      done: z.boolean(),
      dueAt: z.iso.datetime().nullable(),
      meta: z.json().optional(),
      tags: z.array(z.string()).default([]),
    },
    { project: belongsTo('projects', 'projectId') },
    { syncGroupFormat: 'project:{projectId}' },
  ),
});

type Task = InferModel<typeof schema, 'tasks'>;
type TaskCreate = InferCreate<typeof schema, 'tasks'>;
type TaskUpdate = InferUpdate<typeof schema, 'tasks'>;

describe('row type', () => {
  test('has system fields and exact field types', () => {
    expectTypeOf<Task['id']>().toEqualTypeOf<string>();
    expectTypeOf<Task['createdAt']>().toEqualTypeOf<string>();
    expectTypeOf<Task['updatedAt']>().toEqualTypeOf<string>();
    expectTypeOf<Task['syncId']>().toEqualTypeOf<number>();
    expectTypeOf<Task['title']>().toEqualTypeOf<string>();
    expectTypeOf<Task['status']>().toEqualTypeOf<'todo' | 'doing' | 'done'>();
    expectTypeOf<Task['assigneeId']>().toEqualTypeOf<string | null>();
    // Left out on create, it reads back as null: every row has every field.
    expectTypeOf<Task['estimate']>().toEqualTypeOf<number | null>();
    expectTypeOf<Task>().toHaveProperty('meta');
    expectTypeOf<Task['done']>().toEqualTypeOf<boolean>();
    expectTypeOf<Task['dueAt']>().toEqualTypeOf<string | null>();
    expectTypeOf<Task['tags']>().toEqualTypeOf<string[]>();
  });

  test('unknown fields are not part of the row', () => {
    // @ts-expect-error: no such field
    expectTypeOf<Task['nope']>();
    expectTypeOf<Task>().not.toHaveProperty('nope');
  });

  test('unknown model is a compile error', () => {
    // @ts-expect-error: 'users' is not a model of the schema
    type _Users = InferModel<typeof schema, 'users'>;
  });
});

describe('create input', () => {
  test('defaulted and optional fields may be left out', () => {
    const ok: TaskCreate = { title: 'Ship', projectId: 'p1', done: false, dueAt: null };
    expectTypeOf(ok).toExtend<TaskCreate>();
    expectTypeOf<TaskCreate>().toHaveProperty('status');
    expectTypeOf<{ title: string; projectId: string; done: boolean; dueAt: null }>().toExtend<TaskCreate>();
  });

  test('a required field left out is a compile error', () => {
    // @ts-expect-error: title is required
    const missing: TaskCreate = { projectId: 'p1', done: false, dueAt: null };
    void missing;
    expectTypeOf<{ projectId: string; done: boolean; dueAt: null }>().not.toExtend<TaskCreate>();
  });

  test('a wrong field name or type is a compile error', () => {
    // @ts-expect-error: unknown field
    const unknownField: TaskCreate = { title: 'x', projectId: 'p', done: false, dueAt: null, titel: 'typo' };
    // @ts-expect-error: wrong enum value
    const badEnum: TaskCreate = { title: 'x', projectId: 'p', done: false, dueAt: null, status: 'finished' };
    // @ts-expect-error: wrong type
    const badType: TaskCreate = { title: 1, projectId: 'p', done: false, dueAt: null };
    void unknownField;
    void badEnum;
    void badType;
    expectTypeOf<{ title: number; projectId: string; done: boolean; dueAt: null }>().not.toExtend<TaskCreate>();
  });
});

describe('update input', () => {
  test('every field optional; optional fields can be cleared with null', () => {
    const ok: TaskUpdate = { status: 'done' };
    const clear: TaskUpdate = { estimate: null, assigneeId: null };
    const empty: TaskUpdate = {};
    void ok;
    void clear;
    void empty;
    expectTypeOf<TaskUpdate['status']>().toEqualTypeOf<'todo' | 'doing' | 'done' | undefined>();
    expectTypeOf<TaskUpdate['estimate']>().toEqualTypeOf<number | null | undefined>();
  });

  test('a wrong field name or type is a compile error', () => {
    // @ts-expect-error: unknown field
    const unknownField: TaskUpdate = { titel: 'x' };
    // @ts-expect-error: title is not nullable
    const nullTitle: TaskUpdate = { title: null };
    // @ts-expect-error: wrong type
    const badType: TaskUpdate = { done: 'yes' };
    void unknownField;
    void nullTitle;
    void badType;
    expectTypeOf<{ done: string }>().not.toExtend<TaskUpdate>();
  });
});

/**
 * The hooks of `createAbloReact<typeof schema>()` are typed on the schema:
 * selectors see typed model clients, `useClaim` takes only model names, and
 * the provider takes only that schema's client. Each `@ts-expect-error` line
 * must fail to compile (vitest typecheck fails on one that compiles).
 */
import { createElement } from 'react';
import { describe, expectTypeOf, test } from 'vitest';
import Ablo, { type AbloClient, type Conflict, type UndoOutcome } from '../../src/index.js';
import type { PresenceMember } from '../../src/protocol/presence.js';
import { createAbloReact, useAblo as untypedUseAblo, AbloProvider as UntypedProvider, type ClaimView, type SyncStatus } from '../../src/react/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';

const schema = defineSchema({
  projects: model({ name: z.string() }),
  tasks: model({
    title: z.string(),
    status: z.enum(['todo', 'done']).default('todo'),
    estimate: z.number().optional(),
    projectId: z.string(),
  }),
});
const other = defineSchema({ notes: model({ body: z.string() }) });

const ablo = Ablo({ schema, apiKey: 'sk_test_x', baseURL: 'http://127.0.0.1:4100' });
const notes = Ablo({ schema: other, apiKey: 'sk_test_x', baseURL: 'http://127.0.0.1:4100' });

type Task = { id: string; createdAt: string; updatedAt: string; syncId: number; title: string; status: 'todo' | 'done'; estimate: number | null; projectId: string };

const { AbloProvider, useAblo, useAbloClient, useSyncStatus, useClaim, usePresence, useUndo, useConflicts, SyncGroupProvider } =
  createAbloReact<typeof schema>();

describe('createAbloReact<typeof schema>() types every hook', () => {
  test('useAblo selectors see the typed client and return typed rows', () => {
    expectTypeOf(useAblo((a) => a.tasks.getAll({ where: { status: 'todo' } }))).toEqualTypeOf<Task[]>();
    expectTypeOf(useAblo((a) => a.tasks.get('t1'))).toEqualTypeOf<Task | undefined>();
    expectTypeOf(useAblo((a) => a.projects.getCount())).toEqualTypeOf<number>();
    expectTypeOf(useAbloClient()).toEqualTypeOf<AbloClient<typeof schema>>();
  });

  test('wrong models, fields and enum values in selectors do not compile', () => {
    // @ts-expect-error: no model "users"
    useAblo((a) => a.users.getAll());
    // @ts-expect-error: 'finished' is not a status
    useAblo((a) => a.tasks.getAll({ where: { status: 'finished' } }));
    // @ts-expect-error: no field "priority"
    useAblo((a) => a.tasks.getAll({ where: { priority: 1 } }));
    // @ts-expect-error: no field "priority" to order by
    useAblo((a) => a.tasks.getAll({ orderBy: { priority: 'asc' } }));
    // @ts-expect-error: a row has no field "priority"
    useAblo((a) => a.tasks.get('t1')?.priority);
    // @ts-expect-error: wrong enum value in a write through the client
    void useAbloClient().tasks.update({ id: 't1', data: { status: 'finished' } });
  });

  test('useClaim takes only model names', () => {
    expectTypeOf(useClaim('tasks', 't1')).toEqualTypeOf<ClaimView>();
    expectTypeOf(useClaim('tasks', 't1').heldByMe).toEqualTypeOf<boolean>();
    // @ts-expect-error: no model "users"
    useClaim('users', 'u1');
    // @ts-expect-error: a model name, not any string
    useClaim('task' as string, 't1');
  });

  test('the provider takes only this schema\'s client, and the fallback props', () => {
    createElement(AbloProvider, { client: ablo, fallback: 'loading', suspense: true, errorFallback: (error: unknown, retry: () => void) => [String(error), retry.name] });
    createElement(AbloProvider, { client: ablo, errorFallback: 'engine down' });
    // @ts-expect-error: a client of another schema
    createElement(AbloProvider, { client: notes });
    // @ts-expect-error: suspense is a boolean
    createElement(AbloProvider, { client: ablo, suspense: 'yes' });
    // The untyped provider takes any client.
    createElement(UntypedProvider, { client: notes });
  });

  test('status, presence, undo and conflicts hooks', () => {
    expectTypeOf(useSyncStatus()).toEqualTypeOf<SyncStatus>();
    expectTypeOf(useSyncStatus().offline).toEqualTypeOf<boolean>();
    expectTypeOf(useSyncStatus().pendingWrites).toEqualTypeOf<number>();

    const p = usePresence('board:launch', { focus: 't1' });
    expectTypeOf(p.members[0]!.state).toEqualTypeOf<{ focus: string }>();
    expectTypeOf(p.members[0]!.participant).toEqualTypeOf<PresenceMember['participant']>();
    expectTypeOf(p.self).toMatchTypeOf<{ key: string; status: 'online' | 'reconnecting' } | null>();
    p.set({ focus: 't2' });
    // @ts-expect-error: the state's shape is the one this component sets
    p.set({ focus: 3 });
    // @ts-expect-error: a state is an object
    usePresence('board:launch', 'here');

    const u = useUndo('editor');
    expectTypeOf(u.canUndo).toEqualTypeOf<boolean>();
    expectTypeOf(u.undo()).resolves.toEqualTypeOf<UndoOutcome>();
    expectTypeOf(u.redo).returns.resolves.toEqualTypeOf<UndoOutcome>();

    const c = useConflicts();
    expectTypeOf(c.conflicts).toEqualTypeOf<readonly Conflict[]>();
    void c.resolve('c1', 'mine');
    // @ts-expect-error: 'mine' or 'theirs'
    void c.resolve('c1', 'ours');

    createElement(SyncGroupProvider, { groups: ['board:launch'], fallback: 'switching' });
    // @ts-expect-error: groups is a list
    createElement(SyncGroupProvider, { groups: 'board:launch' });
  });

  test('the untyped useAblo still works with an annotated selector', () => {
    expectTypeOf(untypedUseAblo((a: typeof ablo) => a.tasks.getAll())).toEqualTypeOf<Task[]>();
  });
});

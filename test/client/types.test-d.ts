import { describe, expectTypeOf, test } from 'vitest';
import Ablo, { type AbloOptions, type ConnectionStatus, type DeleteResult, type LiveChange, type LiveQuery, type OnStale, type StaleNotification, type WriteOutcome } from '../../src/index.js';
import type { SyncStatus } from '../../src/react/index.js';
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
const ablo = Ablo({ schema, apiKey: 'sk_test_x', baseURL: 'http://127.0.0.1:4100' });

type Task = { id: string; createdAt: string; updatedAt: string; syncId: number; title: string; status: 'todo' | 'done'; estimate: number | null; projectId: string };

describe('model clients are typed from the schema', () => {
  test('reads return rows', () => {
    expectTypeOf(ablo.tasks.get('t1')).toEqualTypeOf<Task | undefined>();
    expectTypeOf(ablo.tasks.getAll()).toEqualTypeOf<Task[]>();
    expectTypeOf(ablo.tasks.getCount()).toEqualTypeOf<number>();
    expectTypeOf(ablo.tasks.retrieve({ id: 't1' })).resolves.toEqualTypeOf<Task>();
    expectTypeOf(ablo.tasks.list()).resolves.toMatchTypeOf<{ data: Task[]; hasMore: boolean }>();
    expectTypeOf(ablo.tasks.create({ data: { title: 'x', projectId: 'p' } })).resolves.toEqualTypeOf<Task>();
  });

  test('live queries are typed like getAll', () => {
    const q = ablo.tasks.live({ where: { status: 'todo' }, orderBy: { title: 'asc' }, limit: 5 });
    expectTypeOf(q).toEqualTypeOf<LiveQuery<Task>>();
    expectTypeOf(q.rows).toEqualTypeOf<readonly Task[]>();
    q.subscribe((rows, changes) => {
      expectTypeOf(rows).toEqualTypeOf<readonly Task[]>();
      expectTypeOf(changes).toEqualTypeOf<ReadonlyArray<LiveChange<Task>>>();
      expectTypeOf(changes[0]!.row).toEqualTypeOf<Task | undefined>();
    });
    // @ts-expect-error: unknown field in where
    void ablo.tasks.live({ where: { priority: 1 } });
    // @ts-expect-error: wrong value type
    void ablo.tasks.live({ where: { status: 'later' } });
  });

  test('a wrong model is a compile error', () => {
    // @ts-expect-error: no model "users"
    void ablo.users;
  });

  test('wrong fields or value types on any verb are compile errors', () => {
    // @ts-expect-error: unknown field on create
    void ablo.tasks.create({ data: { title: 'x', projectId: 'p', priority: 1 } });
    // @ts-expect-error: missing required field on create
    void ablo.tasks.create({ data: { title: 'x' } });
    // @ts-expect-error: wrong enum value on update
    void ablo.tasks.update({ id: 't', data: { status: 'later' } });
    // @ts-expect-error: wrong value type on update
    void ablo.tasks.update({ id: 't', data: { estimate: 'three' } });
    // @ts-expect-error: id is required on delete
    void ablo.tasks.delete({});
    // @ts-expect-error: unknown onStale disposition
    void ablo.tasks.update({ id: 't', data: {}, onStale: 'ignore' });
    // @ts-expect-error: unknown field in where
    void ablo.tasks.getAll({ where: { priority: 1 } });
    // @ts-expect-error: wrong value type in where
    void ablo.tasks.getAll({ where: { status: 'later' } });
    // @ts-expect-error: unknown field in orderBy
    void ablo.tasks.list({ orderBy: { priority: 'asc' } });
    // @ts-expect-error: bad direction
    void ablo.tasks.getAll({ orderBy: { title: 'up' } });
    // @ts-expect-error: unknown model in a commit
    void ablo.commits.create({ operations: [{ op: 'create', model: 'users', data: {} }] });
    // @ts-expect-error: wrong field for the model in a commit
    void ablo.commits.create({ operations: [{ op: 'update', model: 'projects', id: 'p', data: { title: 'x' } }] });
  });

  test('valid calls compile', () => {
    void ablo.tasks.update({ id: 't', data: { status: 'done', estimate: null }, readAt: 3, onStale: 'notify', wait: 'queued' });
    void ablo.tasks.getAll({ where: { status: ['todo', 'done'], estimate: null }, orderBy: { title: 'asc' }, limit: 5 });
    void ablo.commits.create({
      operations: [
        { op: 'create', model: 'projects', data: { name: 'p' } },
        { op: 'update', model: 'tasks', id: 't', data: { title: 'y' } },
      ],
      reads: [{ model: 'tasks', id: 't', readAt: 1, fields: ['title'] }],
    });
    const stop = ablo.subscribe(
      (a) => a.tasks.getCount(),
      (n, prev) => {
        expectTypeOf(n).toEqualTypeOf<number>();
        expectTypeOf(prev).toEqualTypeOf<number>();
      },
    );
    stop();
    ablo.on('conflict:notified', (e) => expectTypeOf(e.notifications[0]!.conflictingFields).toEqualTypeOf<string[]>());
  });
});

describe('onStale: notify results narrow (item 12)', () => {
  test('update and delete with notify resolve applied | held; other modes resolve the row', async () => {
    const r = ablo.tasks.update({ id: 't', data: { title: 'x' }, readAt: 1, onStale: 'notify' });
    expectTypeOf(r).resolves.toEqualTypeOf<WriteOutcome<Task>>();
    const outcome = await r;
    if (outcome.status === 'held') {
      expectTypeOf(outcome.notification).toEqualTypeOf<StaleNotification>();
      // @ts-expect-error: a held write has no row
      void outcome.row;
    } else {
      expectTypeOf(outcome.row).toEqualTypeOf<Task>();
      // @ts-expect-error: an applied write has no notification
      void outcome.notification;
    }
    // @ts-expect-error: the notify result is not a row
    const asRow: Task = await r;
    void asRow;

    expectTypeOf(ablo.tasks.update({ id: 't', data: {} })).resolves.toEqualTypeOf<Task>();
    expectTypeOf(ablo.tasks.update({ id: 't', data: {}, readAt: 1, onStale: 'reject' })).resolves.toEqualTypeOf<Task>();
    expectTypeOf(ablo.tasks.update({ id: 't', data: {}, readAt: 1, onStale: 'overwrite' })).resolves.toEqualTypeOf<Task>();
    // Not waiting for the receipt: nothing to tell yet, the optimistic row.
    expectTypeOf(ablo.tasks.update({ id: 't', data: {}, onStale: 'notify', wait: 'queued' })).resolves.toEqualTypeOf<Task>();
    // A disposition only known at run time: either shape.
    const mode = 'notify' as OnStale;
    expectTypeOf(ablo.tasks.update({ id: 't', data: {}, onStale: mode })).resolves.toEqualTypeOf<Task | WriteOutcome<Task>>();

    expectTypeOf(ablo.tasks.delete({ id: 't', readAt: 1, onStale: 'notify' })).resolves.toEqualTypeOf<WriteOutcome<DeleteResult>>();
    expectTypeOf(ablo.tasks.delete({ id: 't' })).resolves.toEqualTypeOf<DeleteResult>();
    expectTypeOf(ablo.tasks.delete({ id: 't', onStale: mode })).resolves.toEqualTypeOf<DeleteResult | WriteOutcome<DeleteResult>>();
    // @ts-expect-error: the notify result of a delete has no `deleted` until narrowed
    void (await ablo.tasks.delete({ id: 't', onStale: 'notify' })).deleted;
  });
});

describe('client options (items 1, 9, 10, 13)', () => {
  test('the new options take their types, or undefined', () => {
    void Ablo({ schema, apiKey: undefined, readyTimeoutMs: 2000, strictSchema: true, logger: console });
    void Ablo({ schema, readyTimeoutMs: undefined, strictSchema: undefined, logger: undefined });
    void Ablo({ schema, logger: { warn: (message: string) => void message } });
    expectTypeOf<AbloOptions<typeof schema>['readyTimeoutMs']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<AbloOptions<typeof schema>['strictSchema']>().toEqualTypeOf<boolean | undefined>();
    // @ts-expect-error: a number of ms
    void Ablo({ schema, readyTimeoutMs: '10s' });
    // @ts-expect-error: a boolean
    void Ablo({ schema, strictSchema: 'yes' });
    // @ts-expect-error: logger methods take a message
    void Ablo({ schema, logger: { warn: 1 } });
  });

  test('unauthorized is a connection status, and useSyncStatus reports it', () => {
    expectTypeOf<'unauthorized'>().toExtend<ConnectionStatus>();
    expectTypeOf<'unauthorized'>().toExtend<SyncStatus['status']>();
    expectTypeOf(ablo.status).toEqualTypeOf<ConnectionStatus>();
    // @ts-expect-error: not a status
    const bad: ConnectionStatus = 'revoked';
    void bad;
  });
});

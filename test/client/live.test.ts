/**
 * Live queries through real SDK clients on a real engine, and the store's
 * one-pass retirement of a pending write. (The 10,000-change equivalence with a
 * fresh scan is in live-random.test.ts.)
 */
import { describe, expect, test } from 'vitest';
import Ablo, { AbloStaleContextError, AbloValidationError, type LiveChange, type LiveQuery } from '../../src/index.js';
import { deepEqual } from '../../src/client/equal.js';
import { LiveCore, LiveRegistry, liveKey, whereKey } from '../../src/client/live.js';
import { LocalStore, type RowData } from '../../src/client/store.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { sdkKit, until } from '../helpers/sdk.js';

const schema = defineSchema({
  projects: model({ name: z.string().min(1) }),
  tasks: model(
    {
      title: z.string().min(1),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      projectId: z.string(),
      rank: z.number().int().optional(),
    },
    {},
    { syncGroupFormat: 'project:{projectId}' },
  ),
});
type Client = ReturnType<typeof Ablo<typeof schema>>;
type Task = ReturnType<Client['tasks']['getAll']>[number];

const { engine, client, cleanups } = sdkKit(schema, { syncGroups: ['default', 'project:p1'] });

/** Everything a live query's listener reported, and a way to wait for a condition on its rows. */
function record(q: LiveQuery<Task>): { log: Array<LiveChange<Task>>; calls: () => number; until: (check: (rows: readonly Task[]) => boolean) => Promise<void> } {
  const log: Array<LiveChange<Task>> = [];
  let calls = 0;
  const waiters = new Set<() => void>();
  const stop = q.subscribe((_rows, changes) => {
    calls++;
    log.push(...changes);
    for (const w of [...waiters]) w();
  });
  cleanups.push(stop);
  return {
    log,
    calls: () => calls,
    until: (check) =>
      new Promise<void>((resolve, reject) => {
        if (check(q.rows)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`live query did not reach the condition; rows: ${JSON.stringify(q.rows.map((r) => r.title))}`));
        }, 5000);
        const w = (): void => {
          if (!check(q.rows)) return;
          clearTimeout(timer);
          waiters.delete(w);
          resolve();
        };
        waiters.add(w);
      }),
  };
}

const titles = (rows: readonly Task[]): string[] => rows.map((r) => r.title);

describe('live queries over a real engine', () => {
  test('a where + limit window on one client follows another client’s writes: added, updated, removed, refilled; rows equal getAll', async () => {
    const e = await engine();
    const reader = await client(e);
    const writer = await client(e);
    await writer.projects.create({ id: 'p1', data: { name: 'Apollo' } });

    const options = { where: { status: 'todo' as const }, orderBy: { title: 'asc' as const }, limit: 3 };
    const q = reader.tasks.live(options);
    expect(q.rows).toEqual([]);
    const seen = record(q);

    const ids: Record<string, string> = {};
    for (const title of ['d', 'b', 'a', 'c']) ids[title] = (await writer.tasks.create({ data: { title, projectId: 'p1' } })).id;
    await seen.until((rows) => titles(rows).join() === 'a,b,c');
    expect(q.rows).toEqual(reader.tasks.getAll(options));
    // 'd' arrived first and was pushed out of the window by 'b', 'a' and 'c'.
    expect(seen.log.filter((c) => c.kind === 'added').map((c) => c.row!.title)).toEqual(['d', 'b', 'a', 'c']);
    expect(seen.log.filter((c) => c.kind === 'removed').map((c) => c.previous!.title)).toEqual(['d']);

    seen.log.length = 0;
    await writer.tasks.update({ id: ids.b!, data: { title: 'bb' } });
    await seen.until((rows) => titles(rows).join() === 'a,bb,c');
    expect(seen.log).toEqual([{ kind: 'updated', id: ids.b, row: expect.objectContaining({ title: 'bb' }), previous: expect.objectContaining({ title: 'b' }) }]);

    // 'a' leaves the filter: the window refills with 'd' from behind it.
    seen.log.length = 0;
    await writer.tasks.update({ id: ids.a!, data: { status: 'done' } });
    await seen.until((rows) => titles(rows).join() === 'bb,c,d');
    expect(seen.log.map((c) => [c.kind, c.id])).toEqual([
      ['removed', ids.a],
      ['added', ids.d],
    ]);
    expect(q.rows).toEqual(reader.tasks.getAll(options));

    seen.log.length = 0;
    await writer.tasks.delete({ id: ids.c! });
    await seen.until((rows) => titles(rows).join() === 'bb,d');
    expect(seen.log.map((c) => [c.kind, c.id])).toEqual([['removed', ids.c]]);
    expect(q.rows).toEqual(reader.tasks.getAll(options));

    // Back into the filter.
    await writer.tasks.update({ id: ids.a!, data: { status: 'todo' } });
    await seen.until((rows) => titles(rows).join() === 'a,bb,d');
    expect(q.rows).toEqual(reader.tasks.getAll(options));
    q.dispose();
  });

  test('a rejected optimistic write shows in a live query at once and is rolled back out of it', async () => {
    const e = await engine();
    const reader = await client(e);
    const writer = await client(e);
    await writer.projects.create({ id: 'p1', data: { name: 'Apollo' } });
    const t = await writer.tasks.create({ data: { title: 'Ship', projectId: 'p1' } });
    await until(reader, () => reader.tasks.get(t.id));
    const stamp = reader.snapshot().stamp;
    // The status moves after the reader's snapshot: a write of it based on the snapshot is stale.
    await writer.tasks.update({ id: t.id, data: { status: 'done' } });
    await until(reader, () => reader.tasks.get(t.id)?.status === 'done');

    const q = reader.tasks.live({ where: { status: 'doing' } });
    const seen = record(q);
    const write = reader.tasks.update({ id: t.id, data: { status: 'doing' }, readAt: stamp, onStale: 'reject' });
    await seen.until((rows) => rows.length === 1);
    expect(q.rows[0]).toMatchObject({ id: t.id, status: 'doing' });
    await expect(write).rejects.toBeInstanceOf(AbloStaleContextError);
    await seen.until((rows) => rows.length === 0);
    expect(seen.log.map((c) => [c.kind, c.id])).toEqual([
      ['added', t.id],
      ['removed', t.id],
    ]);
    expect(q.rows).toEqual(reader.tasks.getAll({ where: { status: 'doing' } }));
    q.dispose();
  });

  test('dispose() (and [Symbol.dispose]) stops the listener; rows keep their last value', async () => {
    const e = await engine();
    const reader = await client(e);
    const writer = await client(e);
    await writer.projects.create({ id: 'p1', data: { name: 'Apollo' } });
    const first = await writer.tasks.create({ data: { title: 'one', projectId: 'p1' } });
    await until(reader, () => reader.tasks.get(first.id));

    const q = reader.tasks.live();
    const q2 = reader.tasks.live({ orderBy: { title: 'desc' } });
    const keep = reader.tasks.live(); // the same query, held by another holder: still live after q is disposed
    let calls = 0;
    q.subscribe(() => calls++);
    q2.subscribe(() => calls++);
    const before = q.rows;
    expect(titles(before)).toEqual(['one']);
    q.dispose();
    q2[Symbol.dispose]();
    const second = await writer.tasks.create({ data: { title: 'two', projectId: 'p1' } });
    await until(reader, () => reader.tasks.get(second.id));
    expect(calls).toBe(0);
    expect(q.rows).toBe(before);
    expect(titles(keep.rows).sort()).toEqual(['one', 'two']);
    expect(q.subscribe(() => calls++)).toBeTypeOf('function'); // a no-op after dispose
    keep.dispose();
    // The same checks as getAll.
    expect(() => reader.tasks.live({ where: { nope: 1 } as never })).toThrow(AbloValidationError);
    expect(() => reader.tasks.live({ limit: 0 })).toThrow(/limit/);
  });

  test('a subscribe() selector that calls getAll gets the same array while the result is unchanged', async () => {
    const e = await engine();
    const reader = await client(e);
    const writer = await client(e);
    await writer.projects.create({ id: 'p1', data: { name: 'Apollo' } });
    await writer.tasks.create({ data: { title: 'one', projectId: 'p1' } });
    await until(reader, () => reader.tasks.getCount() === 1);

    const results: Array<readonly Task[]> = [];
    const values: Array<[Task[], Task[]]> = [];
    const stop = reader.subscribe(
      (a) => {
        const rows = a.tasks.getAll({ where: { status: 'todo' }, orderBy: { title: 'asc' } });
        results.push(rows);
        return rows;
      },
      (value, previous) => values.push([value, previous]),
    );
    const held = results.at(-1)!;
    // Outside the selector, getAll with the same options is served by the same live query.
    expect(reader.tasks.getAll({ where: { status: 'todo' }, orderBy: { title: 'asc' } })).toBe(held);
    expect(reader.tasks.getCount({ where: { status: 'todo' } })).toBe(1);

    // A change outside the filter: the selector runs again and gets the very same array.
    const runs = results.length;
    const done = await writer.tasks.create({ data: { title: 'elsewhere', status: 'done', projectId: 'p1' } });
    await until(reader, () => reader.tasks.get(done.id));
    expect(results.length).toBeGreaterThan(runs);
    for (const r of results.slice(runs)) expect(r).toBe(held);
    expect(values).toEqual([]);

    // A change inside it: a new array, once.
    await writer.tasks.create({ data: { title: 'two', projectId: 'p1' } });
    await until(reader, () => values.length > 0);
    expect(values).toHaveLength(1);
    expect(values[0]![1]).toBe(held);
    expect(titles(values[0]![0])).toEqual(['one', 'two']);
    expect(Object.isFrozen(values[0]![0])).toBe(true);

    // Unsubscribed: the live query is released, getAll scans again (a new array each call).
    stop();
    const a = reader.tasks.getAll({ where: { status: 'todo' }, orderBy: { title: 'asc' } });
    expect(a).toEqual(values[0]![0]);
    expect(reader.tasks.getAll({ where: { status: 'todo' }, orderBy: { title: 'asc' } })).not.toBe(a);
  });

  test('the writer’s own change and receipt retire its pending write in one pass: two flushes per update, not three', async () => {
    const e = await engine();
    const writer = await client(e);
    await writer.projects.create({ id: 'p1', data: { name: 'Apollo' } });
    const t = await writer.tasks.create({ data: { title: 'Ship', projectId: 'p1' } });
    const q = writer.tasks.live();
    const seen = record(q);
    const updated = await writer.tasks.update({ id: t.id, data: { title: 'Ship it' } });
    // The optimistic row, then the engine's row (its change); the receipt changes nothing.
    expect(seen.calls()).toBe(2);
    expect(q.rows).toEqual([updated]);
    expect(updated.syncId).toBeGreaterThan(t.syncId);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.calls()).toBe(2);
    q.dispose();
  });
});

describe('LocalStore: one pass per pending write', () => {
  const row = (id: string, syncId: number, title: string): RowData => ({ id, createdAt: 'c', updatedAt: `u${syncId}`, syncId, title });
  const flushed = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

  test('the own change retires the commit from the row; the receipt recomputes nothing and flushes nothing', async () => {
    const store = new LocalStore(['tasks'], () => ['title']);
    const flushes: Array<Array<[string, unknown, unknown]>> = [];
    store.onFlush((f) => flushes.push(f.deltas.map((d) => [d.id, d.before?.title, d.after?.title])));
    let changeCalls = 0;
    store.onChange(() => changeCalls++);
    store.applyChanges([{ syncId: 1, model: 'tasks', id: 't1', action: 'create', fields: [], data: row('t1', 1, 'a'), groups: ['g'], participant: { kind: 'user', id: 'u' }, clientTxId: null, at: '' }], new Set(['g']));
    await flushed();
    store.addPending({ clientTxId: 'tx1', operations: [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'b' } }], ids: ['t1'], at: 'now' });
    await flushed();
    const confirmed = row('t1', 2, 'b');
    store.applyChanges([{ syncId: 2, model: 'tasks', id: 't1', action: 'update', fields: ['title'], data: confirmed, groups: ['g'], participant: { kind: 'user', id: 'u' }, clientTxId: 'tx1', at: '' }], new Set(['g']));
    expect(store.get('tasks', 't1')).toBe(confirmed);
    await flushed();
    expect(store.removePending('tx1')?.clientTxId).toBe('tx1');
    await flushed();
    expect(store.get('tasks', 't1')).toBe(confirmed);
    expect(flushes).toEqual([[['t1', undefined, 'a']], [['t1', 'a', 'b']], [['t1', 'b', 'b']]]);
    expect(changeCalls).toBe(3);
  });

  test('another commit still pending on the row stays on top of the confirmed row', async () => {
    const store = new LocalStore(['tasks'], () => ['title', 'n']);
    store.applyChanges([{ syncId: 1, model: 'tasks', id: 't1', action: 'create', fields: [], data: { ...row('t1', 1, 'a'), n: 0 }, groups: ['g'], participant: { kind: 'user', id: 'u' }, clientTxId: null, at: '' }], new Set(['g']));
    store.addPending({ clientTxId: 'tx1', operations: [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'b' } }], ids: ['t1'], at: 'now' });
    store.addPending({ clientTxId: 'tx2', operations: [{ op: 'update', model: 'tasks', id: 't1', data: { n: 5 } }], ids: ['t1'], at: 'now' });
    store.applyChanges([{ syncId: 2, model: 'tasks', id: 't1', action: 'update', fields: ['title'], data: { ...row('t1', 2, 'b'), n: 0 }, groups: ['g'], participant: { kind: 'user', id: 'u' }, clientTxId: 'tx1', at: '' }], new Set(['g']));
    expect(store.get('tasks', 't1')).toMatchObject({ title: 'b', n: 5, syncId: 2 });
    store.removePending('tx1');
    expect(store.get('tasks', 't1')).toMatchObject({ title: 'b', n: 5 });
    // tx2 rejected: back to the confirmed row.
    store.removePending('tx2');
    expect(store.get('tasks', 't1')).toMatchObject({ title: 'b', n: 0, syncId: 2 });
    await flushed();
  });
});

describe('comparing live results', () => {
  test('a bootstrap that brings the same rows again: a new array, structurally equal to the one before (listeners of subscribe stay quiet)', async () => {
    const store = new LocalStore(['tasks'], () => ['title']);
    const registry = new LiveRegistry(store);
    const rows = [1, 2, 3].map((i): RowData => ({ id: `t${i}`, createdAt: 'c', updatedAt: 'u', syncId: i, title: `task ${i}` }));
    const bootstrap = (list: RowData[]): void => {
      store.beginBootstrap();
      store.addBootstrapRows('tasks', list);
      store.finishBootstrap(3);
    };
    bootstrap(rows);
    const q = { orderBy: [{ field: 'title', direction: 'desc' as const }] };
    const key = liveKey('tasks', q);
    const core = registry.acquire(key, () => new LiveCore('tasks', key, whereKey('tasks', undefined), q, store.rows('tasks')));
    await Promise.resolve();
    const r1 = core.rows;
    bootstrap(rows.map((r) => ({ ...r })));
    await Promise.resolve();
    const r2 = core.rows;
    expect(r2).not.toBe(r1);
    expect(deepEqual(r1, r2)).toBe(true);
    store.applyChanges([{ syncId: 4, model: 'tasks', id: 't2', action: 'update', fields: ['title'], data: { ...rows[1]!, syncId: 4, title: 'task 2b' }, groups: ['g'], participant: { kind: 'user', id: 'u' }, clientTxId: null, at: '' }], new Set(['g']));
    await Promise.resolve();
    const r3 = core.rows;
    expect(deepEqual(r2, r3)).toBe(false);
    expect(deepEqual(r3, r2)).toBe(false);
    expect(deepEqual(r1, r3)).toBe(false); // not consecutive: compared element by element
    expect(deepEqual([...r3], r3)).toBe(true);
    registry.release(core);
  });
});

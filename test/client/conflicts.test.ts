/**
 * `ablo.conflicts`: writes of this client the engine held (`onStale: 'notify'`, undo included), on a real engine
 * with two SDK clients; resolving them writes (or keeps) values that both clients then read.
 */
import { describe, expect, test } from 'vitest';
import type { Conflict } from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { sdkKit, until } from '../helpers/sdk.js';

const schema = defineSchema({
  tasks: model({
    title: z.string(),
    status: z.enum(['todo', 'doing', 'done']).default('todo'),
    assignee: z.string().nullable().default(null),
  }),
});

const kit = sdkKit(schema, { syncGroups: ['default'] });

const pair = () => kit.pair();

/** A writes a task; B changes `title` after A's snapshot; returns A's stale stamp. */
async function staleTask(a: Awaited<ReturnType<typeof pair>>['a'], b: Awaited<ReturnType<typeof pair>>['b']) {
  const t = await a.tasks.create({ data: { title: 'Draft' } });
  const stamp = a.snapshot().stamp;
  await until(b, () => b.tasks.get(t.id));
  await b.tasks.update({ id: t.id, data: { title: 'Ben’s title' } });
  await until(a, () => a.tasks.get(t.id)?.title === 'Ben’s title');
  return { id: t.id, stamp };
}

describe('conflicts', () => {
  test('a held update is listed with what A tried and B’s value; resolve mine writes A’s value over B’s', async () => {
    const { a, b } = await pair();
    const { id, stamp } = await staleTask(a, b);
    const notified: string[] = [];
    a.on('conflict:notified', ({ clientTxId }) => notified.push(clientTxId));
    const outcome = await a.tasks.update({ id, data: { title: 'Ana’s title', status: 'doing' }, readAt: stamp, onStale: 'notify' });
    expect(outcome.status).toBe('held');

    const list = a.conflicts.list();
    expect(list).toHaveLength(1);
    const c = list[0]!;
    expect(c).toMatchObject({
      model: 'tasks',
      rowId: id,
      fields: ['title'],
      mine: { title: 'Ana’s title', status: 'doing' },
      theirs: { title: 'Ben’s title' },
    });
    expect(c.id).toBe(`${c.clientTxId}:tasks:${id}`);
    expect(notified).toEqual([c.clientTxId]);
    expect(c.notification.currentValues).toEqual({ title: 'Ben’s title' });
    expect(Number.isNaN(Date.parse(c.at))).toBe(false);
    // Held: nothing of it was written.
    expect(a.tasks.get(id)).toMatchObject({ title: 'Ben’s title', status: 'todo' });

    await a.conflicts.resolve(c.id, 'mine');
    expect(a.conflicts.list()).toEqual([]);
    await until(b, () => b.tasks.get(id)?.title === 'Ana’s title');
    const row = await b.tasks.retrieve({ id });
    expect({ title: row.title, status: row.status }).toEqual({ title: 'Ana’s title', status: 'doing' });
  });

  test('resolve theirs keeps B’s row as it is and writes nothing', async () => {
    const { a, b } = await pair();
    const { id, stamp } = await staleTask(a, b);
    await a.tasks.update({ id, data: { title: 'Ana’s title' }, readAt: stamp, onStale: 'notify' });
    const [c] = a.conflicts.list();
    const before = await b.tasks.retrieve({ id });
    await a.conflicts.resolve(c!.id, 'theirs');
    expect(a.conflicts.list()).toEqual([]);
    const after = await b.tasks.retrieve({ id });
    expect({ title: after.title, syncId: after.syncId }).toEqual({ title: 'Ben’s title', syncId: before.syncId });
  });

  test('a disjoint-field notify write applies and lists nothing', async () => {
    const { a, b } = await pair();
    const { id, stamp } = await staleTask(a, b);
    const outcome = await a.tasks.update({ id, data: { status: 'done' }, readAt: stamp, onStale: 'notify' });
    expect(outcome.status).toBe('applied');
    expect(a.conflicts.list()).toEqual([]);
    const row = await b.tasks.retrieve({ id });
    expect({ title: row.title, status: row.status }).toEqual({ title: 'Ben’s title', status: 'done' });
  });

  test('a held delete lists mine as null; resolve mine deletes the row', async () => {
    const { a, b } = await pair();
    const { id, stamp } = await staleTask(a, b);
    const outcome = await a.tasks.delete({ id, readAt: stamp, onStale: 'notify' });
    expect(outcome.status).toBe('held');
    const [c] = a.conflicts.list();
    expect(c).toMatchObject({ rowId: id, mine: null, fields: ['title'], theirs: { title: 'Ben’s title' } });
    await a.conflicts.resolve(c!.id, 'mine');
    await until(b, () => b.tasks.get(id) === undefined);
    await expect(b.tasks.retrieve({ id })).rejects.toMatchObject({ code: 'row_not_found' });
  });

  test('dismiss drops a conflict; subscribe and subscription selectors see each change of the list', async () => {
    const { a, b } = await pair();
    const { id, stamp } = await staleTask(a, b);
    const lists: Array<readonly Conflict[]> = [];
    const off = a.conflicts.subscribe((l) => lists.push(l));
    const counts: number[] = [];
    const stop = a.subscribe(
      (x) => x.conflicts.list().length,
      (n) => counts.push(n),
    );
    await a.tasks.update({ id, data: { title: 'one' }, readAt: stamp, onStale: 'notify' });
    await a.tasks.update({ id, data: { title: 'two' }, readAt: stamp, onStale: 'notify' });
    expect(a.conflicts.list().map((c) => c.mine)).toEqual([{ title: 'one' }, { title: 'two' }]);
    const same = a.conflicts.list();
    expect(a.conflicts.list()).toBe(same); // the same array until the list changes
    a.conflicts.dismiss(same[0]!.id);
    expect(a.conflicts.list().map((c) => c.mine)).toEqual([{ title: 'two' }]);
    off();
    stop();
    expect(lists.map((l) => l.length)).toEqual([1, 2, 1]);
    expect(counts).toEqual([1, 2, 1]);
    expect((await b.tasks.retrieve({ id })).title).toBe('Ben’s title');
  });

  test('a held undo of a delete (B re-created the id) is listed; resolve mine writes A’s values over B’s row', async () => {
    const { a, b } = await pair();
    const t = await a.tasks.create({ data: { title: 'Ana’s', status: 'doing' } });
    await a.tasks.delete({ id: t.id });
    await until(b, () => b.tasks.get(t.id) === undefined);
    await b.tasks.create({ id: t.id, data: { title: 'Ben’s', assignee: 'ben' } });
    await until(a, () => a.tasks.get(t.id));

    const outcome = await a.undo();
    expect(outcome.status).toBe('held');
    const [c] = a.conflicts.list();
    expect(c).toMatchObject({ rowId: t.id, mine: { title: 'Ana’s', status: 'doing', assignee: null } });
    expect(c!.theirs).toMatchObject({ title: 'Ben’s', assignee: 'ben' });
    expect((await b.tasks.retrieve({ id: t.id })).title).toBe('Ben’s');

    await a.conflicts.resolve(c!.id, 'mine');
    const row = await b.tasks.retrieve({ id: t.id });
    expect({ title: row.title, status: row.status, assignee: row.assignee }).toEqual({ title: 'Ana’s', status: 'doing', assignee: null });
  });

  test('resolve mine that the engine refuses keeps the conflict and throws the typed error', async () => {
    const { a, b } = await pair();
    const { id, stamp } = await staleTask(a, b);
    await a.tasks.update({ id, data: { title: 'Ana’s title' }, readAt: stamp, onStale: 'notify' });
    const [c] = a.conflicts.list();
    await b.tasks.delete({ id });
    await until(a, () => a.tasks.get(id) === undefined);
    await expect(a.conflicts.resolve(c!.id, 'mine')).rejects.toMatchObject({ type: 'not_found', code: 'row_not_found' });
    expect(a.conflicts.list().map((x) => x.id)).toEqual([c!.id]);
  });
});

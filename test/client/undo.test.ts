/**
 * Undo and redo of a client's own writes, on a real engine with two SDK clients (A and B, each its own socket):
 * inverses are guarded by readAt + notify, so B's later changes are held, never clobbered.
 */
import { describe, expect, test } from 'vitest';
import Ablo, { AbloValidationError } from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { relay } from '../helpers/relay.js';
import { sdkKit, until } from '../helpers/sdk.js';

const schema = defineSchema({
  tasks: model({
    title: z.string(),
    status: z.enum(['todo', 'doing', 'done']).default('todo'),
    note: z.string().optional(),
    assignee: z.string().nullable().default(null),
  }),
});

const kit = sdkKit(schema, { syncGroups: ['default'] });

const pair = () => kit.pair();

/** A creates a task and retitles it 'Mine'; then B retitles it 'Ben’s', and A has seen that. */
async function titleMineThenBens(a: Awaited<ReturnType<typeof pair>>['a'], b: Awaited<ReturnType<typeof pair>>['b']) {
  const t = await a.tasks.create({ data: { title: 'Draft' } });
  await a.tasks.update({ id: t.id, data: { title: 'Mine' } });
  await until(b, () => b.tasks.get(t.id)?.title === 'Mine');
  await b.tasks.update({ id: t.id, data: { title: 'Ben’s' } });
  await until(a, () => a.tasks.get(t.id)?.title === 'Ben’s');
  return t;
}

describe('undo and redo', () => {
  test('undo reverts A’s edit, and B sees it', async () => {
    const { a, b } = await pair();
    const t = await a.tasks.create({ data: { title: 'Draft' } });
    await a.tasks.update({ id: t.id, data: { title: 'Final', status: 'doing' } });
    await until(b, () => b.tasks.get(t.id)?.title === 'Final');
    expect(a.undoState()).toEqual({ canUndo: true, canRedo: false, undoDepth: 2, redoDepth: 0 });

    const outcome = await a.undo();
    expect(outcome.status).toBe('applied');
    expect(a.tasks.get(t.id)).toMatchObject({ title: 'Draft', status: 'todo' });
    await until(b, () => b.tasks.get(t.id)?.title === 'Draft');
    expect(b.tasks.get(t.id)).toMatchObject({ title: 'Draft', status: 'todo' });
    expect(a.undoState()).toEqual({ canUndo: true, canRedo: true, undoDepth: 1, redoDepth: 1 });
  });

  test('two edits of one field undo one after the other (A’s own undo does not hold the next)', async () => {
    const { a, b } = await pair();
    const t = await a.tasks.create({ data: { title: 'one' } });
    await a.tasks.update({ id: t.id, data: { title: 'two' } });
    await a.tasks.update({ id: t.id, data: { title: 'three' } });
    expect((await a.undo()).status).toBe('applied');
    expect(a.tasks.get(t.id)?.title).toBe('two');
    expect((await a.undo()).status).toBe('applied');
    expect(a.tasks.get(t.id)?.title).toBe('one');
    expect((await a.redo()).status).toBe('applied');
    expect((await a.redo()).status).toBe('applied');
    expect(a.tasks.get(t.id)?.title).toBe('three');
    const row = await b.tasks.retrieve({ id: t.id });
    expect(row.title).toBe('three');
    expect(a.conflicts.list()).toEqual([]);
  });

  test('undo of a field B changed since is held: B’s value stays, the conflict lists it, the entry is dropped', async () => {
    const { a, b } = await pair();
    const t = await titleMineThenBens(a, b);

    const outcome = await a.undo();
    expect(outcome.status).toBe('held');
    if (outcome.status !== 'held') throw new Error('unreachable');
    expect(outcome.notifications).toHaveLength(1);
    expect(outcome.notifications[0]).toMatchObject({ model: 'tasks', id: t.id, conflictingFields: ['title'], currentValues: { title: 'Ben’s' } });
    expect(a.tasks.get(t.id)?.title).toBe('Ben’s');
    expect((await b.tasks.retrieve({ id: t.id })).title).toBe('Ben’s');
    const [conflict] = a.conflicts.list();
    expect(a.conflicts.list()).toHaveLength(1);
    expect(conflict).toMatchObject({ model: 'tasks', rowId: t.id, fields: ['title'], mine: { title: 'Draft' }, theirs: { title: 'Ben’s' } });
    expect(conflict!.notification.writtenBy?.kind).toBe('system');
    expect(conflict!.notification.onBehalfOf).toEqual({ kind: 'user', id: 'ben' });
    // The held entry is gone; the create below it is next.
    expect(a.undoState()).toEqual({ canUndo: true, canRedo: false, undoDepth: 1, redoDepth: 0 });
  });

  test('a later edit by A does not carry an older entry past B’s change: undoing that older entry is held', async () => {
    const { a, b } = await pair();
    const t = await titleMineThenBens(a, b);
    await a.tasks.update({ id: t.id, data: { status: 'doing' } });

    expect((await a.undo()).status).toBe('applied'); // status: nobody else touched it
    const held = await a.undo(); // title: Ben changed it after A did
    expect(held.status).toBe('held');
    const row = await b.tasks.retrieve({ id: t.id });
    expect({ title: row.title, status: row.status }).toEqual({ title: 'Ben’s', status: 'todo' });
    expect(a.conflicts.list().map((c) => ({ fields: c.fields, mine: c.mine, theirs: c.theirs }))).toEqual([
      { fields: ['title'], mine: { title: 'Draft' }, theirs: { title: 'Ben’s' } },
    ]);
  });

  test('a field B changed that the undo does not touch: the undo applies and B’s change stays', async () => {
    const { a, b } = await pair();
    const t = await a.tasks.create({ data: { title: 'Draft' } });
    await a.tasks.update({ id: t.id, data: { title: 'Mine' } });
    await until(b, () => b.tasks.get(t.id)?.title === 'Mine');
    await b.tasks.update({ id: t.id, data: { status: 'done' } });
    await until(a, () => a.tasks.get(t.id)?.status === 'done');

    expect((await a.undo()).status).toBe('applied');
    const row = await b.tasks.retrieve({ id: t.id });
    expect({ title: row.title, status: row.status }).toEqual({ title: 'Draft', status: 'done' });
    expect(a.conflicts.list()).toEqual([]);
  });

  test('undo of a create deletes the row; redo creates it again with the same id and values', async () => {
    const { a, b } = await pair();
    const t = await a.tasks.create({ data: { title: 'New', status: 'doing' } });
    await until(b, () => b.tasks.get(t.id));
    expect((await a.undo()).status).toBe('applied');
    expect(a.tasks.get(t.id)).toBeUndefined();
    await until(b, () => b.tasks.get(t.id) === undefined);
    expect(b.tasks.getAll()).toEqual([]);

    expect((await a.redo()).status).toBe('applied');
    const again = await until(b, () => b.tasks.get(t.id));
    expect({ id: again.id, title: again.title, status: again.status, assignee: again.assignee }).toEqual({ id: t.id, title: 'New', status: 'doing', assignee: null });
  });

  test('undo of a create that B edited since is held (guarded), and the row stays', async () => {
    const { a, b } = await pair();
    const t = await a.tasks.create({ data: { title: 'New' } });
    await until(b, () => b.tasks.get(t.id));
    await b.tasks.update({ id: t.id, data: { assignee: 'ben' } });
    await until(a, () => a.tasks.get(t.id)?.assignee === 'ben');
    const outcome = await a.undo();
    expect(outcome.status).toBe('held');
    expect((await b.tasks.retrieve({ id: t.id })).assignee).toBe('ben');
    expect(a.conflicts.list().map((c) => ({ rowId: c.rowId, mine: c.mine, fields: c.fields }))).toEqual([{ rowId: t.id, mine: null, fields: ['assignee'] }]);
  });

  test('undo of a delete re-creates the row with its id and last values; redo deletes it again', async () => {
    const { a, b } = await pair();
    const t = await a.tasks.create({ data: { title: 'Keep me', status: 'done', note: 'n1', assignee: 'ana' } });
    await a.tasks.update({ id: t.id, data: { title: 'Kept' } });
    await a.tasks.delete({ id: t.id });
    await until(b, () => b.tasks.get(t.id) === undefined);

    expect((await a.undo()).status).toBe('applied');
    const back = await until(b, () => b.tasks.get(t.id));
    expect({ id: back.id, title: back.title, status: back.status, note: back.note, assignee: back.assignee }).toEqual({
      id: t.id,
      title: 'Kept',
      status: 'done',
      note: 'n1',
      assignee: 'ana',
    });
    // Undoing further walks back through the update of the re-created row.
    expect((await a.undo()).status).toBe('applied');
    expect(a.tasks.get(t.id)?.title).toBe('Keep me');
    expect((await a.redo()).status).toBe('applied');
    expect((await a.redo()).status).toBe('applied');
    await until(b, () => b.tasks.get(t.id) === undefined);
    await expect(b.tasks.retrieve({ id: t.id })).rejects.toMatchObject({ code: 'row_not_found' });
  });

  test('a new write clears the redo stack', async () => {
    const { a } = await pair();
    const t = await a.tasks.create({ data: { title: 'x' } });
    await a.tasks.update({ id: t.id, data: { title: 'y' } });
    await a.undo();
    expect(a.undoState()).toMatchObject({ undoDepth: 1, redoDepth: 1 });
    await a.tasks.update({ id: t.id, data: { status: 'doing' } });
    expect(a.undoState()).toEqual({ canUndo: true, canRedo: false, undoDepth: 2, redoDepth: 0 });
    expect(await a.redo()).toEqual({ status: 'empty' });
    expect(a.tasks.get(t.id)).toMatchObject({ title: 'x', status: 'doing' });
  });

  test('B claims the row: A’s undo returns claimed with B as holder, nothing is written, the entry stays', async () => {
    const { a, b } = await pair();
    const t = await a.tasks.create({ data: { title: 'Draft' } });
    await a.tasks.update({ id: t.id, data: { title: 'Mine' } });
    await until(b, () => b.tasks.get(t.id)?.title === 'Mine');
    const claim = await b.tasks.claim({ id: t.id, action: 'editing' });

    const outcome = await a.undo();
    expect(outcome).toEqual({ status: 'claimed', model: 'tasks', id: t.id, holder: { kind: 'user', id: 'ben' } });
    expect(a.tasks.get(t.id)?.title).toBe('Mine');
    expect((await b.tasks.retrieve({ id: t.id })).title).toBe('Mine');
    expect(a.undoState()).toEqual({ canUndo: true, canRedo: false, undoDepth: 2, redoDepth: 0 });

    await claim.release();
    expect((await a.undo()).status).toBe('applied');
    expect((await b.tasks.retrieve({ id: t.id })).title).toBe('Draft');
  });

  test('scopes are independent, and undoScope: false is not recorded', async () => {
    const { a } = await pair();
    const t = await a.tasks.create({ data: { title: 't' }, undoScope: 'board' });
    await a.tasks.update({ id: t.id, data: { status: 'doing' }, undoScope: 'board' });
    await a.tasks.update({ id: t.id, data: { title: 'renamed' }, undoScope: 'editor' });
    await a.tasks.update({ id: t.id, data: { assignee: 'ana' }, undoScope: false });
    await a.commits.create({ operations: [{ op: 'update', model: 'tasks', id: t.id, data: { note: 'by commit' } }] });
    expect(a.undoState()).toEqual({ canUndo: false, canRedo: false, undoDepth: 0, redoDepth: 0 });
    expect(a.undoState('board')).toMatchObject({ undoDepth: 2 });
    expect(a.undoState('editor')).toMatchObject({ undoDepth: 1 });
    expect(await a.undo()).toEqual({ status: 'empty' });

    expect((await a.undo('board')).status).toBe('applied');
    expect(a.tasks.get(t.id)).toMatchObject({ title: 'renamed', status: 'todo', assignee: 'ana', note: 'by commit' });
    expect((await a.undo('editor')).status).toBe('applied');
    expect(a.tasks.get(t.id)).toMatchObject({ title: 't', status: 'todo', assignee: 'ana', note: 'by commit' });
    expect(a.undoState('editor')).toEqual({ canUndo: false, canRedo: true, undoDepth: 0, redoDepth: 1 });
    expect(a.undoState('board')).toEqual({ canUndo: true, canRedo: true, undoDepth: 1, redoDepth: 1 });
  });

  test('concurrent undo calls run one after another; a queued write is undone, not the one before it', async () => {
    const { a } = await pair();
    const t = await a.tasks.create({ data: { title: '0' } });
    await a.tasks.update({ id: t.id, data: { title: '1' } });
    void a.tasks.update({ id: t.id, data: { title: '2' }, wait: 'queued' });
    const [first, second] = await Promise.all([a.undo(), a.undo()]);
    expect([first.status, second.status]).toEqual(['applied', 'applied']);
    expect(a.tasks.get(t.id)?.title).toBe('0');
    expect(a.undoState()).toMatchObject({ undoDepth: 1, redoDepth: 2 });
  });

  test('the stack is bounded by undoLimit', async () => {
    const e = await kit.engine();
    const a = await kit.client(e, { undoLimit: 2 });
    const t = await a.tasks.create({ data: { title: '0' } });
    for (const title of ['1', '2', '3']) await a.tasks.update({ id: t.id, data: { title } });
    expect(a.undoState()).toMatchObject({ undoDepth: 2 });
    await a.undo();
    await a.undo();
    expect(await a.undo()).toEqual({ status: 'empty' });
    expect(a.tasks.get(t.id)?.title).toBe('1');
    expect(() => Ablo({ schema, apiKey: e.apiKey, baseURL: e.url, undoLimit: 0 })).toThrow(AbloValidationError);
  });

  test('undoState changes re-run subscriptions', async () => {
    const { a } = await pair();
    const seen: boolean[] = [];
    const stop = a.subscribe(
      (x) => x.undoState().canUndo,
      (canUndo) => seen.push(canUndo),
    );
    const t = await a.tasks.create({ data: { title: 'x' } });
    await a.undo();
    stop();
    expect(seen).toEqual([true, false]);
    expect(a.tasks.get(t.id)).toBeUndefined();
  });

  test('a bad scope is a typed error', async () => {
    const { a } = await pair();
    await expect(a.undo('')).rejects.toMatchObject({ type: 'validation_error', code: 'invalid_option' });
    await expect(a.tasks.create({ data: { title: 'x' }, undoScope: 42 as unknown as string })).rejects.toMatchObject({ code: 'invalid_option' });
    expect(a.tasks.getAll()).toEqual([]);
  });

  test('undo made offline waits for the engine like any write, then says what it did', async () => {
    const e = await kit.engine();
    const link = await relay(Number(new URL(e.url).port));
    kit.cleanups.push(() => link.cut());
    const a = await kit.client(e, { baseURL: link.url });
    const b = await kit.client(e);
    const t = await a.tasks.create({ data: { title: 'before' } });
    await a.tasks.update({ id: t.id, data: { title: 'after' } });
    await link.cut();
    await until(a, () => a.status !== 'live');
    let settled = false;
    const pending = a.undo().finally(() => {
      settled = true;
    });
    await until(a, () => a.tasks.get(t.id)?.title === 'before'); // optimistic, as any write
    expect(settled).toBe(false);
    expect((await b.tasks.retrieve({ id: t.id })).title).toBe('after');
    await link.restore();
    expect((await pending).status).toBe('applied');
    expect((await b.tasks.retrieve({ id: t.id })).title).toBe('before');
    expect(a.undoState()).toMatchObject({ undoDepth: 1, redoDepth: 1 });
  });
});

import { describe, expectTypeOf, test } from 'vitest';
import Ablo, { type Conflict, type ParticipantRef, type StaleNotification, type UndoOutcome, type UndoState } from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';

const schema = defineSchema({ tasks: model({ title: z.string(), status: z.enum(['todo', 'done']).default('todo') }) });
const ablo = Ablo({ schema, apiKey: 'sk_test_x', baseURL: 'http://127.0.0.1:4100', undoLimit: 50 });

describe('undo, redo and conflicts are typed', () => {
  test('outcomes narrow on status', async () => {
    expectTypeOf(ablo.undo()).resolves.toEqualTypeOf<UndoOutcome>();
    expectTypeOf(ablo.redo('editor')).resolves.toEqualTypeOf<UndoOutcome>();
    expectTypeOf(ablo.undoState()).toEqualTypeOf<UndoState>();
    const outcome = await ablo.undo();
    if (outcome.status === 'held') expectTypeOf(outcome.notifications).toEqualTypeOf<StaleNotification[]>();
    if (outcome.status === 'claimed') expectTypeOf(outcome.holder).toEqualTypeOf<ParticipantRef | null>();
    // @ts-expect-error: a scope is a string
    void ablo.undo(1);
  });

  test('undoScope is a string or false on every write', () => {
    void ablo.tasks.create({ data: { title: 'x' }, undoScope: 'board' });
    void ablo.tasks.update({ id: 't', data: { title: 'y' }, undoScope: false });
    void ablo.tasks.delete({ id: 't', undoScope: 'board' });
    // @ts-expect-error: true is not a scope
    void ablo.tasks.update({ id: 't', data: { title: 'y' }, undoScope: true });
    // @ts-expect-error: undoLimit is a number
    void Ablo({ schema, undoLimit: 'many' });
  });

  test('conflicts', () => {
    expectTypeOf(ablo.conflicts.list()).toEqualTypeOf<readonly Conflict[]>();
    expectTypeOf(ablo.conflicts.resolve('c', 'mine')).resolves.toEqualTypeOf<void>();
    // @ts-expect-error: mine or theirs
    void ablo.conflicts.resolve('c', 'both');
    expectTypeOf<Conflict['mine']>().toEqualTypeOf<Record<string, unknown> | null>();
  });
});

/**
 * The commit path's seams: `planCommit` decides from explicit inputs and a
 * read port into a real SQLite transaction, writing nothing; the engine's
 * `commit` event and its sync id come from the storage's change feed.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { AbloClaimedError } from '../../src/errors.js';
import { planCommit, type CommitPlan } from '../../src/engine/commit.js';
import type { EngineCommitEvent } from '../../src/engine/index.js';
import type { ChangeBatch, Storage } from '../../src/engine/storage/types.js';
import { compileSchema } from '../../src/schema/compile.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { insertRows, push, useTempStorage } from './storage/helpers.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), status: z.enum(['todo', 'done']).default('todo'), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
});
const compiled = compileSchema(schema.serialized);
const participant = { kind: 'agent' as const, id: 'a1' };
const now = new Date('2024-03-01T00:00:00.000Z');

const t = useTempStorage();

async function ready(): Promise<Storage> {
  const s = await t.open();
  await push(s, schema.serialized);
  await insertRows(s, 'tasks', [{ id: 't1', title: 'one', status: 'todo', boardId: 'a' }]);
  return s;
}

/** Plan inside a real transaction, and check that planning wrote nothing. */
async function plan(s: Storage, input: Omit<Parameters<typeof planCommit>[0], 'schema' | 'now' | 'participant' | 'scope'>): Promise<CommitPlan> {
  const announced: ChangeBatch[] = [];
  const off = s.feed.subscribe((b) => announced.push(b));
  try {
    return await s.transaction(async (tx) => {
      const head = await tx.headSyncId();
      const result = await planCommit({ participant, scope: 'all', schema: compiled, now, ...input }, tx);
      expect(await tx.headSyncId()).toBe(head);
      expect(await tx.getIdempotency(input.request.idempotencyKey ?? '-')).toBeNull();
      return result;
    });
  } finally {
    off();
    expect(announced).toEqual([]);
    expect(await s.lastSyncId()).toBe(1);
  }
}

describe('planCommit', () => {
  test('plans changes without sync ids, each operation seeing the ones before it, and writes nothing', async () => {
    const s = await ready();
    const p = await plan(s, {
      request: {
        operations: [
          { op: 'create', model: 'tasks', id: 't2', data: { title: 'two', boardId: 'a' } },
          { op: 'update', model: 'tasks', id: 't2', data: { boardId: 'b' } },
          { op: 'update', model: 'tasks', id: 't1', data: { status: 'done' }, readAt: 1 },
          { op: 'delete', model: 'tasks', id: 't1' },
        ],
        idempotencyKey: 'k1',
      },
    });
    expect(p.kind).toBe('write');
    if (p.kind !== 'write') return;
    expect(p.changes.map((c) => [c.action, c.id, c.groups, c.prevGroups])).toEqual([
      ['create', 't2', ['board:a'], undefined],
      ['update', 't2', ['board:b'], ['board:a']],
      ['update', 't1', ['board:a'], undefined],
      ['delete', 't1', ['board:a'], undefined],
    ]);
    expect(p.changes[1]).toMatchObject({ patch: { boardId: 'b' }, data: { id: 't2', title: 'two', boardId: 'b', syncId: 0, updatedAt: now.toISOString() } });
    expect(p.changes.every((c) => !('syncId' in c))).toBe(true);
    expect(p.results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect(p.idempotency).toMatchObject({ key: 'k1', requestHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await s.getRow('tasks', 't2')).toBeNull();
  });

  test('a row held by someone else (the claims state passed in) refuses the commit', async () => {
    const s = await ready();
    const asked: string[] = [];
    const claimCheck = (m: string, id: string): void => {
      asked.push(`${m}/${id}`);
      if (id === 't1') throw new AbloClaimedError('tasks t1 is claimed by user u9.', { code: 'row_claimed' });
    };
    await expect(
      plan(s, { request: { operations: [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'x' } }] }, claimCheck }),
    ).rejects.toMatchObject({ code: 'row_claimed' });
    expect(asked).toEqual(['tasks/t1']);
  });

  test('notify holds a stale operation with a notification and plans the rest', async () => {
    const s = await ready();
    await s.transaction(async (tx) => {
      await tx.write([
        {
          participant: { kind: 'user', id: 'u2' },
          clientTxId: null,
          commitId: 'cmt_x',
          at: now.toISOString(),
          model: 'tasks',
          id: 't1',
          action: 'update',
          fields: ['title'],
          data: { id: 't1', createdAt: now.toISOString(), updatedAt: now.toISOString(), syncId: 0, title: 'theirs', status: 'todo', boardId: 'a' },
          patch: { title: 'theirs' },
          groups: ['board:a'],
        },
      ]);
    });
    const p = await s.transaction((tx) =>
      planCommit(
        {
          participant,
          scope: 'all',
          schema: compiled,
          now,
          request: {
            operations: [
              { op: 'update', model: 'tasks', id: 't1', data: { title: 'mine' }, readAt: 1, onStale: 'notify' },
              { op: 'create', model: 'tasks', id: 't3', data: { title: 'three', boardId: 'a' } },
            ],
          },
        },
        tx,
      ),
    );
    if (p.kind !== 'write') throw new Error('expected a write plan');
    expect(p.results.map((r) => [r.id, r.status])).toEqual([
      ['t1', 'held'],
      ['t3', 'applied'],
    ]);
    expect(p.changes.map((c) => c.id)).toEqual(['t3']);
    expect(p.notifications).toEqual([
      expect.objectContaining({ object: 'stale_notification', id: 't1', readAt: 1, observedSyncId: 2, conflictingFields: ['title'], currentValues: { title: 'theirs' } }),
    ]);
  });
});

describe('engine wiring: the change feed', () => {
  const engines: TestEngine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop()));
  });

  test("engine.on('commit') and engine.lastSyncId() follow the storage's feed", async () => {
    const e = await startTestEngine(schema);
    engines.push(e);
    const events: EngineCommitEvent[] = [];
    const batches: number[] = [];
    e.engine.on('commit', (ev) => events.push(ev));
    e.engine.storage.feed.subscribe((b) => batches.push(b.lastSyncId));
    const res = await e.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'tasks', id: 'a', data: { title: 'a', boardId: 'x' } },
        { op: 'create', model: 'tasks', id: 'b', data: { title: 'b', boardId: 'y' } },
      ],
    });
    expect(res.status).toBe(200);
    // Announced before the receipt came back.
    expect(events).toEqual([{ changes: 2, lastSyncId: 2, models: ['tasks'] }]);
    expect(batches).toEqual([2]);
    expect(e.engine.lastSyncId()).toBe(2);
    expect(e.engine.storage.feed.head()).toBe(2);
    expect(res.body.lastSyncId).toBe(2);
  });
});

/**
 * The change log as an audit trail: each change keeps the credential that
 * committed it and the participant its writer acted for (`onBehalfOf`), read
 * back by every read of the log (and by the stale guard, which names both),
 * and `changesWhere` filters the log by participant, model and row id.
 */
import { describe, expect, it } from 'vitest';
import { applyCommit } from '../../../../src/engine/commit/apply.js';
import type { ChangeFilter, ChangeRecord, Storage } from '../../../../src/engine/storage/types.js';
import { AbloStaleContextError } from '../../../../src/errors.js';
import type { Operation, ParticipantRef } from '../../../../src/protocol/commit.js';
import { compileSchema } from '../../../../src/schema/compile.js';
import { change, commit, T0, wholeLog, type ContractContext } from './harness.js';
import { groupSchema } from './groups.js';

const KEY: ParticipantRef = { kind: 'system', id: 'key_1' };
const ANA: ParticipantRef = { kind: 'user', id: 'ana' };
const BO: ParticipantRef = { kind: 'user', id: 'bo' };

/** The log entries `filter` matches, computed from the whole log (what `changesWhere` must answer). */
function expected(log: readonly ChangeRecord[], filter: ChangeFilter, after: number, limit: number): number[] {
  const same = (a: ParticipantRef | undefined, b: ParticipantRef): boolean => !!a && a.kind === b.kind && a.id === b.id;
  return log
    .filter((c) => c.syncId > after)
    .filter((c) => !filter.participant || same(c.participant, filter.participant) || same(c.onBehalfOf, filter.participant))
    .filter((c) => filter.model === undefined || c.model === filter.model)
    .filter((c) => filter.id === undefined || c.id === filter.id)
    .slice(0, limit)
    .map((c) => c.syncId);
}

/** Every entry `filter` matches, paged through `changesWhere` by `limit`. */
async function paged(s: Storage, filter: ChangeFilter, limit: number): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const page = await s.changesWhere(filter, out.at(-1) ?? 0, limit);
    expect(page.length).toBeLessThanOrEqual(limit);
    out.push(...page.map((c) => c.syncId));
    if (page.length < limit) return out;
  }
}

export function auditContract(ctx: ContractContext): void {
  describe('audit: credential and on-behalf-of participant', () => {
    it('stores the credential and the participant acted for with each change, and every read of the log gives them back', async () => {
      let s = await ctx.withSchema(groupSchema.serialized);
      // A session acting as itself, then a key acting for ana.
      await commit(s, [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'one', projectId: 'a' } }], { participant: BO, credentialId: 'ses_1' });
      const byKey = await commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'two' } }], {
        participant: KEY,
        onBehalfOf: ANA,
        credentialId: 'key_1',
      });
      expect(byKey.changes[0]).toMatchObject({ participant: KEY, onBehalfOf: ANA, credentialId: 'key_1' });
      // An entry appended by a tool, with neither: read back without them.
      await s.transaction((tx) => tx.appendChange(change(3, 'notes', 'n1', { groups: ['default'] })));

      const check = async (st: Storage): Promise<void> => {
        const log = await st.changesAfter(0, 10);
        expect(log[0]).toMatchObject({ participant: BO, credentialId: 'ses_1' });
        expect(log[0]).not.toHaveProperty('onBehalfOf');
        expect(log[1]).toEqual({ ...byKey.changes[0], participant: KEY, onBehalfOf: ANA, credentialId: 'key_1' });
        expect(log[2]).toEqual(change(3, 'notes', 'n1', { groups: ['default'] }));
        expect(log[2]).not.toHaveProperty('credentialId');
        expect(await st.feed.after(0, 10)).toEqual(log);
        expect(await st.changesInGroups(['project:a'], 0, 3, 10)).toEqual(log.slice(0, 2));
        await st.transaction(async (tx) => {
          expect(await tx.rowChangesAfter('tasks', 't1', 0)).toEqual([
            { syncId: 1, action: 'create', fields: log[0]!.fields, participant: BO },
            { syncId: 2, action: 'update', fields: ['title'], participant: KEY, onBehalfOf: ANA },
          ]);
          expect(await tx.groupChangeAfter('project:a', 1)).toEqual(log[1]);
        });
      };
      await check(s);
      s = await ctx.restart(s);
      await check(s);

      // The stale guard names who moved the row: the writer and whom it acted for.
      const err = await commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'late' }, readAt: 1 }], { participant: BO, credentialId: 'ses_1' }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AbloStaleContextError);
      expect((err as AbloStaleContextError).message).toContain('by system key_1 on behalf of user ana');
      expect((err as AbloStaleContextError).details).toMatchObject({ writtenBy: KEY, onBehalfOf: ANA });
      const held = await commit(s, [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'late' }, readAt: 1, onStale: 'notify' }]);
      expect(held.receipt.notifications).toEqual([expect.objectContaining({ writtenBy: KEY, onBehalfOf: ANA })]);
    });

    it('a unit without a savepoint (held back before COMMIT where the storage does) reads its own changes with them', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      const schema = compileSchema(groupSchema.serialized);
      const ops: Operation[] = [{ op: 'create', model: 'tasks', id: 't1', data: { title: 'x', projectId: 'a' } }];
      await s.transaction(async (tx) => {
        const run = () => applyCommit(tx, { request: { operations: ops }, participant: KEY, onBehalfOf: ANA, credentialId: 'key_1', scope: 'all' }, schema, new Date(T0));
        await (tx.unguarded ? tx.unguarded(run) : tx.savepoint(run));
        expect(await tx.rowChangesAfter('tasks', 't1', 0)).toEqual([expect.objectContaining({ participant: KEY, onBehalfOf: ANA })]);
        expect(await tx.groupChangeAfter('project:a', 0)).toMatchObject({ participant: KEY, onBehalfOf: ANA, credentialId: 'key_1' });
      });
      expect((await s.changesAfter(0, 10))[0]).toMatchObject({ participant: KEY, onBehalfOf: ANA, credentialId: 'key_1' });
    });

    it('changesWhere filters by participant (writer or acted for), model and row id, in sync-id order, paged by after and limit', async () => {
      const s = await ctx.withSchema(groupSchema.serialized);
      const writers = [
        { participant: KEY, onBehalfOf: ANA, credentialId: 'key_1' },
        { participant: ANA, credentialId: 'ses_a' },
        { participant: BO, credentialId: 'ses_b' },
        { participant: KEY, credentialId: 'key_1' },
        { participant: KEY, onBehalfOf: BO, credentialId: 'key_1' },
      ];
      for (let i = 0; i < 25; i++) {
        const w = writers[i % writers.length]!;
        const id = `r${i % 4}`;
        const ops: Operation[] =
          i < 4
            ? [
                { op: 'create', model: 'tasks', id, data: { title: `t${i}`, projectId: 'p' } },
                { op: 'create', model: 'notes', id, data: { body: `n${i}` } },
              ]
            : [{ op: 'update', model: i % 3 === 0 ? 'notes' : 'tasks', id, data: i % 3 === 0 ? { body: `n${i}` } : { title: `t${i}` } }];
        await commit(s, ops, w);
      }
      const log = await wholeLog(s);
      expect(log.length).toBe(29);
      const filters: ChangeFilter[] = [
        {},
        { participant: ANA },
        { participant: BO },
        { participant: KEY },
        { participant: { kind: 'agent', id: 'ana' } },
        { model: 'notes' },
        { model: 'gone' },
        { id: 'r1' },
        { model: 'tasks', id: 'r1' },
        { participant: ANA, model: 'tasks' },
        { participant: BO, model: 'notes', id: 'r2' },
      ];
      for (const filter of filters) {
        for (const limit of [1, 3, 100]) {
          expect(await paged(s, filter, limit), JSON.stringify({ filter, limit })).toEqual(expected(log, filter, 0, 1000));
        }
        expect((await s.changesWhere(filter, 10, 4)).map((c) => c.syncId)).toEqual(expected(log, filter, 10, 4));
      }
      // Ana's: what she wrote and what a key wrote for her; the entries are whole.
      const ana = await s.changesWhere({ participant: ANA }, 0, 100);
      expect(ana.length).toBeGreaterThan(4);
      expect(ana.some((c) => c.participant.id === 'key_1' && c.onBehalfOf?.id === 'ana')).toBe(true);
      expect(ana.some((c) => c.participant.id === 'ana' && c.onBehalfOf === undefined)).toBe(true);
      expect(ana).toEqual(log.filter((c) => ana.some((a) => a.syncId === c.syncId)));
      // An id names rows of every model unless the model is given.
      expect(new Set((await s.changesWhere({ id: 'r0' }, 0, 100)).map((c) => c.model))).toEqual(new Set(['tasks', 'notes']));
      expect(await s.changesWhere({ participant: ANA }, log.at(-1)!.syncId, 10)).toEqual([]);
      expect(await s.changesWhere({}, 0, 5)).toEqual(await s.changesAfter(0, 5));
    });
  });
}

/**
 * Property (issue 14): random principals × random operations never let a row
 * outside the principal's groups reach it, on any surface.
 *
 * Every row's title carries its group (`#team:t2#`), kept true by every write
 * the test makes. A principal is a session token with random group patterns
 * (exact teams, `team:t1*`, `team:*`) and random operations; it opens a
 * socket (random hello groups) and then makes random requests: get, list
 * (with and without `where`), the change log, creates, updates that move rows
 * between teams, deletes, commits with `reads[]`, claims, claim state, and
 * socket commits. Whatever comes back, on HTTP or the socket (bootstrap,
 * catch-up, fanout, receipts, errors), may name only groups the principal's
 * patterns allow; and a write the engine accepted kept its row inside them
 * before and after. Seed and count are printed; `FUZZ_SEED` replays.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { groupAllowed } from '../../src/engine/auth/guard.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';
import { fuzzParams, seed } from './harness.js';

const schema = defineSchema({
  cards: model({ title: z.string(), team: z.string() }, {}, { syncGroupFormat: 'team:{team}' }),
});
const TEAMS = ['t1', 't2', 't10', 'x9'] as const;
const mark = (team: string): string => `#team:${team}#`;
const ROW_IDS = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'];

let t: TestEngine;
beforeAll(async () => {
  t = await startTestEngine(schema);
  const res = await t.http('POST', '/v1/commits', {
    operations: ROW_IDS.slice(0, 6).map((id, i) => {
      const team = TEAMS[i % TEAMS.length]!;
      return { op: 'create', model: 'cards', id, data: { title: `card ${mark(team)}`, team } };
    }),
  });
  expect(res.status).toBe(200);
});
afterAll(async () => {
  await t?.stop();
});

type Op =
  | { kind: 'get' | 'delete' | 'claim' | 'claimState'; id: string }
  | { kind: 'list'; team: string | null }
  | { kind: 'changes'; after: number }
  | { kind: 'create'; id: string; team: string }
  | { kind: 'update'; id: string; team: string; via: 'patch' | 'commit' | 'socket' }
  | { kind: 'readsRow'; id: string; dep: string }
  | { kind: 'readsGroup'; id: string; team: string };

const team = fc.constantFrom(...TEAMS);
const rowId = fc.constantFrom(...ROW_IDS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('get' as const, 'delete' as const, 'claim' as const, 'claimState' as const), id: rowId }),
  fc.record({ kind: fc.constant('list' as const), team: fc.option(team, { nil: null }) }),
  fc.record({ kind: fc.constant('changes' as const), after: fc.nat({ max: 40 }) }),
  fc.record({ kind: fc.constant('create' as const), id: rowId, team }),
  fc.record({ kind: fc.constant('update' as const), id: rowId, team, via: fc.constantFrom('patch' as const, 'commit' as const, 'socket' as const) }),
  fc.record({ kind: fc.constant('readsRow' as const), id: rowId, dep: rowId }),
  fc.record({ kind: fc.constant('readsGroup' as const), id: rowId, team }),
);
const principalArb = fc.record({
  groups: fc.uniqueArray(fc.constantFrom('team:t1', 'team:t2', 'team:t1*', 'team:*', 'team:x9', 'team:t10'), { minLength: 1, maxLength: 3 }),
  operations: fc.uniqueArray(fc.constantFrom('read', 'create', 'update', 'delete', 'claim'), { minLength: 1, maxLength: 5 }),
  hello: fc.uniqueArray(team, { minLength: 1, maxLength: 3 }),
  /** A hello with lastSyncId catches up from there (the change log) instead of a bootstrap. */
  catchUpFrom: fc.option(fc.nat({ max: 30 }), { nil: undefined }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 8 }),
});

/** Every group a text names through the markers. */
function groupsNamed(text: string): string[] {
  return [...text.matchAll(/#team:([a-z0-9]+)#/g)].map((m) => `team:${m[1]}`);
}

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; text: string; body: any }> {
  const res = await t.http(method, path, body, { authorization: `Bearer ${token}` });
  return { status: res.status, text: JSON.stringify(res.body), body: res.body };
}

/** Team of a row right now, read with the secret key (null: no such row). */
async function teamOf(id: string): Promise<string | null> {
  const res = await t.http('GET', `/v1/models/cards/${id}`);
  return res.status === 200 ? `team:${res.body.team}` : null;
}

test('random principals × random operations: no row outside the principal\'s groups reaches it, on any surface', async () => {
  let requests = 0;
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(principalArb, async (p) => {
      const minted = await t.http('POST', '/v1/sessions', { participant: { kind: 'agent', id: 'prop' }, syncGroups: p.groups, operations: p.operations, ttlSeconds: 600 });
      expect(minted.status).toBe(201);
      const token = minted.body.token as string;
      const allowed = (g: string): boolean => groupAllowed(p.groups, g);
      const leaks: string[] = [];
      const check = (where: string, text: string): void => {
        for (const g of groupsNamed(text)) if (!allowed(g)) leaks.push(`${where}: ${g} in ${text.slice(0, 200)}`);
      };

      // A socket for the whole run: bootstrap now, fanout and receipts later.
      let socket: TestSocket | null = await t.socket();
      socket.send({ type: 'hello', apiKey: token, groups: p.hello.map((x) => `team:${x}`), ...(p.catchUpFrom !== undefined ? { lastSyncId: p.catchUpFrom } : {}) });
      const first = await socket.next((f) => f.type === 'welcome' || f.type === 'error');
      if (first.type === 'error') {
        socket.close();
        socket = null;
      } else await socket.next('bootstrap_done');

      for (const op of p.ops) {
        requests++;
        const before = 'id' in op ? await teamOf(op.id) : null;
        let res: { status: number; text: string } | null = null;
        let movedTo: string | null = null;
        switch (op.kind) {
          case 'get':
            res = await call('GET', `/v1/models/cards/${op.id}`, token);
            break;
          case 'list':
            res = await call('GET', `/v1/models/cards${op.team ? `?where=${encodeURIComponent(JSON.stringify({ team: op.team }))}` : ''}`, token);
            break;
          case 'changes':
            res = await call('GET', `/v1/changes?after=${op.after}&limit=50`, token);
            break;
          case 'claimState':
            res = await call('GET', `/v1/models/cards/${op.id}/claim`, token);
            break;
          case 'claim': {
            res = await call('POST', `/v1/models/cards/${op.id}/claim`, token, { leaseSeconds: 5 });
            const claimId = (res as { body?: any }).body?.claimId ?? (res as { body?: any }).body?.id;
            if (res.status < 300 && typeof claimId === 'string') await call('DELETE', `/v1/claims/${claimId}`, token);
            break;
          }
          case 'delete':
            res = await call('DELETE', `/v1/models/cards/${op.id}`, token);
            break;
          case 'create':
            movedTo = `team:${op.team}`;
            res = await call('POST', '/v1/models/cards', token, { id: op.id, data: { title: `new ${mark(op.team)}`, team: op.team } });
            break;
          case 'update': {
            movedTo = `team:${op.team}`;
            const data = { title: `moved ${mark(op.team)}`, team: op.team };
            if (op.via === 'patch') res = await call('PATCH', `/v1/models/cards/${op.id}`, token, { data });
            else if (op.via === 'commit') res = await call('POST', '/v1/commits', token, { operations: [{ op: 'update', model: 'cards', id: op.id, data }] });
            else if (socket && !socket.closed) {
              const ref = `u${requests}`;
              socket.send({ type: 'commit', ref, commit: { operations: [{ op: 'update', model: 'cards', id: op.id, data }] } });
              const answer = await socket.next((f) => f.ref === ref && (f.type === 'receipt' || f.type === 'error'));
              res = { status: answer.type === 'receipt' ? 200 : 400, text: JSON.stringify(answer) };
            }
            break;
          }
          case 'readsRow':
            res = await call('POST', '/v1/commits', token, {
              operations: [{ op: 'update', model: 'cards', id: op.id, data: { title: `same ${mark((await teamOf(op.id))?.slice(5) ?? 't1')}` } }],
              reads: [{ model: 'cards', id: op.dep, readAt: 1 }],
            });
            break;
          case 'readsGroup':
            res = await call('POST', '/v1/commits', token, {
              operations: [{ op: 'update', model: 'cards', id: op.id, data: { title: `same ${mark((await teamOf(op.id))?.slice(5) ?? 't1')}` } }],
              reads: [{ group: `team:${op.team}`, readAt: 1 }],
            });
            break;
        }
        if (!res) continue;
        check(`${op.kind}`, res.text);
        if (res.status < 300 && op.kind !== 'get' && op.kind !== 'list' && op.kind !== 'changes' && op.kind !== 'claimState') {
          accepted++;
          // An accepted write kept its row inside the principal's groups, before and after.
          if (before && !allowed(before) && op.kind !== 'create') leaks.push(`${op.kind} ${JSON.stringify(op)} accepted on a row in ${before}`);
          if (movedTo && !allowed(movedTo)) leaks.push(`${op.kind} ${JSON.stringify(op)} accepted into ${movedTo}`);
        }
      }
      if (socket) {
        // Fanout of everything above has reached the socket once a ping round trip is back.
        socket.send({ type: 'ping', t: 1 });
        await socket.next('pong').catch(() => undefined);
        check('socket', JSON.stringify([first, ...socket.frames]));
        socket.close();
      }
      expect(leaks).toEqual([]);
    }),
    fuzzParams(150, 15_000),
  );
  console.log(`scope property: seed ${seed}, ${requests} requests, ${accepted} writes accepted`);
}, 60_000);

/**
 * A scoped principal's commits stay inside its sync groups, over HTTP and
 * over the socket: `planCommit` decides on the rows as they are in the
 * commit's transaction (with the commit's earlier operations), so a scoped
 * principal cannot create a row outside its groups, update, delete or move a
 * row out of them, or learn about a row outside through read dependencies or
 * the stale guard. A refused commit writes nothing (one atomic commit). The
 * same writes inside its groups succeed, and an API key still does everything.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { OPERATIONS } from '../../src/engine/auth/principal.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';
import { TestAuthenticator } from '../helpers/principals.js';

const schema = defineSchema({
  cards: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
});

const admin = { participant: { kind: 'system' as const, id: 'admin' }, groups: 'all' as const, operations: OPERATIONS };
/** Reads and writes board a only. */
const writerA = { participant: { kind: 'agent' as const, id: 'writer-a' }, groups: ['board:a'], operations: ['read' as const, 'write' as const] };
/** Boards a and c (through a prefix pattern for c). */
const writerAC = { ...writerA, participant: { kind: 'agent' as const, id: 'writer-ac' }, groups: ['board:a', 'board:c*'] };

const engines: TestEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/**
 * An engine with a1, a2 (board a), b1, b2 (board b), written by the admin:
 * with the test authenticator (tokens tok_admin, tok_a, tok_ac), or with the
 * default API keys (the dev key acts as tok_admin).
 */
async function start(authenticator: 'test' | 'api_keys' = 'test'): Promise<TestEngine> {
  const auth = new TestAuthenticator();
  auth.add('tok_admin', admin);
  auth.add('tok_a', writerA);
  auth.add('tok_ac', writerAC);
  const t = await startTestEngine(schema, authenticator === 'test' ? { authenticator: auth } : {});
  engines.push(t);
  const seeded = await t.http(
    'POST',
    '/v1/commits',
    {
      operations: [
        { op: 'create', model: 'cards', id: 'a1', data: { title: 'A1', boardId: 'a' } },
        { op: 'create', model: 'cards', id: 'a2', data: { title: 'A2', boardId: 'a' } },
        { op: 'create', model: 'cards', id: 'b1', data: { title: 'B1', boardId: 'b' } },
        { op: 'create', model: 'cards', id: 'b2', data: { title: 'B2', boardId: 'b' } },
      ],
    },
    authenticator === 'test' ? bearer('tok_admin') : {},
  );
  expect(seeded.status).toBe(200);
  return t;
}

/** What a refused commit must leave untouched: the head sync id and every row (read as the admin). */
async function snapshot(t: TestEngine): Promise<{ lastSyncId: number; rows: unknown[] }> {
  const rows = await t.http('GET', '/v1/models/cards?orderBy=id', undefined, bearer('tok_admin'));
  return { lastSyncId: t.engine.lastSyncId(), rows: rows.body.data };
}

type Answer = { ok: true; receipt: any } | { ok: false; status: number | null; error: any };

interface Via {
  name: 'http' | 'socket';
  socket?: TestSocket;
  commit(body: Record<string, unknown>): Promise<Answer>;
}

/** POST /v1/commits as `token`. */
function viaHttp(t: TestEngine, token: string): Via {
  return {
    name: 'http',
    async commit(body) {
      const r = await t.http('POST', '/v1/commits', body, bearer(token));
      return r.status === 200 ? { ok: true, receipt: r.body } : { ok: false, status: r.status, error: r.body.error };
    },
  };
}

let refs = 0;
/** A socket synced to `groups` as `token`; each commit is a frame answered by its receipt or an error frame with its ref. */
async function viaSocket(t: TestEngine, token: string, groups: string[]): Promise<Via> {
  const socket = await t.socket();
  await socket.hello({ apiKey: token, groups });
  return {
    name: 'socket',
    socket,
    async commit(body) {
      const ref = `s${++refs}`;
      socket.send({ type: 'commit', ref, commit: body });
      const f = await socket.next((x) => x.ref === ref);
      if (f.type === 'receipt') return { ok: true, receipt: f.receipt };
      expect(f.type).toBe('error');
      return { ok: false, status: null, error: f.error };
    },
  };
}

const update = (id: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ op: 'update', model: 'cards', id, data, ...extra });
const create = (data: Record<string, unknown>, id?: string) => ({ op: 'create', model: 'cards', ...(id ? { id } : {}), data });

/** Commits a principal scoped to board a must be refused, with the answer each gets. */
const outsideCases: Array<{ name: string; body: Record<string, unknown>; error: Record<string, unknown>; status: number }> = [
  {
    name: 'create a row in a group outside',
    body: { operations: [create({ title: 'x', boardId: 'b' })] },
    error: { type: 'permission_error', code: 'group_not_allowed', groups: ['board:b'] },
    status: 403,
  },
  {
    name: 'an inside create and an outside create in one commit (nothing of it is written)',
    body: { operations: [create({ title: 'in', boardId: 'a' }, 'n1'), create({ title: 'out', boardId: 'b' }, 'n2')] },
    error: { type: 'permission_error', code: 'group_not_allowed', groups: ['board:b'], operationIndex: 1 },
    status: 403,
  },
  {
    name: 'update a row outside (not found, as a get answers)',
    body: { operations: [update('b1', { title: 'x' })] },
    error: { type: 'not_found', code: 'row_not_found', model: 'cards', id: 'b1' },
    status: 404,
  },
  {
    name: 'delete a row outside',
    body: { operations: [{ op: 'delete', model: 'cards', id: 'b1' }] },
    error: { type: 'not_found', code: 'row_not_found', id: 'b1' },
    status: 404,
  },
  {
    name: 'move a row from inside to outside',
    body: { operations: [update('a1', { boardId: 'b' })] },
    error: { type: 'permission_error', code: 'group_not_allowed', groups: ['board:b'] },
    status: 403,
  },
  {
    name: 'create a row inside, then move it outside in the same commit',
    body: { operations: [create({ title: 'in', boardId: 'a' }, 'n3'), update('n3', { boardId: 'b' })] },
    error: { type: 'permission_error', code: 'group_not_allowed', operationIndex: 1 },
    status: 403,
  },
  {
    name: 'an update with a stale readAt of a row outside (not found, not its current values)',
    body: { operations: [update('b1', { title: 'x' }, { readAt: 0 })] },
    error: { type: 'not_found', code: 'row_not_found', id: 'b1' },
    status: 404,
  },
  {
    name: 'a row read dependency on a row outside',
    body: { reads: [{ model: 'cards', id: 'b1', readAt: 0 }], operations: [update('a1', { title: 'x' })] },
    error: { type: 'not_found', code: 'row_not_found', id: 'b1' },
    status: 404,
  },
  {
    name: 'a row read dependency (notify) on a row outside',
    body: { reads: [{ model: 'cards', id: 'b2', readAt: 0, onStale: 'notify' }], operations: [update('a1', { title: 'x' })] },
    error: { type: 'not_found', code: 'row_not_found', id: 'b2' },
    status: 404,
  },
  {
    name: 'a group read dependency on a group outside',
    body: { reads: [{ group: 'board:b', readAt: 0 }], operations: [update('a1', { title: 'x' })] },
    error: { type: 'permission_error', code: 'group_not_allowed', groups: ['board:b'] },
    status: 403,
  },
];

/** Nothing of a refused answer names values, writers or sync ids of rows outside. */
function expectNothingLeaked(error: any, name = ''): void {
  for (const k of ['currentValues', 'writtenBy', 'observedSyncId', 'conflictingFields']) expect.soft(error, name).not.toHaveProperty(k);
  expect.soft(JSON.stringify(error), name).not.toMatch(/B1|B2|system/);
}

describe('a scoped principal cannot write outside its groups (one guard, decided in planCommit)', () => {
  for (const via of ['http', 'socket'] as const) {
    test(`${via}: every outside write is refused and writes nothing`, async () => {
      const t = await start();
      const v = via === 'http' ? viaHttp(t, 'tok_a') : await viaSocket(t, 'tok_a', ['board:a']);
      const before = await snapshot(t);
      for (const c of outsideCases) {
        // Soft: every case is checked and reported, each against the state before any of them.
        const answer = await v.commit(c.body);
        expect.soft(answer.ok, c.name).toBe(false);
        expect.soft(await snapshot(t), c.name).toEqual(before);
        if (answer.ok) continue;
        expect.soft(answer.error, c.name).toMatchObject(c.error);
        if (via === 'http') expect.soft(answer.status, c.name).toBe(c.status);
        expectNothingLeaked(answer.error, c.name);
      }
      if (v.socket) expect(v.socket.closed).toBeNull();
    });
  }

  test('http: the row routes (POST, PATCH, DELETE /v1/models/cards) refuse the same way', async () => {
    const t = await start();
    const h = bearer('tok_a');
    const before = await snapshot(t);
    const created = await t.http('POST', '/v1/models/cards', { data: { title: 'x', boardId: 'b' } }, h);
    expect(created.status).toBe(403);
    expect(created.body.error).toMatchObject({ type: 'permission_error', code: 'group_not_allowed', groups: ['board:b'] });
    const patched = await t.http('PATCH', '/v1/models/cards/b1', { data: { title: 'x' }, readAt: 0 }, h);
    expect(patched.status).toBe(404);
    expect(patched.body.error).toMatchObject({ code: 'row_not_found' });
    expectNothingLeaked(patched.body.error);
    const deleted = await t.http('DELETE', '/v1/models/cards/b1', {}, h);
    expect(deleted.status).toBe(404);
    const moved = await t.http('PATCH', '/v1/models/cards/a1', { data: { boardId: 'b' } }, h);
    expect(moved.status).toBe(403);
    expect(moved.body.error).toMatchObject({ code: 'group_not_allowed', groups: ['board:b'] });
    expect(await snapshot(t)).toEqual(before);
  });

  test('a row outside answers exactly as a missing row does', async () => {
    const t = await start();
    const v = viaHttp(t, 'tok_a');
    const outside = await v.commit({ operations: [update('b1', { title: 'x' })] });
    const missing = await v.commit({ operations: [update('zz', { title: 'x' })] });
    expect(outside.ok || missing.ok).toBe(false);
    if (outside.ok || missing.ok) return;
    expect({ ...outside.error, message: outside.error.message.replace('b1', 'ID'), id: 'ID' }).toEqual({
      ...missing.error,
      message: missing.error.message.replace('zz', 'ID'),
      id: 'ID',
    });
  });
});

describe('inside its groups a scoped principal writes as before', () => {
  for (const via of ['http', 'socket'] as const) {
    test(`${via}: creates, updates, deletes, moves within its groups and read dependencies on them`, async () => {
      const t = await start();
      const a = via === 'http' ? viaHttp(t, 'tok_a') : await viaSocket(t, 'tok_a', ['board:a']);
      const ac = via === 'http' ? viaHttp(t, 'tok_ac') : await viaSocket(t, 'tok_ac', ['board:a', 'board:c1']);

      const created = await a.commit({ operations: [create({ title: 'new', boardId: 'a' }, 'n1'), update('n1', { title: 'newer' })] });
      expect(created).toMatchObject({ ok: true, receipt: { status: 'committed' } });
      const head = t.engine.lastSyncId();
      const written = await a.commit({
        reads: [
          { model: 'cards', id: 'a1', readAt: head },
          { group: 'board:a', readAt: head },
        ],
        operations: [update('a1', { title: 'A1!' }), { op: 'delete', model: 'cards', id: 'a2' }],
      });
      expect(written).toMatchObject({ ok: true, receipt: { status: 'committed' } });
      // Moving between its own groups (board:c1 through the pattern board:c*).
      expect(await ac.commit({ operations: [update('a1', { boardId: 'c1' })] })).toMatchObject({ ok: true, receipt: { status: 'committed' } });

      // Stale answers on its own rows and groups carry the values and the writer, as for an API key.
      const stale = await a.commit({ operations: [update('n1', { title: 'x' }, { readAt: head - 1 })] });
      expect(stale).toMatchObject({ ok: false, error: { type: 'stale_context', currentValues: { title: 'newer' }, writtenBy: { id: 'writer-a' } } });
      const groupStale = await a.commit({ reads: [{ group: 'board:a', readAt: head }], operations: [update('n1', { title: 'y' })] });
      expect(groupStale).toMatchObject({ ok: false, error: { type: 'stale_context', group: 'board:a', writtenBy: { id: 'writer-a' } } });
      const held = await a.commit({ reads: [{ model: 'cards', id: 'n1', readAt: 0, onStale: 'notify' }], operations: [update('n1', { title: 'z' })] });
      expect(held).toMatchObject({ ok: true, receipt: { status: 'held', notifications: [{ id: 'n1', currentValues: { title: 'newer' } }] } });

      const rows = await t.http('GET', '/v1/models/cards?orderBy=id', undefined, bearer('tok_admin'));
      expect(rows.body.data.map((r: any) => [r.id, r.title, r.boardId])).toEqual([
        ['a1', 'A1!', 'c1'],
        ['b1', 'B1', 'b'],
        ['b2', 'B2', 'b'],
        ['n1', 'newer', 'a'],
      ]);
    });
  }
});

describe('an API key (every group) still does everything', () => {
  for (const via of ['http', 'socket'] as const) {
    test(`${via}: the commits refused to the scoped principal are applied`, async () => {
      const t = await start('api_keys');
      const v = via === 'http' ? viaHttp(t, t.key) : await viaSocket(t, t.key, ['board:a', 'board:b']);
      const head = t.engine.lastSyncId();
      const ok = await v.commit({
        reads: [
          { model: 'cards', id: 'b1', readAt: head },
          { group: 'board:b', readAt: head },
        ],
        operations: [create({ title: 'x', boardId: 'b' }, 'n1'), update('b1', { title: 'x' }), update('a1', { boardId: 'b' }), { op: 'delete', model: 'cards', id: 'b2' }],
      });
      expect(ok).toMatchObject({ ok: true, receipt: { status: 'committed' } });
      expect(t.engine.lastSyncId()).toBe(head + 4);
      const stale = await v.commit({ operations: [update('b1', { title: 'y' }, { readAt: 0 })] });
      expect(stale).toMatchObject({ ok: false, error: { type: 'stale_context', currentValues: { title: 'x' } } });
    });
  }
});

/**
 * `set_groups` on a live connection, as raw frames: the engine answers
 * `groups` (what is added, what is removed, patterns included), the rows of
 * the added groups only, `groups_done` with the watermark, and then the
 * changes that committed meanwhile — each once, in order. A refused set
 * keeps the old groups; claims of the new groups follow; bad frames and a
 * draining engine get typed errors with the frame's ref.
 */
import { describe, expect, test } from 'vitest';
import { covers, groupsChange } from '../../src/engine/sync/groups.js';
import type { StorageTx } from '../../src/engine/storage/types.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine, type TestSocket } from '../helpers/engine.js';

const schema = defineSchema({
  cards: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  notes: model({ body: z.string() }),
  // A row in two groups at once.
  pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
});

const { engines } = trackedEngines();

async function engine(options: Parameters<typeof startTestEngine>[1] = {}): Promise<TestEngine> {
  const t = await startTestEngine(schema, options);
  engines.push(t);
  return t;
}

async function commit(t: TestEngine, operations: unknown[], headers?: Record<string, string>): Promise<any> {
  const res = await t.http('POST', '/v1/commits', { operations }, headers);
  expect(res.status).toBe(200);
  return res.body;
}

/** `n` cards on each of `boards`: ids `<board>-<i>`. */
async function seedCards(t: TestEngine, boards: string[], n: number): Promise<void> {
  for (const b of boards) {
    for (let from = 0; from < n; from += 500) {
      const ids = Array.from({ length: Math.min(500, n - from) }, (_, i) => from + i);
      await commit(t, ids.map((i) => ({ op: 'create', model: 'cards', id: `${b}-${i}`, data: { title: `t${i}`, boardId: b } })));
    }
  }
}

/** Send set_groups and collect everything up to its groups_done (or its error). */
async function setGroups(s: TestSocket, ref: string, groups: unknown): Promise<{ answer: any; frames: any[]; done: any }> {
  s.send({ type: 'set_groups', ref, groups });
  const answer = await s.next((f) => (f.type === 'groups' || f.type === 'error') && f.ref === ref);
  if (answer.type === 'error') return { answer, frames: [], done: null };
  const done = await s.next((f) => f.type === 'groups_done' && f.ref === ref);
  // The bootstrap frames that arrived between the two (the socket queues frames nobody waited for, in order);
  // anything else (claims, changes after groups_done) stays queued for the test.
  const frames: any[] = [];
  for (let i = 0; i < s.frames.length; ) {
    if (s.frames[i].type === 'bootstrap') frames.push(...s.frames.splice(i, 1));
    else i++;
  }
  return { answer, frames, done };
}

function bootIds(frames: any[], model = 'cards'): string[] {
  return frames
    .filter((f) => f.type === 'bootstrap' && f.model === model)
    .flatMap((f) => f.rows.map((r: any) => r.id))
    .sort();
}

describe('what a set adds and removes', () => {
  test('exact groups, patterns, and groups an old pattern already covered', () => {
    expect(groupsChange(['board:a'], ['board:b'])).toEqual({ groups: ['board:b'], added: ['board:b'], removed: ['board:a'] });
    expect(groupsChange(['board:a'], ['board:a', 'board:b', 'board:b'])).toEqual({ groups: ['board:a', 'board:b'], added: ['board:b'], removed: [] });
    // board:a is taken in by board:*: nothing of the old set is gone.
    expect(groupsChange(['board:a'], ['board:*'])).toEqual({ groups: ['board:*'], added: ['board:*'], removed: [] });
    // board:c was received under board:*: not new.
    expect(groupsChange(['board:*'], ['board:c'])).toEqual({ groups: ['board:c'], added: [], removed: ['board:*'] });
    expect(groupsChange(['*'], ['board:x:*', 'user:1'])).toEqual({ groups: ['board:x:*', 'user:1'], added: [], removed: ['*'] });
    expect(groupsChange(['board:x:*'], ['board:*'])).toEqual({ groups: ['board:*'], added: ['board:*'], removed: [] });
    expect(covers(['board:a'], 'board:*')).toBe(false);
    expect(covers(['board:*'], 'board:x:*')).toBe(true);
    expect(covers(['board:x'], 'board:x')).toBe(true);
  });
});

describe('set_groups on a live connection', () => {
  test("sends the rows of the new group only, then groups_done with the watermark; the old group's changes stop", async () => {
    const t = await engine();
    await seedCards(t, ['a', 'b', 'c'], 5);
    await commit(t, [{ op: 'create', model: 'notes', id: 'n1', data: { body: 'default group' } }]);
    const s = await t.socket();
    const hello = await s.hello({ apiKey: t.key, groups: ['board:a'] });
    expect(bootIds(hello.frames)).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'a-4']);

    const { answer, frames, done } = await setGroups(s, 'g1', ['board:b']);
    expect(answer).toEqual({ type: 'groups', ref: 'g1', groups: ['board:b'], added: ['board:b'], removed: ['board:a'] });
    expect(bootIds(frames)).toEqual(['b-0', 'b-1', 'b-2', 'b-3', 'b-4']);
    expect(bootIds(frames, 'notes')).toEqual([]);
    expect(frames.every((f) => f.type === 'bootstrap')).toBe(true);
    expect(done).toEqual({ type: 'groups_done', ref: 'g1', lastSyncId: t.engine.lastSyncId() });

    // Live on board b only: a change on board a is not sent, one on board b is.
    await commit(t, [{ op: 'update', model: 'cards', id: 'a-0', data: { title: 'not for me' } }]);
    await commit(t, [{ op: 'update', model: 'cards', id: 'b-0', data: { title: 'for me' } }]);
    const changes = await s.next('changes');
    expect(changes.changes.map((c: any) => [c.id, c.data.title])).toEqual([['b-0', 'for me']]);
    s.send({ type: 'ping', t: 1 });
    const pong = await s.next('pong');
    expect(pong).toEqual({ type: 'pong', t: 1, lastSyncId: t.engine.lastSyncId() });
    expect(s.frames).toEqual([]);
  });

  test('patterns: a pattern that takes in the old group sends only the rows the client did not have; a narrower set sends none', async () => {
    const t = await engine();
    await seedCards(t, ['a', 'b'], 3);
    await commit(t, [
      { op: 'create', model: 'pins', id: 'p-both', data: { boardId: 'a', ownerId: 'u' } },
      { op: 'create', model: 'pins', id: 'p-owner', data: { boardId: 'z', ownerId: 'u' } },
      { op: 'create', model: 'pins', id: 'p-board', data: { boardId: 'b', ownerId: 'v' } },
    ]);
    const s = await t.socket();
    await s.hello({ apiKey: t.key, groups: ['board:a'] });

    const wide = await setGroups(s, 'wide', ['board:*']);
    expect(wide.answer).toMatchObject({ groups: ['board:*'], added: ['board:*'], removed: [] });
    // Board a's rows are with the client already: only board b's (and the pin on board b) come.
    expect(bootIds(wide.frames)).toEqual(['b-0', 'b-1', 'b-2']);
    // p-owner is on board z: new under board:*. p-both (board a) is with the client already.
    expect(bootIds(wide.frames, 'pins')).toEqual(['p-board', 'p-owner']);

    const narrow = await setGroups(s, 'narrow', ['board:b']);
    expect(narrow.answer).toMatchObject({ groups: ['board:b'], added: [], removed: ['board:*'] });
    expect(narrow.frames).toEqual([]);

    // Exact groups over a row in two groups: the pin also on board b (which the client has) is not sent again.
    const owner = await setGroups(s, 'owner', ['board:b', 'owner:u', 'default']);
    expect(owner.answer).toMatchObject({ added: ['owner:u', 'default'], removed: [] });
    expect(bootIds(owner.frames, 'pins')).toEqual(['p-both', 'p-owner']);
    expect(bootIds(owner.frames)).toEqual([]);
  });

  test('changes committed during the switch arrive once each, in order, after groups_done; the own commit keeps change-then-receipt', async () => {
    // Board b's bootstrap takes several pages (a turn each): the commits below land while it runs.
    const t = await engine();
    await seedCards(t, ['a', 'b'], 3000);
    const s = await t.socket();
    await s.hello({ apiKey: t.key, groups: ['board:a'] });

    // Every frame in the order it arrived.
    const log: any[] = [];
    s.ws.on('message', (data) => log.push(JSON.parse(data.toString())));
    s.send({ type: 'set_groups', ref: 'switch', groups: ['board:b'] });
    s.send({ type: 'commit', ref: 'mine', commit: { operations: [{ op: 'update', model: 'cards', id: 'b-7', data: { title: 'socket write' } }] } });
    const writes = Array.from({ length: 20 }, (_, i) =>
      commit(t, [{ op: 'update', model: 'cards', id: `b-${i % 4}`, data: { title: `http ${i}` } }, { op: 'update', model: 'cards', id: 'a-1', data: { title: `a ${i}` } }]),
    );
    await Promise.all(writes);
    // A last write on board b marks the end of what this test waits for.
    const last = await commit(t, [{ op: 'update', model: 'cards', id: 'b-2999', data: { title: 'last' } }]);
    const done = await s.next((f) => f.type === 'groups_done');
    const receipt = await s.next((f) => f.type === 'receipt' && f.ref === 'mine');
    const head = last.lastSyncId;
    // Everything up to the head in board b: wait for the changes frames until the last sync id is in.
    const seen: any[] = [];
    while (!seen.some((c) => c.syncId === head)) {
      const f = await s.next('changes');
      seen.push(...f.changes);
    }
    const before = s.frames.splice(0, s.frames.length);
    const bootstrap = before.filter((f) => f.type === 'bootstrap');
    const rows = new Map<string, any>(bootstrap.flatMap((f) => f.rows.map((r: any) => [r.id, r])));
    expect(rows.size).toBe(3000);
    expect([...rows.keys()].every((id) => id.startsWith('b-'))).toBe(true);

    // Changes after groups_done are those after its watermark, once each, in sync-id order, all of board b.
    const ids = seen.map((c) => c.syncId);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    expect(seen.every((c) => c.syncId > done.lastSyncId)).toBe(true);
    expect(seen.every((c) => c.model === 'cards' && c.id.startsWith('b-'))).toBe(true);
    // Bootstrap rows plus the changes give board b as stored.
    for (const c of seen) rows.set(c.id, c.data);
    for (const id of ['b-0', 'b-1', 'b-2', 'b-3', 'b-7']) {
      expect(rows.get(id)).toEqual(await t.engine.storage.getRow('cards', id));
    }
    expect(rows.get('b-7').title).toBe('socket write');
    // The socket's own write: its change came before its receipt (held with the changes when it landed during the
    // switch), and nothing but bootstrap frames came between groups and groups_done.
    const mine = receipt.receipt.lastSyncId;
    expect(receipt.receipt.status).toBe('committed');
    const at = (pred: (f: any) => boolean): number => log.findIndex(pred);
    const receiptAt = at((f) => f.type === 'receipt' && f.ref === 'mine');
    const changeAt = at((f) => f.type === 'changes' && f.changes.some((c: any) => c.syncId === mine));
    const groupsAt = at((f) => f.type === 'groups');
    const doneAt = at((f) => f.type === 'groups_done');
    if (mine > done.lastSyncId) {
      expect(changeAt).toBeGreaterThan(doneAt);
      expect(receiptAt).toBeGreaterThan(changeAt);
    }
    expect(log.slice(groupsAt + 1, doneAt).every((f) => f.type === 'bootstrap')).toBe(true);
  });

  test('a second set_groups waits for the first: each answer comes whole, in order', async () => {
    const t = await engine();
    await seedCards(t, ['a', 'b', 'c'], 50);
    const s = await t.socket();
    await s.hello({ apiKey: t.key, groups: ['board:a'] });
    s.send({ type: 'set_groups', ref: 'one', groups: ['board:b'] });
    s.send({ type: 'set_groups', ref: 'two', groups: ['board:c'] });
    await s.next((f) => f.type === 'groups_done' && f.ref === 'two');
    const frames = s.frames.splice(0, s.frames.length);
    const marks = frames.filter((f) => f.type !== 'bootstrap').map((f) => `${f.type}:${f.ref}`);
    expect(marks).toEqual(['groups:one', 'groups_done:one', 'groups:two']);
    const firstDone = frames.findIndex((f) => f.type === 'groups_done');
    expect(bootIds(frames.slice(0, firstDone))).toHaveLength(50);
    expect(bootIds(frames.slice(0, firstDone)).every((id) => id.startsWith('b-'))).toBe(true);
    expect(bootIds(frames.slice(firstDone)).every((id) => id.startsWith('c-'))).toBe(true);
    expect(bootIds(frames.slice(firstDone))).toHaveLength(50);
  });

  test("a session scoped to board a may not switch to board b: permission error with the ref, the old groups stay, the socket stays live", async () => {
    const t = await engine();
    await seedCards(t, ['a', 'b'], 2);
    const minted = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['board:a'], operations: ['read', 'write'] });
    expect(minted.status).toBe(201);
    const s = await t.socket();
    await s.hello({ apiKey: minted.body.token, groups: ['board:a'] });

    const refused = await setGroups(s, 'nope', ['board:a', 'board:b']);
    expect(refused.answer).toMatchObject({
      type: 'error',
      ref: 'nope',
      error: { type: 'permission_error', code: 'group_not_allowed', groups: ['board:b'], allowed: ['board:a'] },
    });
    await commit(t, [{ op: 'update', model: 'cards', id: 'b-0', data: { title: 'b' } }]);
    await commit(t, [{ op: 'update', model: 'cards', id: 'a-0', data: { title: 'still mine' } }]);
    const changes = await s.next('changes');
    expect(changes.changes.map((c: any) => [c.id, c.data.title])).toEqual([['a-0', 'still mine']]);
    expect(s.closed).toBeNull();
  });

  test('claims of the new group arrive after groups_done; those of the kept group are not sent again', async () => {
    const t = await engine();
    await seedCards(t, ['a', 'b'], 2);
    const holder = await t.socket();
    await holder.hello({ apiKey: t.key, groups: ['*'], participant: { kind: 'agent', id: 'bot' } });
    holder.send({ type: 'claim', ref: 'ca', model: 'cards', id: 'a-0' });
    holder.send({ type: 'claim', ref: 'cb', model: 'cards', id: 'b-1' });
    await holder.next((f) => f.type === 'claim_granted' && f.ref === 'ca');
    await holder.next((f) => f.type === 'claim_granted' && f.ref === 'cb');

    const s = await t.socket();
    s.send({ type: 'hello', apiKey: t.key, groups: ['board:a'] });
    await s.next('bootstrap_done');
    const initial = await s.next('claims');
    expect(initial).toMatchObject({ model: 'cards', id: 'a-0', claim: { holder: { kind: 'agent', id: 'bot' } } });

    const { done } = await setGroups(s, 'add-b', ['board:a', 'board:b']);
    expect(done.ref).toBe('add-b');
    const next = await s.next('claims');
    expect(next).toMatchObject({ type: 'claims', model: 'cards', id: 'b-1', claim: { holder: { kind: 'agent', id: 'bot' } } });
    // Nothing else: a-0's claim is not repeated.
    s.send({ type: 'ping' });
    await s.next('pong');
    expect(s.frames.filter((f) => f.type === 'claims')).toEqual([]);

    // Live in board b now: the release of b-1 reaches it.
    holder.send({ type: 'release', ref: 'rb', model: 'cards', id: 'b-1' });
    const released = await s.next((f) => f.type === 'claims' && f.id === 'b-1');
    expect(released.claim).toBeNull();
  });

  test('bad frames get invalid_request with the ref, and the connection keeps serving', async () => {
    const t = await engine();
    const s = await t.socket();
    await s.hello({ apiKey: t.key, groups: ['board:a'] });
    const bad: Array<[string, unknown]> = [
      ['empty', []],
      ['too-many', Array.from({ length: 1001 }, (_, i) => `board:${i}`)],
      ['blank', ['']],
      ['long', ['x'.repeat(201)]],
      ['number', [7]],
      ['missing', undefined],
    ];
    for (const [ref, groups] of bad) {
      const { answer } = await setGroups(s, ref, groups);
      expect(answer).toMatchObject({ type: 'error', ref, error: { type: 'validation_error', code: 'invalid_request' } });
    }
    const ok = await setGroups(s, 'fine', ['board:b']);
    expect(ok.answer).toMatchObject({ type: 'groups', added: ['board:b'], removed: ['board:a'] });
  });

  test('a draining engine answers set_groups with draining', async () => {
    const t = await engine();
    const s = await t.socket();
    await s.hello({ apiKey: t.key, groups: ['board:a'] });
    // Hold a commit in its transaction so the drain waits (and the socket stays open) while set_groups is sent.
    const storage = t.engine.storage;
    const original = storage.transaction.bind(storage);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let entered!: () => void;
    const inTx = new Promise<void>((r) => (entered = r));
    storage.transaction = (async <T>(fn: (tx: StorageTx) => Promise<T>) => {
      entered();
      await gate;
      return original(fn);
    }) as typeof storage.transaction;
    const held = t.http('POST', '/v1/commits', { operations: [{ op: 'create', model: 'notes', id: 'n1', data: { body: 'x' } }] });
    await inTx;
    const drained = t.engine.drain();
    const { answer } = await setGroups(s, 'late', ['board:b']);
    expect(answer).toMatchObject({ type: 'error', ref: 'late', error: { type: 'connection_error', code: 'draining' } });
    open();
    expect((await held).status).toBe(200);
    await drained;
  });
});

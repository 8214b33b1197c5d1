/**
 * A hello without `groups` receives every group its credential may read: a
 * secret key every row (any model, any group, rows of models without
 * `syncGroupFormat` too), a session token the rows of its own groups, its
 * patterns (`board:*`) matched by prefix. Over bootstrap, catch-up and live
 * fanout. A hello may also name a pattern itself.
 */
import { expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({
  cards: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  notes: model({ body: z.string() }),
  pins: model({ boardId: z.string(), ownerId: z.string() }, {}, { syncGroupFormat: ['board:{boardId}', 'owner:{ownerId}'] }),
});

const { engines } = trackedEngines();

async function start(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  engines.push(t);
  const ops = [
    { op: 'create', model: 'cards', id: 'ca', data: { title: 'A', boardId: 'a' } },
    { op: 'create', model: 'cards', id: 'cb', data: { title: 'B', boardId: 'b' } },
    { op: 'create', model: 'cards', id: 'cx', data: { title: 'X', boardId: 'x' } },
    { op: 'create', model: 'notes', id: 'n1', data: { body: 'plain' } },
    { op: 'create', model: 'pins', id: 'p1', data: { boardId: 'a', ownerId: 'ana' } },
  ];
  const res = await t.http('POST', '/v1/commits', { operations: ops });
  expect(res.body).toMatchObject({ object: 'commit' });
  return t;
}

async function session(t: TestEngine, syncGroups: string[]): Promise<string> {
  const res = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups, operations: ['read', 'write'] });
  expect(res.status).toBe(201);
  return res.body.token;
}

function bootstrapped(frames: any[]): string[] {
  return frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows.map((r: any) => `${f.model}/${r.id}`)).sort();
}

function changed(frames: any[]): string[] {
  return frames.filter((f) => f.type === 'changes').flatMap((f) => f.changes.map((c: any) => `${c.model}/${c.id}`)).sort();
}

test('a secret key without groups gets every row of every model (bootstrap), every change (live and catch-up)', async () => {
  const t = await start();
  const s = await t.socket();
  const { welcome, frames, done } = await s.hello({ apiKey: t.key });
  expect(welcome.groups).toEqual(['*']);
  expect(bootstrapped(frames)).toEqual(['cards/ca', 'cards/cb', 'cards/cx', 'notes/n1', 'pins/p1']);

  // Live: a change in any group, and one of a model without groups.
  await t.http('POST', '/v1/commits', {
    operations: [
      { op: 'create', model: 'cards', id: 'cz', data: { title: 'Z', boardId: 'z' } },
      { op: 'create', model: 'notes', id: 'n2', data: { body: 'two' } },
    ],
  });
  const live = await s.next('changes');
  expect(changed([live])).toEqual(['cards/cz', 'notes/n2']);
  s.close();

  // Catch-up from the first bootstrap's watermark: the same two changes.
  const again = await t.socket();
  const caught = await again.hello({ apiKey: t.key, lastSyncId: done.lastSyncId, schemaHash: welcome.schemaHash });
  expect(caught.welcome.mode).toBe('catchup');
  expect(changed(caught.frames)).toEqual(['cards/cz', 'notes/n2']);
});

test("a session without groups gets its own groups only; a pattern (board:*) matches by prefix", async () => {
  const t = await start();
  const token = await session(t, ['board:a', 'owner:*']);
  const s = await t.socket();
  const before = t.engine.stats().rowsRead;
  const { welcome, frames, done } = await s.hello({ apiKey: token });
  expect(welcome.groups).toEqual(['board:a', 'owner:*']);
  expect(bootstrapped(frames)).toEqual(['cards/ca', 'pins/p1']);
  // With a pattern, models with templates are read whole (3 cards, 1 pin); notes (all in `default`, which no pattern takes in) not at all.
  expect(t.engine.stats().rowsRead - before).toBe(4);

  await t.http('POST', '/v1/commits', {
    operations: [
      { op: 'create', model: 'cards', id: 'cb2', data: { title: 'B2', boardId: 'b' } },
      { op: 'create', model: 'notes', id: 'n2', data: { body: 'two' } },
      { op: 'create', model: 'pins', id: 'p2', data: { boardId: 'b', ownerId: 'bo' } },
      { op: 'create', model: 'cards', id: 'ca2', data: { title: 'A2', boardId: 'a' } },
    ],
  });
  const live = await s.next('changes');
  expect(changed([live])).toEqual(['cards/ca2', 'pins/p2']);
  s.close();

  const again = await t.socket();
  const caught = await again.hello({ apiKey: token, lastSyncId: done.lastSyncId, schemaHash: welcome.schemaHash });
  expect(caught.welcome.mode).toBe('catchup');
  expect(changed(caught.frames)).toEqual(['cards/ca2', 'pins/p2']);
});

test('a hello may name a pattern; a session may not widen its groups with one', async () => {
  const t = await start();
  const s = await t.socket();
  const { frames } = await s.hello({ apiKey: t.key, groups: ['board:*'] });
  expect(bootstrapped(frames)).toEqual(['cards/ca', 'cards/cb', 'cards/cx', 'pins/p1']);

  const token = await session(t, ['board:a']);
  const narrow = await t.socket();
  await expect(narrow.hello({ apiKey: token, groups: ['board:*'] })).rejects.toMatchObject({ frame: { error: { code: 'group_not_allowed' } } });
  const all = await t.socket();
  await expect(all.hello({ apiKey: token, groups: ['*'] })).rejects.toMatchObject({ frame: { error: { code: 'group_not_allowed' } } });
});

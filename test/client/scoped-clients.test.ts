/**
 * Issue 14's people-and-agent acceptance: two browser-like SDK clients with
 * sessions for `user:ana` and `user:bo` see only their own rows — over
 * bootstrap, catch-up after being offline, and live fanout — while an agent
 * whose session allows `board:*` sees both. None of them passes `syncGroups`:
 * each receives every group its credential may read.
 */
import { afterEach, expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { relay } from '../helpers/relay.js';

const schema = defineSchema({
  cards: model({ title: z.string(), owner: z.string(), boardId: z.string() }, {}, { syncGroupFormat: ['user:{owner}', 'board:{boardId}'] }),
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('ana and bo see only their rows over bootstrap, catch-up and fanout; an agent with board:* sees both', async () => {
  const t: TestEngine = await startTestEngine(schema);
  cleanups.push(() => t.stop());
  const port = Number(new URL(t.url).port);
  const anaLink = await relay(port);
  const boLink = await relay(port);
  cleanups.push(async () => {
    await anaLink.cut();
    await boLink.cut();
  });

  const server = Ablo({ schema, apiKey: t.key, baseURL: t.url });
  cleanups.push(() => server.dispose());
  const write = async (id: string, owner: string, title = id): Promise<void> => {
    const res = await t.http('POST', '/v1/models/cards', { id, data: { title, owner, boardId: 'launch' } });
    expect(res.status).toBe(201);
  };
  await write('ana1', 'ana');
  await write('bo1', 'bo');

  const mint = (participant: { kind: 'user' | 'agent'; id: string }, syncGroups: string[]) =>
    server.sessions.create({ participant, syncGroups, operations: ['read', 'write'], ttlSeconds: 600 });
  const anaSession = await mint({ kind: 'user', id: 'ana' }, ['user:ana']);
  const boSession = await mint({ kind: 'user', id: 'bo' }, ['user:bo']);
  const agentSession = await mint({ kind: 'agent', id: 'planner' }, ['board:*']);

  const ana = Ablo({ schema, sessionToken: anaSession.token, baseURL: anaLink.url });
  const bo = Ablo({ schema, sessionToken: boSession.token, baseURL: boLink.url });
  const agent = Ablo({ schema, sessionToken: agentSession.token, baseURL: t.url });
  cleanups.push(async () => {
    await Promise.all([ana.dispose(), bo.dispose(), agent.dispose()]);
  });
  const ids = (c: typeof ana): string[] => c.cards.getAll().map((r) => r.id).sort();
  // Every id a client has ever held, to catch a row that came and went.
  const seen = new Map<typeof ana, Set<string>>();
  for (const c of [ana, bo, agent]) {
    const set = new Set<string>();
    seen.set(c, set);
    c.subscribe(
      (client) => client.cards.getAll().map((r) => r.id).join(','),
      (value) => {
        for (const id of value.split(',')) if (id) set.add(id);
      },
    );
  }

  // Bootstrap.
  await Promise.all([ana.ready(), bo.ready(), agent.ready()]);
  expect(ids(ana)).toEqual(['ana1']);
  expect(ids(bo)).toEqual(['bo1']);
  expect(ids(agent)).toEqual(['ana1', 'bo1']);

  // Live fanout, from the server and from each other.
  await write('ana2', 'ana');
  await write('bo2', 'bo');
  await ana.cards.create({ id: 'ana3', data: { title: 'by ana', owner: 'ana', boardId: 'launch' } });
  await bo.cards.create({ id: 'bo3', data: { title: 'by bo', owner: 'bo', boardId: 'launch' } });
  await until('the agent to see every row', () => ids(agent).length === 6);
  await until('ana to see ana3', () => ids(ana).includes('ana2') && ids(ana).includes('ana3'));
  await until('bo to see bo3', () => ids(bo).includes('bo2') && ids(bo).includes('bo3'));

  // Catch-up: ana and bo go offline, rows of both are written, they come back.
  await anaLink.cut();
  await boLink.cut();
  await write('ana4', 'ana');
  await write('bo4', 'bo');
  await agent.cards.create({ id: 'bo5', data: { title: 'agent for bo', owner: 'bo', boardId: 'launch' } });
  await anaLink.restore();
  await boLink.restore();
  await until('ana to catch up', () => ids(ana).includes('ana4'));
  await until('bo to catch up', () => ids(bo).includes('bo4') && ids(bo).includes('bo5'));
  await until('the agent to see every row', () => ids(agent).length === 9);

  // One more write of each after catch-up, so anything misrouted would have arrived before it.
  await write('ana6', 'ana');
  await write('bo6', 'bo');
  await until('ana6 and bo6', () => ids(ana).includes('ana6') && ids(bo).includes('bo6'));

  expect(ids(ana)).toEqual(['ana1', 'ana2', 'ana3', 'ana4', 'ana6']);
  expect(ids(bo)).toEqual(['bo1', 'bo2', 'bo3', 'bo4', 'bo5', 'bo6']);
  expect([...seen.get(ana)!].filter((id) => id.startsWith('bo'))).toEqual([]);
  expect([...seen.get(bo)!].filter((id) => id.startsWith('ana'))).toEqual([]);
  expect(ids(agent)).toHaveLength(11);
}, 60_000);

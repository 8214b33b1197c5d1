/**
 * Default sync groups on Postgres: clients without `syncGroups` (a secret key:
 * every row; a session with a pattern: its groups by prefix) over bootstrap,
 * live fanout and catch-up, as on SQLite (test/engine/default-groups.test.ts).
 */
import { afterEach, expect, test } from 'vitest';
import Ablo, { type AbloClient } from '../../src/index.js';
import type { Engine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { engineOnPostgres as createEngineOnPostgres } from '../helpers/postgres.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({
  cards: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  notes: model({ body: z.string() }),
});

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const engineOnPostgres = () => createEngineOnPostgres(schema, cleanups);

function client(engine: Engine, credential: { apiKey?: string; sessionToken?: string }): AbloClient<typeof schema> {
  const c = Ablo({ schema, baseURL: engine.url, reconnect: { baseMs: 20, maxMs: 200 }, ...credential });
  cleanups.push(() => c.dispose());
  return c;
}

test('Postgres: a second client with the same secret key and no syncGroups sees every row; a board:* session sees the boards only', async () => {
  const { engine, apiKey } = await engineOnPostgres();
  const first = client(engine, { apiKey });
  await first.ready();
  await first.cards.create({ id: 'c1', data: { title: 'one', boardId: 'b1' } });
  await first.notes.create({ id: 'n1', data: { body: 'no group format' } });

  const second = client(engine, { apiKey });
  await second.ready();
  expect(second.cards.getAll().map((c) => c.id)).toEqual(['c1']);
  expect(second.notes.getAll().map((n) => n.id)).toEqual(['n1']);
  await first.cards.create({ id: 'c2', data: { title: 'two', boardId: 'b2' } });
  await until(second, () => second.cards.get('c2'));

  const { token } = await first.sessions.create({ participant: { kind: 'user', id: 'ana' }, syncGroups: ['board:*'], operations: ['read', 'write'] });
  const boards = client(engine, { sessionToken: token });
  await boards.ready();
  expect(boards.cards.getAll().map((c) => c.id).sort()).toEqual(['c1', 'c2']);
  expect(boards.notes.getAll()).toEqual([]);
  await first.notes.create({ id: 'n2', data: { body: 'not for boards' } });
  await first.cards.create({ id: 'c3', data: { title: 'three', boardId: 'b3' } });
  await until(boards, () => boards.cards.get('c3'));
  expect(boards.notes.getAll()).toEqual([]);
});

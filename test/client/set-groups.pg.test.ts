/**
 * `setSyncGroups` on an engine running on Postgres (its group index, change
 * feed and claim store), as on SQLite (test/client/set-groups.test.ts): a
 * switch A → B on the open socket brings B's rows and B's claims, drops A's,
 * and changes of B arrive after it; a pattern that takes in the old group
 * adds the other boards only.
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

function client(engine: Engine, apiKey: string, syncGroups?: string[]): AbloClient<typeof schema> {
  const c = Ablo({ schema, baseURL: engine.url, apiKey, reconnect: { baseMs: 20, maxMs: 200 }, ...(syncGroups ? { syncGroups } : {}) });
  cleanups.push(() => c.dispose());
  return c;
}

const ids = (rows: ReadonlyArray<{ id: string }>): string[] => rows.map((r) => r.id).sort();

test('Postgres: A → B on the open socket brings B’s rows and claims and drops A’s; board:* then adds the other boards only', async () => {
  const { engine, apiKey } = await engineOnPostgres();
  const server = client(engine, apiKey);
  await server.ready();
  await server.commits.create({
    operations: [
      { op: 'create', model: 'cards', id: 'a1', data: { title: 'A one', boardId: 'A' } },
      { op: 'create', model: 'cards', id: 'b1', data: { title: 'B one', boardId: 'B' } },
      { op: 'create', model: 'cards', id: 'b2', data: { title: 'B two', boardId: 'B' } },
      { op: 'create', model: 'cards', id: 'c1', data: { title: 'C one', boardId: 'C' } },
    ],
  });
  const held = await server.cards.claim({ id: 'b1', action: 'reviewing' });
  cleanups.push(() => held.release().catch(() => undefined));

  const browser = client(engine, apiKey, ['board:A']);
  await browser.ready();
  let welcomes = 0;
  browser.on('connection:change', ({ status }) => {
    if (status === 'syncing') welcomes++;
  });
  expect(ids(browser.cards.getAll())).toEqual(['a1']);

  await browser.setSyncGroups(['board:B']);
  expect(ids(browser.cards.getAll())).toEqual(['b1', 'b2']);
  await until(browser, () => browser.cards.claim.state({ id: 'b1' }));
  expect(browser.cards.claim.state({ id: 'b1' })).toMatchObject({ id: held.id, action: 'reviewing' });

  await server.cards.create({ id: 'b3', data: { title: 'B three', boardId: 'B' } });
  await server.cards.update({ id: 'a1', data: { title: 'not for B' } });
  await until(browser, () => browser.cards.get('b3'));
  expect(browser.cards.get('a1')).toBeUndefined();

  await browser.setSyncGroups(['board:*']);
  expect(ids(browser.cards.getAll())).toEqual(['a1', 'b1', 'b2', 'b3', 'c1']);
  expect(browser.cards.get('a1')?.title).toBe('not for B');
  // No reconnect along the way.
  expect(welcomes).toBe(0);
  expect(browser.status).toBe('live');
});

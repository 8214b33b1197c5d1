/**
 * Without `syncGroups` a client receives every group its credential may
 * read: a newcomer's second client (same secret key, no configuration) sees
 * the first client's rows, at bootstrap and live; a session client sees its
 * token's groups only. A bootstrap past the large-bootstrap threshold warns
 * once and suggests `syncGroups`.
 */
import { expect, test } from 'vitest';
import { BootstrapSizeWarning, LARGE_BOOTSTRAP_ROWS } from '../../src/client/bootstrapSize.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { sdkKit, until } from '../helpers/sdk.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
  todos: model({ text: z.string() }),
});
const kit = sdkKit(schema);

test("a second client with the same secret key and no syncGroups sees the first client's rows (bootstrap and live)", async () => {
  const e = await kit.engine();
  const first = await kit.client(e);
  await first.notes.create({ id: 'n1', data: { title: 'one', owner: 'ana' } });
  await first.todos.create({ id: 't1', data: { text: 'no group format' } });

  const second = await kit.client(e);
  expect(second.notes.getAll().map((n) => n.id)).toEqual(['n1']);
  expect(second.todos.getAll().map((t) => t.id)).toEqual(['t1']);

  await first.notes.create({ id: 'n2', data: { title: 'two', owner: 'bo' } });
  await until(second, () => second.notes.get('n2'));
  // And the other way round: the first client sees the second's writes live.
  await second.todos.create({ id: 't2', data: { text: 'from second' } });
  await until(first, () => first.todos.get('t2'));
  expect(first.notes.getAll().map((n) => n.id).sort()).toEqual(['n1', 'n2']);
});

test('a session client without syncGroups sees only its groups', async () => {
  const e = await kit.engine();
  const server = await kit.client(e);
  await server.notes.create({ id: 'ana1', data: { title: 'A', owner: 'ana' } });
  await server.notes.create({ id: 'bo1', data: { title: 'B', owner: 'bo' } });
  const { token } = await server.sessions.create({ participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read', 'write'] });

  const browser = await kit.client(e, { apiKey: undefined, sessionToken: token });
  expect(browser.notes.getAll().map((n) => n.id)).toEqual(['ana1']);
  expect(browser.todos.getAll()).toEqual([]);
  await server.notes.create({ id: 'bo2', data: { title: 'B2', owner: 'bo' } });
  await server.notes.create({ id: 'ana2', data: { title: 'A2', owner: 'ana' } });
  await until(browser, () => browser.notes.get('ana2'));
  expect(browser.notes.getAll().map((n) => n.id).sort()).toEqual(['ana1', 'ana2']);
});

test('the large-bootstrap warning: said once, past the threshold, with the rows counted and syncGroups suggested', () => {
  expect(LARGE_BOOTSTRAP_ROWS).toBe(100_000);
  const said: Array<{ message: string; details?: Record<string, unknown> }> = [];
  const w = new BootstrapSizeWarning((message, details) => said.push({ message, ...(details ? { details } : {}) }), 10);
  w.add(6);
  w.add(4);
  expect(said).toEqual([]);
  w.add(1);
  expect(said).toHaveLength(1);
  expect(said[0]!.message).toMatch(/syncGroups/);
  expect(said[0]!.details).toMatchObject({ warning: 'large_bootstrap', rows: 11, threshold: 10 });
  w.reset();
  w.add(50);
  expect(said).toHaveLength(1);
});

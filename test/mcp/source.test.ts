/**
 * MCP tools on a model a Data Source holds (a real engine with `/mcp`, a real
 * HTTP source, a real MCP client over Streamable HTTP): an agent's create and
 * update reach the app's store, an external write is what the agent reads
 * next, and the app's refusal is a typed tool error.
 */
import { afterEach, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine } from '../helpers/engine.js';
import { startMemorySource } from '../helpers/memorySource.js';
import { httpSession, structured } from './helpers.js';

const schema = defineSchema({ tasks: model({ title: z.string() }) });
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('an agent through MCP writes to the app’s store; it reads external writes; stale answers are typed tool errors', async () => {
  const src = await startMemorySource();
  cleanups.push(() => src.close());
  const t = await startTestEngine(schema, { sources: { app: { url: src.url, models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0 } } });
  cleanups.push(() => t.stop());
  await t.engine.sources!.ready();
  const s = await httpSession(t.url, t.key);
  cleanups.push(() => s.close());

  const row = structured(await s.call('tasks_create', { data: { title: 'from an agent' } })).row;
  expect(src.table('tasks').get(row.id)).toMatchObject({ title: 'from an agent' });
  const updated = structured(await s.call('tasks_update', { id: row.id, data: { title: 'edited' }, readAt: row.syncId })).row;
  expect(updated.title).toBe('edited');
  expect(src.table('tasks').get(row.id)!.title).toBe('edited');

  // Someone edits the row in the app's database; the agent's next write from its old read is refused.
  src.external('tasks', row.id, { title: 'changed in SQL' });
  const stale = await s.call('tasks_update', { id: row.id, data: { title: 'agent again' }, readAt: updated.syncId });
  expect(stale.isError).toBe(true);
  expect(structured(stale).error).toMatchObject({ type: 'stale_context', code: 'stale_context' });
  await t.engine.sources!.pull('app');
  const read = structured(await s.call('tasks_get', { id: row.id }));
  expect(JSON.stringify(read)).toContain('changed in SQL');
});

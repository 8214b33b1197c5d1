/**
 * Live tools across engine processes: two `ablo start` processes on one
 * Postgres database; a schema pushed through one reaches the `/mcp` sessions
 * (and a stdio `ablo mcp`) of the other — `notifications/tools/list_changed`,
 * then the new model's tools and a changed model's new field; a dropped
 * model's tools are gone.
 */
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { eventually, httpSession, stdioSession, structured, textOf, type McpSession } from './helpers.js';

const v1 = defineSchema({ notes: model({ body: z.string() }) });
const v2 = defineSchema({
  notes: model({ body: z.string(), pinned: z.boolean().default(false) }),
  labels: model({ name: z.string() }),
});
const v3 = defineSchema({ notes: model({ body: z.string(), pinned: z.boolean().default(false) }) });

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listChanged(s: McpSession): () => number {
  let n = 0;
  s.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void n++);
  return () => n;
}

async function push(c: Cluster, url: string, schema: typeof v1, allowDestructive = false): Promise<void> {
  const res = await fetch(`${url}/v1/schema`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ schema: schema.serialized, ...(allowDestructive ? { allowDestructive: true } : {}) }),
  });
  const body = (await res.json()) as { applied?: boolean };
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.applied, JSON.stringify(body)).toBe(true);
}

const names = async (s: McpSession): Promise<string[]> => (await s.client.listTools()).tools.map((t) => t.name);

test('a push through process A sends tools/list_changed to the /mcp sessions on process B (and to ablo mcp pointed at B)', async () => {
  const c = await startCluster(2, v1.serialized);
  cleanups.push(() => c.stop());
  const [a, b] = c.urls as [string, string];
  const sessions = [await httpSession(b, c.key), await httpSession(b, c.key), await stdioSession(b, c.key)];
  for (const s of sessions) cleanups.push(() => s.close());
  const counts = sessions.map(listChanged);
  for (const s of sessions) expect(await names(s)).not.toContain('labels_list');

  await push(c, a, v2);
  for (const [i, s] of sessions.entries()) {
    await eventually(() => counts[i]!() >= 1, 20_000);
    const tools = (await s.client.listTools()).tools;
    expect(tools.map((t) => t.name)).toContain('labels_create');
    // The existing model's new field is in its create tool's input.
    expect(JSON.stringify(tools.find((t) => t.name === 'notes_create')!.inputSchema)).toContain('"pinned"');
    const made = await s.call('labels_create', { data: { name: `via session ${i}` } });
    expect(made.isError, textOf(made)).toBeFalsy();
    const note = await s.call('notes_create', { data: { body: `note ${i}`, pinned: true } });
    expect(note.isError, textOf(note)).toBeFalsy();
    expect(structured(note).row).toMatchObject({ pinned: true });
  }

  await push(c, a, v3, true);
  for (const [i, s] of sessions.entries()) {
    await eventually(() => counts[i]!() >= 2, 20_000);
    expect((await names(s)).filter((t) => t.startsWith('labels_'))).toEqual([]);
    const gone = await s.call('labels_list', {});
    expect(gone.isError).toBe(true);
    expect(structured(gone).error).toMatchObject({ code: 'unknown_tool' });
  }
}, 120_000);

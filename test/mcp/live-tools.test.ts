/**
 * Live tools: a schema change reaches every connected MCP session without a
 * restart — over stdio (the built `ablo mcp`, which long-polls the engine) and
 * over the engine's own `/mcp` (which hears the engine's changes directly).
 * The client is sent one `notifications/tools/list_changed` per change,
 * re-lists, and finds the new model's tools (and a changed model's new
 * field); a dropped model's tools are gone and calling one answers the typed
 * `unknown_tool`. Also: the engine's `GET /v1/schema` long-poll itself, and
 * `ablo dev` pushing a saved schema edit to a connected session.
 */
import { ResourceListChangedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { createTempProject, startCli } from '../helpers/tempProject.js';
import { api, eventually, httpSession, sleep, startTestEngine, stdioSession, structured, textOf, type McpSession, type TestEngine } from './helpers.js';

const v1 = defineSchema({
  notes: model({ body: z.string() }),
});
/** A new model, and a new field on the existing one. */
const v2 = defineSchema({
  notes: model({ body: z.string(), pinned: z.boolean().default(false) }),
  labels: model({ name: z.string().min(1) }),
});
/** v2 and one more model. */
const v2WithTags = defineSchema({
  notes: model({ body: z.string(), pinned: z.boolean().default(false) }),
  labels: model({ name: z.string().min(1) }),
  tags: model({ name: z.string() }),
});
/** `labels` (and `tags`) dropped again. */
const v3 = defineSchema({
  notes: model({ body: z.string(), pinned: z.boolean().default(false) }),
});

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engineWith(schema: typeof v1): Promise<TestEngine> {
  const engine = await startTestEngine({ schema });
  cleanups.push(() => engine.stop());
  return engine;
}

/** How many list-changed notifications a session's client has received. */
function countNotifications(s: McpSession): { tools: () => number; resources: () => number } {
  let tools = 0;
  let resources = 0;
  s.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void tools++);
  s.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void resources++);
  return { tools: () => tools, resources: () => resources };
}

async function push(engine: TestEngine, schema: typeof v1, allowDestructive = false): Promise<void> {
  const r = await api(engine.url, engine.apiKey, 'POST', '/v1/schema', { schema: schema.serialized, ...(allowDestructive ? { allowDestructive: true } : {}) });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.applied, JSON.stringify(r.body)).toBe(true);
}

const toolNames = async (s: McpSession): Promise<string[]> => (await s.client.listTools()).tools.map((t) => t.name);

/** The whole story on one session: add a model and a field, use them, drop the model, with a call running across the change. */
async function liveStory(engine: TestEngine, s: McpSession): Promise<void> {
  const seen = countNotifications(s);
  expect(await toolNames(s)).toEqual(['notes_list', 'notes_get', 'notes_create', 'notes_update', 'notes_delete', 'notes_claim', 'notes_release', 'ablo_schema', 'ablo_commit', 'ablo_presence']);

  // Push a new model and a new field while the client is connected.
  await push(engine, v2);
  await eventually(() => seen.tools() >= 1, 15_000);
  const listed = (await s.client.listTools()).tools;
  // In the schema's model order (the serialized schema sorts them), then the global tools.
  expect(listed.map((t) => t.name)).toEqual([
    ...['list', 'get', 'create', 'update', 'delete', 'claim', 'release'].map((v) => `labels_${v}`),
    ...['list', 'get', 'create', 'update', 'delete', 'claim', 'release'].map((v) => `notes_${v}`),
    'ablo_schema',
    'ablo_commit',
    'ablo_presence',
  ]);
  // One notification for the whole change (not one per tool removed and added).
  expect(seen.tools()).toBe(1);
  await eventually(() => seen.resources() >= 1, 15_000);
  expect((await s.client.listResources()).resources.map((r) => r.uri)).toContain('ablo://models/labels');
  // The changed model's tools take the new field.
  const notesCreate = listed.find((t) => t.name === 'notes_create')!;
  expect(JSON.stringify(notesCreate.inputSchema)).toContain('"pinned"');
  const pinned = await s.call('notes_create', { id: 'n1', data: { body: 'first', pinned: true } });
  expect(pinned.isError, textOf(pinned)).toBeFalsy();
  expect(structured(pinned).row).toMatchObject({ id: 'n1', pinned: true });
  // The new model's tools work.
  const label = await s.call('labels_create', { id: 'l1', data: { name: 'urgent' } });
  expect(label.isError, textOf(label)).toBeFalsy();
  expect(structured(await s.call('labels_get', { id: 'l1' })).row).toMatchObject({ id: 'l1', name: 'urgent' });

  // A call running across the next change finishes: a claim waits behind a holder while labels is dropped.
  const held = await api(engine.url, engine.apiKey, 'POST', '/v1/models/notes/n1/claim', { leaseSeconds: 60 }, { 'ablo-participant': 'user:ana' });
  expect(held.status, JSON.stringify(held.body)).toBe(200);
  const waiting = s.call('notes_claim', { id: 'n1', waitSeconds: 30 });
  await eventually(async () => (await api(engine.url, engine.apiKey, 'GET', '/v1/models/notes/n1/claim')).body.queue?.length === 1, 10_000);

  await push(engine, v3, true);
  await eventually(() => seen.tools() >= 2, 15_000);
  const after = await toolNames(s);
  expect(after.filter((t) => t.startsWith('labels_'))).toEqual([]);
  expect(after).toContain('notes_claim');
  const gone = await s.call('labels_list', {});
  expect(gone.isError).toBe(true);
  expect(structured(gone).error).toMatchObject({ type: 'not_found', code: 'unknown_tool' });
  await eventually(() => seen.resources() >= 2, 15_000);
  expect((await s.client.listResources()).resources.map((r) => r.uri)).not.toContain('ablo://models/labels');

  // The holder lets go: the claim that started before the change is granted.
  expect((await api(engine.url, engine.apiKey, 'DELETE', `/v1/claims/${held.body.id}`)).status).toBe(200);
  const granted = await waiting;
  expect(granted.isError, textOf(granted)).toBeFalsy();
  expect(textOf(granted)).toMatch(/n1/);
  expect((await s.call('notes_release', { id: 'n1' })).isError).toBeFalsy();
  expect(seen.tools()).toBe(2);
}

describe('live tools', () => {
  test('over stdio (ablo mcp long-polls the engine): a pushed model appears, a new field is accepted, a dropped model is gone', async () => {
    const engine = await engineWith(v1);
    const s = await stdioSession(engine.url, engine.apiKey);
    cleanups.push(() => s.close());
    await liveStory(engine, s);
    expect(s.stderr()).toMatch(/17 tools for 2 model\(s\), were 10/);
    expect(s.transportErrors).toEqual([]);
  }, 60_000);

  test("over the engine's /mcp (Streamable HTTP): the same, from the engine's own schema changes", async () => {
    const engine = await engineWith(v1);
    const s = await httpSession(engine.url, engine.apiKey);
    cleanups.push(() => s.close());
    await liveStory(engine, s);
  }, 60_000);

  test('a session limited to some models follows them: a selected model dropped takes its tools, another model pushed adds none', async () => {
    const engine = await engineWith(v2);
    const s = await stdioSession(engine.url, engine.apiKey, ['--models', 'labels', '--read-only']);
    cleanups.push(() => s.close());
    const seen = countNotifications(s);
    expect(await toolNames(s)).toEqual(['labels_list', 'labels_get', 'ablo_schema', 'ablo_presence']);
    // A model outside the selection: nothing this session offers changes, so no notification.
    await push(engine, v2WithTags);
    // The selected model dropped: its tools go (the one notification this session gets).
    await push(engine, v3, true);
    await eventually(() => seen.tools() >= 1, 15_000);
    expect(await toolNames(s)).toEqual(['ablo_schema', 'ablo_presence']);
    expect(seen.tools()).toBe(1);
    // The server goes on: its schema tool answers for what is left.
    const described = await s.call('ablo_schema', {});
    expect(described.isError, textOf(described)).toBeFalsy();
  }, 60_000);

  test('an engine restart does not end a stdio session; a schema pushed while it was down is picked up when it is back', async () => {
    const first = await startTestEngine({ schema: v1 });
    let stopped = false;
    cleanups.push(() => (stopped ? undefined : first.stop()));
    const port = Number(new URL(first.url).port);
    const s = await stdioSession(first.url, first.apiKey);
    cleanups.push(() => s.close());
    const seen = countNotifications(s);
    await first.stop();
    stopped = true;
    // The watch finds the engine gone and keeps asking.
    await eventually(() => /schema watch: .*asking again/.test(s.stderr()), 20_000);
    // The same port and key, a new database with the bigger schema.
    const second = await startTestEngine({ schema: v2, port, apiKey: first.apiKey });
    cleanups.push(() => second.stop());
    await eventually(() => seen.tools() >= 1, 30_000);
    expect(await toolNames(s)).toContain('labels_create');
    expect(s.stderr()).toMatch(/schema watch: the engine answers again/);
    const created = await s.call('labels_create', { data: { name: 'after the restart' } });
    expect(created.isError, textOf(created)).toBeFalsy();
  }, 60_000);
});

describe('GET /v1/schema long-poll', () => {
  test('answers at once for another hash, after the wait for the same one, at the push while waiting; bad values are 400 invalid_query', async () => {
    const engine = await engineWith(v1);
    const get = (query: string) => api(engine.url, engine.apiKey, 'GET', `/v1/schema${query}`);
    const now = await get('');
    expect(now.body.hash).toBe(v1.serialized.hash);
    // Another hash (or none): the schema at once.
    expect((await get('?changedFrom=&waitSeconds=60')).body.hash).toBe(v1.serialized.hash);
    // The same hash: the wait runs out, the same schema.
    expect((await get(`?changedFrom=${now.body.hash}&waitSeconds=0.2`)).body).toEqual(now.body);
    // A push while it waits: the new schema.
    const waiting = get(`?changedFrom=${now.body.hash}&waitSeconds=60`);
    await push(engine, v2);
    const changed = await waiting;
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ object: 'schema', hash: v2.serialized.hash });
    for (const [query, field] of [
      ['?changedFrom=x&waitSeconds=121', 'waitSeconds'],
      ['?changedFrom=x&waitSeconds=soon', 'waitSeconds'],
      ['?waitSeconds=5', 'changedFrom'],
    ] as const) {
      const bad = await get(query);
      expect(bad.status, query).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'invalid_query', field });
    }
  });

  test('a drain does not wait out a long-poll: the wait ends with the schema as it is', async () => {
    const engine = await startTestEngine({ schema: v1 });
    cleanups.push(() => engine.stop());
    const waiting = fetch(`${engine.url}/v1/schema?changedFrom=${v1.serialized.hash}&waitSeconds=120`, { headers: { authorization: `Bearer ${engine.apiKey}` } }).then(
      async (r) => ({ status: r.status, hash: ((await r.json()) as { hash: string }).hash }),
    );
    // Let the request reach the engine and start waiting.
    await sleep(300);
    await engine.engine.drain();
    expect(await waiting).toEqual({ status: 200, hash: v1.serialized.hash });
  });
});

describe('ablo dev', () => {
  test('a saved schema edit, pushed by the dev watcher, reaches a connected /mcp session', async () => {
    const p = createTempProject({
      files: { 'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ notes: model({ body: z.string() }) });\n` },
    });
    cleanups.push(() => p.cleanup());
    const dev = startCli(['dev', '--port', '0', '--json'], p.dir);
    cleanups.push(() => dev.stop('SIGKILL'));
    const ready = JSON.parse((await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000))[1]!) as { url: string; apiKey: string };
    const s = await httpSession(ready.url, ready.apiKey);
    cleanups.push(() => s.close());
    const seen = countNotifications(s);
    expect(await toolNames(s)).not.toContain('labels_list');
    p.write(
      'ablo.schema.ts',
      `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ notes: model({ body: z.string() }), labels: model({ name: z.string() }) });\n`,
    );
    await eventually(() => seen.tools() >= 1, 20_000);
    expect(await toolNames(s)).toContain('labels_create');
    const created = await s.call('labels_create', { data: { name: 'from a saved edit' } });
    expect(created.isError, textOf(created)).toBeFalsy();
  }, 60_000);
});

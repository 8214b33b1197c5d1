/**
 * MCP resources and prompts, through the SDK's real client against a real
 * engine: `ablo://schema`, `ablo://models/<name>`, `ablo://guide/coordination`
 * and the `work-queue` prompt. They read the engine's schema when asked (a
 * model pushed after the session started is listed) and follow the
 * credential: a session that may not read sees only the guide.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { api, httpSession, inProcessSession, stdioSession, startTestEngine, structured, type McpSession, type TestEngine } from './helpers.js';

const schema = defineSchema({
  tasks: model(
    {
      title: z.string().min(1).describe('What to do'),
      status: z.enum(['open', 'doing', 'done']).default('open'),
      projectId: z.string(),
    },
    {},
    { syncGroupFormat: 'project:{projectId}', description: 'Work items' },
  ),
  notes: model({ body: z.string() }),
});

let engine: TestEngine;
const open: McpSession[] = [];

beforeAll(async () => {
  engine = await startTestEngine({ schema });
});

afterAll(async () => {
  for (const s of open) await s.close().catch(() => undefined);
  await engine?.stop();
});

async function session(extra: Record<string, unknown> = {}): Promise<McpSession> {
  const s = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey, ...extra });
  open.push(s);
  return s;
}

const textOfResource = (r: { contents: object[] }): string => String((r.contents[0] as { text?: string } | undefined)?.text ?? '');

/** The error a request rejected with. */
async function rejection(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    return err as McpError;
  }
  throw new Error('expected the request to fail');
}

describe('resources', () => {
  test('resources/list names the schema, the guide and one resource per model; the model template is listed too', async () => {
    const s = await session();
    const { resources } = await s.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual(['ablo://guide/coordination', 'ablo://models/notes', 'ablo://models/tasks', 'ablo://schema']);
    expect(resources.find((r) => r.uri === 'ablo://models/tasks')).toMatchObject({ mimeType: 'application/json', description: 'Work items' });
    const { resourceTemplates } = await s.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['ablo://models/{name}']);
  });

  test("ablo://schema is the engine's schema, as ablo_schema returns it", async () => {
    const s = await session();
    const read = await s.client.readResource({ uri: 'ablo://schema' });
    expect(read.contents[0]?.mimeType).toBe('application/json');
    const doc = JSON.parse(textOfResource(read));
    const engineDoc = await api(engine.url, engine.apiKey, 'GET', '/v1/schema');
    expect(doc.hash).toBe(engineDoc.body.hash);
    expect(doc.hash).toBe(schema.serialized.hash);
    expect(Object.keys(doc.models).sort()).toEqual(Object.keys(engineDoc.body.schema.models).sort());
    const tool = structured(await s.call('ablo_schema'));
    expect(doc).toEqual({ models: tool.models, hash: tool.hash, version: tool.version });
    expect(doc.models.tasks.fields.status).toEqual({ type: 'enum', required: false, nullable: false, default: 'open', values: ['open', 'doing', 'done'] });
  });

  test('ablo://models/tasks describes fields, sync groups and tools', async () => {
    const s = await session();
    const doc = JSON.parse(textOfResource(await s.client.readResource({ uri: 'ablo://models/tasks' })));
    expect(doc.name).toBe('tasks');
    expect(doc.description).toBe('Work items');
    expect(doc.syncGroups).toEqual(['project:{projectId}']);
    expect(doc.fields.title).toEqual({ type: 'string', required: true, nullable: false, description: 'What to do', constraints: ['min length 1'] });
    expect(doc.fields.status.values).toEqual(['open', 'doing', 'done']);
    expect(doc.fields.projectId).toEqual({ type: 'string', required: true, nullable: false });
    expect(doc.tools).toEqual(['tasks_list', 'tasks_get', 'tasks_create', 'tasks_update', 'tasks_delete', 'tasks_claim', 'tasks_release']);
    expect(doc.schemaHash).toBe(schema.serialized.hash);
  });

  test('ablo://guide/coordination explains claims, readAt and onStale', async () => {
    const s = await session();
    const read = await s.client.readResource({ uri: 'ablo://guide/coordination' });
    expect(read.contents[0]?.mimeType).toBe('text/markdown');
    const guide = textOfResource(read);
    for (const words of ['<model>_claim', '<model>_release', 'first-in, first-out', 'lease', 'readAt', 'reject', 'overwrite', 'notify', 'stale_context']) {
      expect(guide).toContain(words);
    }
  });

  test('an unknown model or URI is an error that names the way out', async () => {
    const s = await session();
    const noModel = await rejection(s.client.readResource({ uri: 'ablo://models/nope' }));
    expect(noModel).toBeInstanceOf(McpError);
    expect(noModel.code).toBe(-32002);
    expect(noModel.message).toBe('MCP error -32002: Unknown model "nope". Models: notes, tasks.');
    expect(noModel.data).toEqual({ code: 'unknown_model', model: 'nope', valid: ['notes', 'tasks'] });
    expect(noModel.message).toContain('Unknown model "nope". Models: notes, tasks.');
    const noUri = await rejection(s.client.readResource({ uri: 'ablo://elsewhere' }));
    expect(noUri.code).toBe(-32602);
    expect(noUri.message).toContain('ablo://elsewhere not found');
    // The session still answers.
    expect(JSON.parse(textOfResource(await s.client.readResource({ uri: 'ablo://models/notes' }))).fields.body.type).toBe('string');
  });

  test('the models selection applies: a model left out is neither listed nor readable', async () => {
    const s = await session({ models: ['notes'] });
    const { resources } = await s.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual(['ablo://guide/coordination', 'ablo://models/notes', 'ablo://schema']);
    expect(Object.keys(JSON.parse(textOfResource(await s.client.readResource({ uri: 'ablo://schema' }))).models)).toEqual(['notes']);
    expect((await rejection(s.client.readResource({ uri: 'ablo://models/tasks' }))).message).toContain('Unknown model "tasks". Models: notes.');
  });

  test('a model pushed after the session started is listed and readable, without a restart', async () => {
    const own = await startTestEngine({ schema });
    try {
      const s = await inProcessSession({ engineUrl: own.url, apiKey: own.apiKey });
      try {
        const next = defineSchema({ ...schema.models, labels: model({ name: z.string(), color: z.string().optional() }) });
        const pushed = await api(own.url, own.apiKey, 'POST', '/v1/schema', { schema: next.serialized });
        expect(pushed.status).toBe(200);
        const { resources } = await s.client.listResources();
        expect(resources.map((r) => r.uri)).toContain('ablo://models/labels');
        const labels = JSON.parse(textOfResource(await s.client.readResource({ uri: 'ablo://models/labels' })));
        expect(labels.fields.color).toEqual({ type: 'string', required: false, nullable: true });
        expect(JSON.parse(textOfResource(await s.client.readResource({ uri: 'ablo://schema' }))).hash).toBe(next.serialized.hash);
      } finally {
        await s.close();
      }
    } finally {
      await own.stop();
    }
  });

  test('ablo mcp (the built CLI over stdio) serves the same resources and prompt', async () => {
    const s = await stdioSession(engine.url, engine.apiKey, ['--models', 'tasks']);
    open.push(s);
    expect((await s.client.listResources()).resources.map((r) => r.uri).sort()).toEqual(['ablo://guide/coordination', 'ablo://models/tasks', 'ablo://schema']);
    expect(JSON.parse(textOfResource(await s.client.readResource({ uri: 'ablo://models/tasks' }))).fields.status.default).toBe('open');
    expect((await s.client.listPrompts()).prompts.map((p) => p.name)).toEqual(['work-queue']);
  });

  test('over /mcp, a session token that may only read gets the resources but no work-queue prompt (it cannot claim)', async () => {
    const minted = await api(engine.url, engine.apiKey, 'POST', '/v1/sessions', {
      participant: { kind: 'agent', id: 'reader' },
      syncGroups: ['*'],
      operations: ['read'],
    });
    expect(minted.status).toBe(201);
    const s = await httpSession(engine.url, minted.body.token);
    open.push(s);
    const { resources } = await s.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual(['ablo://guide/coordination', 'ablo://models/notes', 'ablo://models/tasks', 'ablo://schema']);
    // Its model resource lists only the tools this credential is offered.
    expect(JSON.parse(textOfResource(await s.client.readResource({ uri: 'ablo://models/tasks' }))).tools).toEqual(['tasks_list', 'tasks_get']);
    expect(s.client.getServerCapabilities()?.prompts).toBeUndefined();
  });
});

describe('prompts', () => {
  test('prompts/list offers work-queue with its arguments', async () => {
    const s = await session();
    const { prompts } = await s.client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['work-queue']);
    expect(prompts[0]!.arguments).toEqual([
      { name: 'model', description: 'The model whose rows form the queue.', required: true },
      { name: 'filter', description: 'Which rows count as work, as a where object in JSON (e.g. {"assignee": null}).', required: false },
      { name: 'status', description: 'Only rows with this status (for a model with a status field).', required: false },
    ]);
  });

  test('prompts/get walks the loop for the model: list, claim, re-read, write with readAt, release, stale and claimed', async () => {
    const s = await session();
    const got = await s.client.getPrompt({ name: 'work-queue', arguments: { model: 'tasks', status: 'open' } });
    expect(got.messages).toHaveLength(1);
    expect(got.messages[0]!.role).toBe('user');
    const text = (got.messages[0]!.content as { text: string }).text;
    const steps = ['tasks_list where { "status": "open" }', 'tasks_claim', 'wait: false', 'Re-read', 'tasks_update with readAt', 'tasks_release'];
    const at = steps.map((step) => text.indexOf(step));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at); // in this order
    expect(text).toContain('status takes open | doing | done');
    expect(text).toContain('stale_context');
    expect(text).toContain('row_claimed');

    const filtered = await s.client.getPrompt({ name: 'work-queue', arguments: { model: 'notes', filter: '{"body": "todo"}' } });
    expect((filtered.messages[0]!.content as { text: string }).text).toContain('notes_list where {"body": "todo"}');
  });

  test('an unknown model or a filter that is not JSON is a clear error', async () => {
    const s = await session();
    const bad = await rejection(s.client.getPrompt({ name: 'work-queue', arguments: { model: 'nope' } }));
    expect(bad.code).toBe(-32602);
    expect(bad.message).toContain('Unknown model "nope". Models: notes, tasks.');
    const notJson = await rejection(s.client.getPrompt({ name: 'work-queue', arguments: { model: 'tasks', filter: 'status=open' } }));
    expect(notJson.message).toContain('filter must be a where object in JSON');
  });

  test('a read-only server offers no prompt (it could not claim or write)', async () => {
    const s = await session({ readOnly: true });
    expect(s.client.getServerCapabilities()?.prompts).toBeUndefined();
    expect((await s.client.listResources()).resources.map((r) => r.uri)).toContain('ablo://models/tasks');
  });
});

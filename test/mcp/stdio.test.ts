/**
 * `ablo mcp` over stdio: the built CLI spawned as an MCP server, driven by the
 * SDK's own client, against a real engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { schema } from '../fixtures/example.schema.js';
import { runCli } from '../helpers/tempProject.js';
import { api, eventually, sleep, startTestEngine, stdioSession, structured, textOf, type McpSession, type TestEngine } from './helpers.js';

const ALL_TOOLS = [
  'projects_list',
  'projects_get',
  'projects_create',
  'projects_update',
  'projects_delete',
  'projects_claim',
  'projects_release',
  'tasks_list',
  'tasks_get',
  'tasks_create',
  'tasks_update',
  'tasks_delete',
  'tasks_claim',
  'tasks_release',
  'ablo_schema',
  'ablo_commit',
  'ablo_presence',
];

let engine: TestEngine;
let dir: string;
const open: McpSession[] = [];

async function connect(extra: string[] = []): Promise<McpSession> {
  const s = await stdioSession(engine.url, engine.apiKey, extra);
  open.push(s);
  return s;
}

beforeAll(async () => {
  engine = await startTestEngine({ schema });
  dir = mkdtempSync(join(tmpdir(), 'ablo-mcp-cwd-'));
  await api(engine.url, engine.apiKey, 'POST', '/v1/models/projects', { id: 'p1', data: { name: 'Apollo' } });
});

afterAll(async () => {
  for (const s of open) await s.close().catch(() => undefined);
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('tools', () => {
  test('every model becomes seven tools plus ablo_schema, ablo_commit and ablo_presence, with JSON input schemas', async () => {
    const s = await connect();
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(ALL_TOOLS);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));

    const create = byName.tasks_create!.inputSchema as any;
    expect(create.type).toBe('object');
    expect(create.required).toEqual(['data']);
    expect(create.additionalProperties).toBe(false);
    const data = create.properties.data;
    expect(data.properties.status).toMatchObject({ type: 'string', enum: ['todo', 'doing', 'done'], default: 'todo' });
    expect(data.properties.title).toMatchObject({ type: 'string', minLength: 1 });
    expect(data.properties.estimate).toMatchObject({ type: 'integer' });
    expect([...data.required].sort()).toEqual(['projectId', 'title']);
    expect(data.additionalProperties).toBe(false);
    // Descriptions from the Zod schema (`.describe('Display name')`).
    expect((byName.projects_create!.inputSchema as any).properties.data.properties.name.description).toBe('Display name');

    // Update: every field optional, nullable ones accept null.
    const update = (byName.tasks_update!.inputSchema as any).properties;
    expect(update.data.required ?? []).toEqual([]);
    expect(update.readAt).toMatchObject({ type: 'integer', minimum: 0 });
    expect(update.onStale.enum).toEqual(['reject', 'overwrite', 'notify']);

    // List: where / orderBy name the real fields.
    const list = (byName.tasks_list!.inputSchema as any).properties;
    expect(Object.keys(list.where.properties)).toEqual(expect.arrayContaining(['id', 'status', 'projectId', 'syncId']));
    expect(list.orderBy.properties.title.enum).toEqual(['asc', 'desc']);
    expect(list.limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });

    // Annotations.
    for (const name of ['tasks_list', 'tasks_get', 'ablo_schema', 'ablo_presence']) expect(byName[name]!.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.tasks_delete!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: true });
    expect(byName.tasks_update!.annotations).toMatchObject({ destructiveHint: true });
    expect(byName.tasks_create!.annotations).toMatchObject({ destructiveHint: false });
    expect(byName.ablo_commit!.annotations).toMatchObject({ destructiveHint: true });

    // stdout carried nothing but protocol; the start line went to stderr.
    expect(s.transportErrors).toEqual([]);
    expect(s.stderr()).toMatch(/serving 17 tools for 2 model/);
  });

  test('ablo_schema describes models, fields, relations and sync groups', async () => {
    const s = await connect();
    const r = await s.call('ablo_schema');
    expect(r.isError).toBeFalsy();
    const tasks = structured(r).models.tasks;
    expect(tasks.fields.status).toMatchObject({ type: 'enum', values: ['todo', 'doing', 'done'], default: 'todo', required: false });
    expect(tasks.fields.title).toMatchObject({ type: 'string', required: true, constraints: ['min length 1'] });
    expect(tasks.relations.project).toEqual({ kind: 'belongsTo', model: 'projects', foreignKey: 'projectId' });
    expect(tasks.syncGroups).toEqual(['project:{projectId}']);
    expect(structured(r).models.projects.fields.name.description).toBe('Display name');
    expect(textOf(r)).toContain('status: enum todo|doing|done');
  });
});

describe('data', () => {
  test('create → list → get → update → delete', async () => {
    const s = await connect();
    const created = await s.call('tasks_create', { data: { title: 'Ship it', projectId: 'p1', estimate: 3 } });
    expect(created.isError).toBeFalsy();
    const row = structured(created).row;
    expect(row).toMatchObject({ title: 'Ship it', status: 'todo', assigneeId: null, projectId: 'p1', estimate: 3 });
    expect(row.id).toMatch(/^task_/);
    expect(textOf(created)).toContain(`id=${row.id}`);

    const listed = await s.call('tasks_list', { where: { projectId: 'p1', status: ['todo', 'doing'] }, orderBy: { title: 'asc' } });
    expect(listed.isError).toBeFalsy();
    expect(structured(listed).data.map((r: any) => r.id)).toContain(row.id);
    expect(textOf(listed)).toMatch(new RegExp(`^id=${row.id} .*title="Ship it"`, 'm'));

    const got = await s.call('tasks_get', { id: row.id });
    expect(structured(got).row).toEqual(row);
    expect(textOf(got)).toContain(`readAt=${row.syncId}`);

    const updated = await s.call('tasks_update', { id: row.id, data: { status: 'doing' }, readAt: row.syncId });
    expect(updated.isError).toBeFalsy();
    expect(structured(updated).row).toMatchObject({ id: row.id, status: 'doing', title: 'Ship it' });
    expect(structured(updated).row.syncId).toBeGreaterThan(row.syncId);

    const deleted = await s.call('tasks_delete', { id: row.id });
    expect(deleted.isError).toBeFalsy();
    expect(structured(deleted)).toMatchObject({ deleted: true, id: row.id });

    const gone = await s.call('tasks_get', { id: row.id });
    expect(gone.isError).toBe(true);
    expect(textOf(gone)).toContain(row.id);
  });

  test('a stale update is an error result carrying the current values and the readAt to retry with', async () => {
    const s = await connect();
    const row = structured(await s.call('tasks_create', { data: { title: 'Draft', projectId: 'p1' } })).row;
    // Someone else changes the status after the agent read the row.
    const other = await api(engine.url, engine.apiKey, 'PATCH', `/v1/models/tasks/${row.id}`, { data: { status: 'done' } }, { 'ablo-participant': 'user:alice' });
    expect(other.status).toBe(200);

    const stale = await s.call('tasks_update', { id: row.id, data: { status: 'doing' }, readAt: row.syncId });
    expect(stale.isError).toBe(true);
    const err = structured(stale).error;
    expect(err).toMatchObject({
      type: 'stale_context',
      conflictingFields: ['status'],
      currentValues: { status: 'done' },
      writtenBy: { kind: 'system', id: expect.stringMatching(/^key_/) },
      onBehalfOf: { kind: 'user', id: 'alice' },
      readAt: other.body.syncId,
      observedSyncId: other.body.syncId,
    });
    expect(err.currentRow).toMatchObject({ id: row.id, status: 'done', title: 'Draft' });
    const text = textOf(stale);
    expect(text).toContain('status=done');
    expect(text).toContain('user:alice');
    expect(text).toContain(`readAt=${other.body.syncId}`);

    // Re-planned with the readAt it was given: goes through without another read.
    const retry = await s.call('tasks_update', { id: row.id, data: { status: 'doing' }, readAt: err.readAt });
    expect(retry.isError).toBeFalsy();
    expect(structured(retry).row.status).toBe('doing');
  });
});

describe('claims', () => {
  test("a claim in session A blocks session B's writes until A releases; B's claim waits its turn", async () => {
    const a = await connect(['--participant', 'agent:alpha']);
    const b = await connect(['--participant', 'agent:beta']);
    const row = structured(await a.call('tasks_create', { data: { title: 'Summarize', projectId: 'p1' } })).row;

    const claimed = await a.call('tasks_claim', { id: row.id, action: 'summarizing' });
    expect(claimed.isError).toBeFalsy();
    expect(structured(claimed).claim).toMatchObject({ model: 'tasks', rowId: row.id, holder: { kind: 'agent', id: 'alpha' }, action: 'summarizing' });

    const blocked = await b.call('tasks_update', { id: row.id, data: { status: 'done' } });
    expect(blocked.isError).toBe(true);
    expect(structured(blocked).error).toMatchObject({ type: 'claimed', holder: { kind: 'agent', id: 'alpha' }, action: 'summarizing' });
    expect(textOf(blocked)).toContain('agent:alpha');
    expect(textOf(blocked)).toContain('summarizing');
    expect(textOf(blocked)).toContain('tasks_claim');

    // The holder's own writes pass.
    expect((await a.call('tasks_update', { id: row.id, data: { status: 'doing' } })).isError).toBeFalsy();

    // B waits in line; it is granted when A releases, with the row as A left it.
    let bGranted = false;
    const bClaim = b.call('tasks_claim', { id: row.id }).then((r) => {
      bGranted = true;
      return r;
    });
    await sleep(300);
    expect(bGranted).toBe(false);
    expect(structured(await a.call('tasks_release', { id: row.id }))).toMatchObject({ released: true });
    const granted = await bClaim;
    expect(granted.isError).toBeFalsy();
    expect(structured(granted).row).toMatchObject({ id: row.id, status: 'doing' });

    // Now B writes; A (no longer holding) is refused.
    expect((await b.call('tasks_update', { id: row.id, data: { status: 'done' } })).isError).toBeFalsy();
    const aBlocked = await a.call('tasks_update', { id: row.id, data: { status: 'todo' } });
    expect(aBlocked.isError).toBe(true);
    expect(textOf(aBlocked)).toContain('agent:beta');
    await b.call('tasks_release', { id: row.id });
    // Releasing what you do not hold is harmless.
    expect(structured(await b.call('tasks_release', { id: row.id }))).toMatchObject({ released: false });
  });

  test("closing session A releases its claims, so B can claim with wait: false", async () => {
    const a = await connect(['--participant', 'agent:alpha']);
    const b = await connect(['--participant', 'agent:beta']);
    const row = structured(await a.call('tasks_create', { data: { title: 'Triage', projectId: 'p1' } })).row;
    expect((await a.call('tasks_claim', { id: row.id, leaseSeconds: 600 })).isError).toBeFalsy();

    const refused = await b.call('tasks_claim', { id: row.id, wait: false });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain('agent:alpha');

    await a.close();
    await eventually(async () => (await api(engine.url, engine.apiKey, 'GET', `/v1/models/tasks/${row.id}/claim`)).body.claim === null);
    const got = await b.call('tasks_claim', { id: row.id, wait: false });
    expect(got.isError).toBeFalsy();
    expect(structured(got).claim.holder).toEqual({ kind: 'agent', id: 'beta' });
  });
});

describe('tool selection', () => {
  test('--read-only registers no write tool', async () => {
    const s = await connect(['--read-only']);
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(['projects_list', 'projects_get', 'tasks_list', 'tasks_get', 'ablo_schema', 'ablo_presence']);
    for (const t of (await s.client.listTools()).tools) expect(t.annotations?.readOnlyHint).toBe(true);
  });

  test('--models limits the set and --disable-tools removes tools', async () => {
    const s = await connect(['--models', 'tasks', '--disable-tools', 'tasks_delete,ablo_commit']);
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(['tasks_list', 'tasks_get', 'tasks_create', 'tasks_update', 'tasks_claim', 'tasks_release', 'ablo_schema', 'ablo_presence']);
  });

  test('an unknown model or tool name fails at startup, naming it and the valid ones', async () => {
    const model = await runCli(['mcp', '--url', engine.url, '--api-key', engine.apiKey, '--models', 'tasks,taks'], dir);
    expect(model.code).toBe(2);
    expect(model.stdout).toBe('');
    expect(model.stderr.trim().split('\n')).toHaveLength(1);
    expect(model.stderr).toContain('"taks"');
    expect(model.stderr).toContain('projects, tasks');

    const tool = await runCli(['mcp', '--url', engine.url, '--api-key', engine.apiKey, '--disable-tools', 'tasks_destroy'], dir);
    expect(tool.code).toBe(2);
    expect(tool.stdout).toBe('');
    expect(tool.stderr.trim().split('\n')).toHaveLength(1);
    expect(tool.stderr).toContain('"tasks_destroy"');
    expect(tool.stderr).toContain('tasks_delete');
  });

  test('an unreachable engine or a refused key is one line on stderr and exit 1', async () => {
    const down = await runCli(['mcp', '--url', 'http://127.0.0.1:9', '--api-key', engine.apiKey], dir);
    expect(down.code).toBe(1);
    expect(down.stdout).toBe('');
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/cannot reach the engine at http:\/\/127\.0\.0\.1:9/);

    const badKey = await runCli(['mcp', '--url', engine.url, '--api-key', `sk_test_${'x'.repeat(32)}`], dir);
    expect(badKey.code).toBe(1);
    expect(badKey.stdout).toBe('');
    expect(badKey.stderr.trim().split('\n')).toHaveLength(1);
    expect(badKey.stderr).toMatch(/refused the API key/);

    const noKey = await runCli(['mcp', '--url', engine.url], dir);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/no API key/);
  });
});

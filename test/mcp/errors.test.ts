/**
 * Bad arguments are tool results with `isError: true` whose text names the
 * argument and the way out — never protocol errors, never a crashed server.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMcpServer } from '../../mcp/index.js';
import { schema } from '../fixtures/example.schema.js';
import { api, startTestEngine, stdioSession, structured, textOf, type McpSession, type TestEngine } from './helpers.js';

let engine: TestEngine;
let s: McpSession;
let taskId: string;

beforeAll(async () => {
  engine = await startTestEngine({ schema });
  await api(engine.url, engine.apiKey, 'POST', '/v1/models/projects', { id: 'p1', data: { name: 'Apollo' } });
  const t = await api(engine.url, engine.apiKey, 'POST', '/v1/models/tasks', { id: 't1', data: { title: 'One', projectId: 'p1' } });
  taskId = t.body.id;
  s = await stdioSession(engine.url, engine.apiKey);
});

afterAll(async () => {
  await s?.close().catch(() => undefined);
  await engine.stop();
});

/** Call, expect an error result, return its text. */
async function fails(name: string, args: Record<string, unknown>): Promise<string> {
  const r = await s.call(name, args);
  expect(r.isError, `${name} ${JSON.stringify(args)} should fail`).toBe(true);
  const text = textOf(r);
  expect(text.length).toBeGreaterThan(0);
  return text;
}

describe('bad arguments', () => {
  test('wrong types and missing fields name the field', async () => {
    expect(await fails('tasks_create', { data: { title: 42, projectId: 'p1' } })).toMatch(/data\.title/);
    expect(await fails('tasks_create', { data: { title: 'x' } })).toMatch(/data\.projectId/);
    expect(await fails('tasks_create', { data: { title: '', projectId: 'p1' } })).toMatch(/data\.title/);
    expect(await fails('tasks_create', { data: { title: 'x', projectId: 'p1', status: 'blocked' } })).toMatch(/todo.*doing.*done[\s\S]*data\.status/);
    expect(await fails('tasks_create', { data: { title: 'x', projectId: 'p1', estimate: 1.5 } })).toMatch(/whole number[\s\S]*data\.estimate/);
    expect(await fails('tasks_create', { data: 'title=x' })).toMatch(/tasks data must be an object with keys: assigneeId, estimate, projectId, status, title/);
    expect(await fails('tasks_update', { id: taskId, data: { status: 'done' }, readAt: -1 })).toMatch(/readAt/);
    expect(await fails('tasks_update', { id: taskId, data: { status: 'done' }, onStale: 'maybe' })).toMatch(/onStale/);
    expect(await fails('tasks_claim', { id: taskId, leaseSeconds: 0 })).toMatch(/leaseSeconds/);
  });

  test('unknown fields and arguments list the valid ones', async () => {
    expect(await fails('tasks_create', { data: { title: 'x', projectId: 'p1', priority: 1 } })).toContain(
      'Unknown key "priority" in tasks data. Valid keys: assigneeId, estimate, projectId, status, title.',
    );
    expect(await fails('tasks_update', { id: taskId, data: { titel: 'x' } })).toContain('Unknown key "titel" in tasks data. Valid keys:');
    expect(await fails('tasks_get', { id: taskId, fields: ['title'] })).toContain('Unknown key "fields" in tasks_get arguments. Valid keys: id.');
  });

  test('arguments that do not match the input schema, and unknown tools, are typed errors (type and code), not bare protocol text', async () => {
    for (const [name, args, field] of [
      ['tasks_create', { data: { title: 42, projectId: 'p1' } }, 'data.title'],
      ['tasks_update', { id: taskId, data: { status: 'done' }, readAt: -1 }, 'readAt'],
      ['tasks_get', { id: 7 }, 'id'],
      // A message of our own that ends with a full stop is not doubled.
      ['tasks_create', { data: 'title=x' }, 'data'],
    ] as const) {
      const r = await s.call(name, args);
      expect(r.isError).toBe(true);
      expect(textOf(r)).not.toMatch(/MCP error -32602/);
      expect(textOf(r)).not.toMatch(/\.\./);
      expect(structured(r).error).toMatchObject({ type: 'validation_error', code: 'invalid_arguments', field });
    }
    const unknown = await s.call('tasks_frobnicate', {});
    expect(unknown.isError).toBe(true);
    expect(structured(unknown).error).toMatchObject({ type: 'not_found', code: 'unknown_tool' });
    expect(textOf(unknown)).toContain('tasks_create');
  });

  test('unknown ids are named', async () => {
    const get = await s.call('tasks_get', { id: 'no-such-task' });
    expect(get.isError).toBe(true);
    expect(textOf(get)).toContain('No tasks row with id "no-such-task"');
    expect(structured(get).error).toMatchObject({ type: 'not_found', code: 'row_not_found', id: 'no-such-task' });
    expect(await fails('tasks_update', { id: 'no-such-task', data: { status: 'done' } })).toContain('"no-such-task"');
    expect(await fails('tasks_delete', { id: 'no-such-task' })).toContain('"no-such-task"');
    expect(await fails('tasks_claim', { id: 'no-such-task', wait: false })).toContain('no-such-task');
  });

  test('list: a bad where field, value, sort or limit is named', async () => {
    expect(await fails('tasks_list', { where: { priority: 1 } })).toContain('Unknown key "priority" in tasks where. Valid keys: id, assigneeId, estimate');
    expect(await fails('tasks_list', { where: { estimate: 'three' } })).toMatch(/where\.estimate/);
    expect(await fails('tasks_list', { where: { status: 'blocked' } })).toMatch(/where\.status/);
    expect(await fails('tasks_list', { orderBy: { title: 'up' } })).toMatch(/orderBy\.title/);
    expect(await fails('tasks_list', { orderBy: { nope: 'asc' } })).toContain('Unknown key "nope" in tasks orderBy');
    expect(await fails('tasks_list', { limit: 0 })).toMatch(/limit/);
    expect(await fails('tasks_list', { limit: 5000 })).toMatch(/limit/);
  });

  test('list: a malformed or foreign cursor is named, with the way out', async () => {
    expect(await fails('tasks_list', { cursor: 'not a cursor!' })).toMatch(/^cursor: not a cursor this server issued\. Pass the nextCursor/);
    expect(await fails('tasks_list', { cursor: Buffer.from('{"v":2}').toString('base64url') })).toMatch(/^cursor: /);
    const projects = await s.call('projects_list', { limit: 1 });
    // One project only: make a cursor-bearing page of tasks instead, then use it on projects.
    expect(structured(projects).hasMore).toBe(false);
    await api(engine.url, engine.apiKey, 'POST', '/v1/models/tasks', { id: 't2', data: { title: 'Two', projectId: 'p1' } });
    const page = structured(await s.call('tasks_list', { limit: 1, where: { projectId: 'p1' } }));
    expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]{8,}$/);
    expect(await fails('projects_list', { cursor: page.nextCursor })).toContain('it belongs to tasks_list, not projects_list');
    expect(await fails('tasks_list', { cursor: page.nextCursor, where: { projectId: 'p2' } })).toContain('where differs from the query this cursor continues');
    // The same where again is fine.
    expect((await s.call('tasks_list', { cursor: page.nextCursor, where: { projectId: 'p1' } })).isError).toBeFalsy();
    // A cursor whose row was deleted meanwhile: start over.
    await api(engine.url, engine.apiKey, 'DELETE', `/v1/models/tasks/${page.data[0].id}`);
    expect(await fails('tasks_list', { cursor: page.nextCursor })).toMatch(/^cursor: the row this cursor continues after .* was deleted.*without cursor/);
    await api(engine.url, engine.apiKey, 'POST', '/v1/models/tasks', { id: page.data[0].id, data: { title: 'One', projectId: 'p1' } });
  });

  test('engine-side failures: duplicate id, empty update, a bad batch', async () => {
    expect(await fails('tasks_create', { id: 't2', data: { title: 'Again', projectId: 'p1' } })).toMatch(/t2/);
    expect(await fails('tasks_update', { id: 't2', data: {} })).toMatch(/no fields to write/);
    const batch = await s.call('ablo_commit', {
      operations: [
        { op: 'create', model: 'tasks', data: { title: 'ok', projectId: 'p1' } },
        { op: 'update', model: 'tasks', id: 't2', data: { status: 'blocked' } },
      ],
    });
    expect(batch.isError).toBe(true);
    expect(textOf(batch)).toMatch(/status/);
    expect(await fails('ablo_commit', { operations: [{ op: 'create', model: 'users', data: {} }] })).toMatch(/operations/);
    expect(await fails('ablo_commit', { operations: [] })).toMatch(/operations/);
  });

  test('a stale batch read names what moved and how to retry', async () => {
    const read = await api(engine.url, engine.apiKey, 'POST', '/v1/models/tasks', { id: 't3', data: { title: 'Three', projectId: 'p1' } });
    await api(engine.url, engine.apiKey, 'PATCH', '/v1/models/tasks/t3', { data: { title: 'Three, edited' } }, { 'ablo-participant': 'user:bob' });
    const r = await s.call('ablo_commit', {
      operations: [{ op: 'update', model: 'tasks', id: 't2', data: { status: 'done' } }],
      reads: [{ model: 'tasks', id: 't3', readAt: read.body.syncId }],
    });
    expect(r.isError).toBe(true);
    // The key wrote it, on bob's behalf (it named user:bob).
    expect(structured(r).error).toMatchObject({
      type: 'stale_context',
      writtenBy: { kind: 'system', id: expect.stringMatching(/^key_/) },
      onBehalfOf: { kind: 'user', id: 'bob' },
      currentRow: { id: 't3', title: 'Three, edited' },
    });
    expect(textOf(r)).toMatch(/written by system:key_\w+ on behalf of user:bob/);
    expect(textOf(r)).toContain('title="Three, edited"');
    // Nothing of the batch was written.
    expect((await api(engine.url, engine.apiKey, 'GET', '/v1/models/tasks/t2')).body.status).toBe('todo');
  });

  test('an unknown tool is an error result too, and the server still answers afterwards', async () => {
    const r = await s.call('tasks_frobnicate', {});
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('tasks_frobnicate');
    const ok = await s.call('tasks_list', { limit: 5 });
    expect(ok.isError).toBeFalsy();
    expect(structured(ok).count).toBeGreaterThan(0);
    expect(s.transportErrors).toEqual([]);
    expect(s.stderr()).not.toMatch(/Error|at .*\.js:\d+/);
  });
});

describe('createMcpServer options', () => {
  test('unknown models and tools, a tiny budget or a bad participant fail at startup, naming the valid values', async () => {
    const base = { engineUrl: engine.url, apiKey: engine.apiKey, log: () => {} };
    await expect(createMcpServer({ ...base, models: ['tasks', 'users'] })).rejects.toMatchObject({
      code: 'unknown_model',
      message: expect.stringContaining('"users"'),
      details: expect.objectContaining({ valid: ['projects', 'tasks'] }),
    });
    await expect(createMcpServer({ ...base, disableTools: ['tasks_remove'] })).rejects.toMatchObject({
      code: 'unknown_tool',
      message: expect.stringMatching(/"tasks_remove".*tasks_delete/),
    });
    await expect(createMcpServer({ ...base, tokenBudget: 10 })).rejects.toMatchObject({ code: 'invalid_token_budget' });
    await expect(createMcpServer({ ...base, participant: 'robot:x' })).rejects.toMatchObject({ code: 'invalid_participant' });
    await expect(createMcpServer({ ...base, apiKey: `sk_test_${'1'.repeat(32)}` })).rejects.toMatchObject({ type: 'authentication_error' });
    await expect(createMcpServer({ ...base, engineUrl: 'http://127.0.0.1:9' })).rejects.toMatchObject({ type: 'connection_error' });
    const ok = await createMcpServer({ ...base, models: ['tasks'], disableTools: ['projects_list'], readOnly: true });
    expect(ok.tools).toEqual(['tasks_list', 'tasks_get', 'ablo_schema', 'ablo_presence']);
    await ok.close();
  });
});

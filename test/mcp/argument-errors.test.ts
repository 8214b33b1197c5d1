/**
 * Input-schema failures, through a real SDK client: a normal tool result with
 * isError, one line per argument saying what was expected, what came, and the
 * fix — not the SDK's "MCP error -32602" protocol error. The advertised JSON
 * input schemas stay strict.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { schema } from '../fixtures/example.schema.js';
import { inProcessSession, startTestEngine, structured, textOf, type McpSession, type TestEngine } from './helpers.js';

let engine: TestEngine;
let s: McpSession;

beforeAll(async () => {
  engine = await startTestEngine({ schema });
  s = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey });
});

afterAll(async () => {
  await s?.close().catch(() => undefined);
  await engine.stop();
});

async function refused(name: string, args: Record<string, unknown>): Promise<{ text: string; error: any }> {
  const r = await s.call(name, args);
  expect(r.isError).toBe(true);
  const text = textOf(r);
  expect(text).not.toMatch(/MCP error|-32602|Invalid input/);
  return { text, error: structured(r).error };
}

describe('bad arguments read as the argument and the fix', () => {
  test('a wrong type names the argument, what was expected and what came', async () => {
    const { text, error } = await refused('tasks_list', { limit: 'abc' });
    expect(text).toBe('Argument `limit`: expected a number (got "abc"). Fix: pass `limit` as a number and call tasks_list again.');
    expect(error).toMatchObject({ type: 'validation_error', code: 'invalid_arguments', field: 'limit', message: text });
    expect(error.issues).toEqual([{ field: 'limit', code: 'invalid_type', message: expect.stringContaining('expected number') }]);
  });

  test('a value out of range says the bound', async () => {
    const { text } = await refused('tasks_list', { limit: 5000 });
    expect(text).toBe('Argument `limit`: expected a number ≤ 1000 (got 5000). Fix: pass `limit` as a number ≤ 1000 and call tasks_list again.');
  });

  test('a missing required argument, top-level and nested', async () => {
    expect((await refused('tasks_get', {})).text).toBe('Argument `id` is required and missing. Fix: pass `id` (a string) and call tasks_get again.');
    const nested = await refused('tasks_create', { data: { title: 'x' } });
    expect(nested.text).toBe('Argument `data.projectId` is required and missing. Fix: pass `data.projectId` (a string) and call tasks_create again.');
    expect(nested.error.field).toBe('data.projectId');
  });

  test('an enum value lists the options; an unknown key says to leave it out', async () => {
    expect((await refused('tasks_create', { data: { title: 'x', projectId: 'p1', status: 'blocked' } })).text).toBe(
      'Argument `data.status`: expected one of "todo", "doing", "done" (got "blocked"). Fix: pass `data.status` as one of "todo", "doing", "done" and call tasks_create again.',
    );
    expect((await refused('tasks_get', { id: 't', fields: ['a'] })).text).toBe(
      'Unknown key "fields" in tasks_get arguments. Valid keys: id. Fix: leave out `fields` and call tasks_get again.',
    );
  });

  test('several bad arguments: one line each', async () => {
    const { text, error } = await refused('tasks_claim', { id: 5, leaseSeconds: 0 });
    expect(text.split('\n')).toEqual([
      'Argument `id`: expected a string (got 5). Fix: pass `id` as a string and call tasks_claim again.',
      expect.stringMatching(/^Argument `leaseSeconds`: expected a number ≥ 1 \(got 0\)\. Fix: pass `leaseSeconds` as a number ≥ 1 and call tasks_claim again\.$/),
    ]);
    expect(error.issues.map((i: { field: string }) => i.field)).toEqual(['id', 'leaseSeconds']);
  });

  test('the advertised input schemas stay strict', async () => {
    const { tools } = await s.client.listTools();
    const list = tools.find((t) => t.name === 'tasks_list')!.inputSchema as any;
    expect(list.properties.limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
    expect(list.additionalProperties).toBe(false);
    const get = tools.find((t) => t.name === 'tasks_get')!.inputSchema as any;
    expect(get.required).toEqual(['id']);
  });
});

/**
 * Structured output: every tool lists an `outputSchema`, and every result a
 * real SDK client gets — successes (create, get, list pages, update, a held
 * write, delete, claim, release, commit, schema, rows cut to fit the budget)
 * and failures — validates against it with a JSON Schema validator (ajv, as
 * the SDK's client uses). The client's own check runs too: `callTool` would
 * throw on a mismatch. Failures also validate `structuredContent.error`
 * against `toolErrorSchema`.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z as zod } from 'zod';
import { toolErrorSchema } from '../../mcp/outputs.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { api, inProcessSession, startTestEngine, structured, textOf, type McpSession, type TestEngine } from './helpers.js';

/** Every field kind, optional and nullable ones, and a sync group (for a scoped credential). */
const schema = defineSchema({
  items: model(
    {
      title: z.string().min(1).max(50_000),
      code: z.string().regex(/^[A-Z]{3}-\d+$/),
      count: z.number().int().min(0),
      price: z.number().nullable().default(null),
      done: z.boolean().default(false),
      kind: z.enum(['book', 'tool', 'food']),
      meta: z.json().optional(),
      due: z.iso.datetime().optional(),
      day: z.iso.date().nullable().default(null),
      tags: z.array(z.string()).default([]),
      note: z.string().optional(),
      owner: z.string(),
    },
    {},
    { syncGroupFormat: 'owner:{owner}' },
  ),
  labels: model({ name: z.string() }),
});

const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
const errorValidator = ajv.compile(zod.toJSONSchema(toolErrorSchema, { target: 'draft-7', io: 'input' }));

let engine: TestEngine;
let s: McpSession;
let other: McpSession;
const validators = new Map<string, ValidateFunction>();
/** Tools whose successful result was checked, and failures checked per tool. */
const checked = new Set<string>();

function problems(v: ValidateFunction, value: unknown): string {
  return v(value) ? '' : ajv.errorsText(v.errors, { separator: '\n' });
}

async function listSchemas(session: McpSession): Promise<void> {
  const { tools } = await session.client.listTools();
  for (const t of tools) {
    expect(t.outputSchema, `${t.name} declares an outputSchema`).toBeDefined();
    expect(t.outputSchema!.type).toBe('object');
    validators.set(t.name, ajv.compile(t.outputSchema!));
  }
}

/** A call that succeeds: the client did not throw, and the structured content validates against the tool's outputSchema. */
async function ok(name: string, args: Record<string, unknown> = {}, session = s): Promise<any> {
  const r = (await session.call(name, args)) as CallToolResult;
  expect(r.isError, `${name}: ${textOf(r)}`).toBeFalsy();
  expect(textOf(r).length).toBeGreaterThan(0);
  expect(problems(validators.get(name)!, r.structuredContent), `${name} ${JSON.stringify(r.structuredContent).slice(0, 400)}`).toBe('');
  checked.add(name);
  return structured(r);
}

/** A call that fails: isError, the client did not throw, the whole content validates against the tool's outputSchema and its error against the error schema. */
async function fails(name: string, args: Record<string, unknown>, session = s): Promise<any> {
  const r = (await session.call(name, args)) as CallToolResult;
  expect(r.isError, `${name} should fail`).toBe(true);
  const { error } = structured(r);
  expect(problems(validators.get(name)!, r.structuredContent), `${name} failure against its outputSchema`).toBe('');
  expect(problems(errorValidator, error), `${name} error ${JSON.stringify(error).slice(0, 400)}`).toBe('');
  expect(toolErrorSchema.safeParse(error).success).toBe(true);
  expect(error.fix.length).toBeGreaterThan(10);
  return error;
}

const full = {
  title: 'A full item',
  code: 'ABC-1',
  count: 3,
  price: 9.5,
  done: true,
  kind: 'book',
  meta: { nested: [1, 'two', null] },
  due: '2026-12-01T10:00:00Z',
  day: '2026-12-01',
  tags: ['a', 'b'],
  note: 'a note',
  owner: 'ana',
};

beforeAll(async () => {
  engine = await startTestEngine({ schema });
  s = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey, participant: 'agent:one' });
  other = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey, participant: 'agent:two' });
  await listSchemas(s);
  await other.client.listTools();
});

afterAll(async () => {
  await s?.close().catch(() => undefined);
  await other?.close().catch(() => undefined);
  await engine?.stop();
});

describe('successful results validate against their outputSchema', () => {
  test('every tool lists an outputSchema that accepts its result or a failure', async () => {
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name)).toContain('items_list');
    for (const t of tools) {
      const anyOf = t.outputSchema!.anyOf as Array<{ required: string[] }>;
      expect(anyOf.at(-1), t.name).toMatchObject({ required: ['error'], maxProperties: 1 });
      expect((t.outputSchema!.properties as Record<string, unknown>).error, t.name).toBeDefined();
    }
    const list = tools.find((t) => t.name === 'items_list')!.outputSchema as any;
    expect(Object.keys(list.properties)).toEqual(expect.arrayContaining(['data', 'hasMore', 'nextCursor']));
    // The row is the model's: fields with their types, enum values, formats.
    const row = list.properties.data.items;
    expect(row.required).toEqual(expect.arrayContaining(['id', 'syncId', 'title', 'kind', 'meta']));
    expect(row.properties.count).toMatchObject({ type: 'integer', minimum: 0 });
    expect(row.properties.kind.anyOf[0]).toMatchObject({ enum: ['book', 'tool', 'food'] });
  });

  test('the schemas refuse what a tool never returns', async () => {
    const row = { id: 'x', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', syncId: 1, ...full, note: null, due: null };
    const get = validators.get('items_get')!;
    expect(problems(get, { row, claim: null, queue: [] })).toBe('');
    expect(problems(get, { row })).not.toBe('');
    expect(problems(get, { row: { ...row, kind: 'car' } })).toMatch(/kind/);
    expect(problems(get, { row: { ...row, count: '3' } })).toMatch(/count/);
    expect(problems(get, { row: { ...row, code: 'lowercase' } })).toMatch(/code/);
    expect(problems(get, { row: { ...row, day: 'tuesday' } })).toMatch(/day/);
    const { title: _title, ...untitled } = row;
    expect(problems(get, { row: untitled })).toMatch(/title/);
    expect(problems(get, { row, error: { type: 'not_found', code: 'row_not_found', message: 'm', fix: 'f' } })).not.toBe('');
    expect(problems(get, { error: { type: 'not_found', code: 'row_not_found', message: 'm' } })).not.toBe('');
    expect(problems(validators.get('items_list')!, { rows: [row], hasMore: false, model: 'items', count: 1 })).not.toBe('');
    expect(problems(validators.get('items_claim')!, { status: 'waiting', model: 'items', id: 'x' })).not.toBe('');
    expect(problems(errorValidator, { type: 'stale_context', code: 'stale_context', message: 'm', fix: 'f', conflictingFields: [], writtenBy: null })).toMatch(/readAt|currentValues/);
  });

  test('create, get, list pages, update, delete', async () => {
    const created = await ok('items_create', { id: 'i1', data: full });
    expect(created.row).toMatchObject({ id: 'i1', kind: 'book', meta: full.meta });
    const minimal = await ok('items_create', { data: { title: 'Minimal', code: 'XYZ-2', count: 0, kind: 'food', owner: 'ana' } });
    expect(minimal.row).toMatchObject({ price: null, done: false, note: null, tags: [] });
    await ok('labels_create', { id: 'l1', data: { name: 'red' } });

    const got = await ok('items_get', { id: 'i1' });
    expect(got.row).toEqual(created.row);

    const first = await ok('items_list', { limit: 1, orderBy: { title: 'asc' } });
    expect(first).toMatchObject({ model: 'items', count: 1, hasMore: true });
    expect(first.data).toHaveLength(1);
    const second = await ok('items_list', { cursor: first.nextCursor });
    expect(second).toMatchObject({ count: 1, hasMore: false });
    expect(second.nextCursor).toBeUndefined();
    expect((await ok('items_list', { where: { kind: 'tool' } })).data).toEqual([]);

    const updated = await ok('items_update', { id: 'i1', data: { count: 4, note: null, tags: [] }, readAt: got.row.syncId });
    expect(updated.row).toMatchObject({ count: 4, note: null });

    const deleted = await ok('items_delete', { id: minimal.row.id });
    expect(deleted).toMatchObject({ deleted: true, model: 'items', id: minimal.row.id });
  });

  test('held writes (onStale "notify"): the receipt with its stale notification', async () => {
    const row = (await ok('items_create', { id: 'held', data: { ...full, code: 'HLD-1' } })).row;
    await ok('items_update', { id: 'held', data: { count: 10 } }, other);
    const held = await ok('items_update', { id: 'held', data: { count: 11 }, readAt: row.syncId, onStale: 'notify' });
    expect(held.status).toBe('held');
    expect(held.receipt.notifications[0]).toMatchObject({ object: 'stale_notification', model: 'items', id: 'held', currentValues: { count: 10 } });
    const heldDelete = await ok('items_delete', { id: 'held', readAt: row.syncId, onStale: 'notify' });
    expect(heldDelete.receipt.status).toBe('held');
  });

  test('claim, get while held, release (held and not), commit, presence, schema', async () => {
    const claimed = await ok('items_claim', { id: 'i1', action: 'checking' });
    expect(claimed.status).toBe('granted');
    // While held, _get names the holder (claim and queue are part of its declared shape).
    const seen = await ok('items_get', { id: 'i1' });
    expect(seen.claim).toMatchObject({ action: 'checking' });
    expect(seen.queue).toEqual([]);
    expect(claimed.claim).toMatchObject({ object: 'claim', rowId: 'i1', action: 'checking' });
    expect(claimed.row.id).toBe('i1');
    expect(await ok('items_release', { id: 'i1' })).toMatchObject({ released: true, model: 'items', id: 'i1' });
    expect(await ok('items_release', { id: 'i1' })).toMatchObject({ released: false });

    const committed = await ok('ablo_commit', {
      operations: [
        { op: 'create', model: 'labels', id: 'l2', data: { name: 'blue' } },
        { op: 'update', model: 'items', id: 'i1', data: { done: false } },
      ],
    });
    expect(committed.receipt).toMatchObject({ object: 'commit', status: 'committed' });

    expect(await ok('ablo_presence', { group: 'owner:ana' })).toEqual({ group: 'owner:ana', members: [] });

    const described = await ok('ablo_schema');
    expect(described.models.items.fields.kind).toMatchObject({ type: 'enum', values: ['book', 'tool', 'food'] });
  });

  test('rows cut to fit a small budget still validate (get and a list page)', async () => {
    const huge = 'long text '.repeat(1500);
    await api(engine.url, engine.apiKey, 'POST', '/v1/models/items', {
      id: 'big',
      data: { ...full, code: 'BIG-1', title: huge, note: huge, meta: { blob: huge }, tags: Array.from({ length: 400 }, (_, i) => `tag-${i}`) },
    });
    const small = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey, tokenBudget: 500 });
    try {
      await listSchemas(small);
      const got = await ok('items_get', { id: 'big' }, small);
      expect(got.clippedFields).toEqual(expect.arrayContaining(['title', 'tags']));
      expect(got.row.title).toMatch(/cut to fit the output budget\)$/);
      const page = await ok('items_list', { where: { code: 'BIG-1' } }, small);
      expect(page.clippedFields.length).toBeGreaterThan(0);
    } finally {
      await small.close();
      await listSchemas(s);
    }
  });

  test('every tool was checked', () => {
    const all = [...validators.keys()].filter((n) => !n.startsWith('labels_') || n === 'labels_create');
    expect(all.filter((n) => !checked.has(n))).toEqual([]);
  });
});

describe('failures carry structuredContent.error in the documented shape', () => {
  test('stale: currentValues and readAt', async () => {
    const row = (await ok('items_get', { id: 'i1' })).row;
    await ok('items_update', { id: 'i1', data: { title: 'Changed by two' } }, other);
    const error = await fails('items_update', { id: 'i1', data: { title: 'Mine' }, readAt: row.syncId });
    expect(error).toMatchObject({ type: 'stale_context', model: 'items', id: 'i1', currentValues: { title: 'Changed by two' } });
    expect(error.readAt).toBeGreaterThan(row.syncId);
    expect(error.fix).toContain(`readAt=${error.readAt}`);
    expect(textOf(await s.call('items_update', { id: 'i1', data: { title: 'Mine' }, readAt: row.syncId }))).toContain(error.fix);
  });

  test('not found, validation (arguments and the engine), claimed', async () => {
    expect(await fails('items_get', { id: 'nope' })).toMatchObject({ type: 'not_found', code: 'row_not_found' });
    const invalid = await fails('items_create', { data: { ...full, kind: 'car' } });
    expect(invalid).toMatchObject({ type: 'validation_error', code: 'invalid_arguments', field: 'data.kind' });
    expect(invalid.fix).toBe('Pass `data.kind` as one of "book", "tool", "food" and call items_create again.');
    expect(await fails('items_create', { id: 'i1', data: full })).toMatchObject({ type: 'validation_error', code: 'id_exists' });
    expect(await fails('items_list', { cursor: 'garbage' })).toMatchObject({ code: 'invalid_cursor' });

    await ok('items_claim', { id: 'i1' }, other);
    try {
      const error = await fails('items_update', { id: 'i1', data: { count: 1 } });
      expect(error).toMatchObject({ type: 'claimed', code: 'row_claimed', holder: { kind: 'agent', id: 'two' } });
      expect(await fails('items_claim', { id: 'i1', wait: false })).toMatchObject({ type: 'claimed' });
    } finally {
      await other.call('items_release', { id: 'i1' });
    }
  });

  test('permission: a scoped credential refused an operation through a tool it lists', async () => {
    const minted = await api(engine.url, engine.apiKey, 'POST', '/v1/sessions', {
      participant: { kind: 'user', id: 'ana' },
      syncGroups: ['owner:ana'],
      operations: ['read', 'update'],
    });
    expect(minted.status).toBe(201);
    const scoped = await inProcessSession({ engineUrl: engine.url, apiKey: minted.body.token });
    try {
      await listSchemas(scoped);
      const error = await fails('ablo_commit', { operations: [{ op: 'create', model: 'labels', data: { name: 'x' } }] }, scoped);
      expect(error).toMatchObject({ type: 'permission_error' });
    } finally {
      await scoped.close();
      await listSchemas(s);
    }
  });
});

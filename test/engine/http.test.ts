import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createEngine, sendJson } from '../../src/engine/index.js';
import { defineSchema, model, z, belongsTo } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({
  projects: model({ name: z.string().min(1) }),
  tasks: model(
    {
      title: z.string().min(1),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      assigneeId: z.string().nullable().default(null),
      projectId: z.string(),
      estimate: z.number().int().optional(),
      done: z.boolean().default(false),
      meta: z.json().optional(),
    },
    { project: belongsTo('projects', 'projectId') },
    { syncGroupFormat: 'project:{projectId}' },
  ),
});

let t: TestEngine;
beforeAll(async () => {
  t = await startTestEngine(schema);
});
afterAll(async () => {
  await t.stop();
});

function expectEnvelope(body: any, type: string, code?: string): void {
  expect(body).toHaveProperty('error');
  expect(body.error.type).toBe(type);
  if (code) expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
}

describe('health and auth', () => {
  test('health needs no key and reports schema and sync id', async () => {
    const res = await fetch(`${t.url}/v1/health`);
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ ok: true, schemaHash: schema.serialized.hash, lastSyncId: expect.any(Number) });
    expect(typeof body.version).toBe('string');
  });

  test('every other route needs a valid key (401 envelope)', async () => {
    const none = await fetch(`${t.url}/v1/models/tasks`);
    expect(none.status).toBe(401);
    expectEnvelope(await none.json(), 'authentication_error', 'missing_api_key');
    const wrong = await t.http('GET', '/v1/models/tasks', undefined, { authorization: 'Bearer sk_test_' + 'x'.repeat(32) });
    expect(wrong.status).toBe(401);
    expectEnvelope(wrong.body, 'authentication_error', 'invalid_api_key');
    const malformed = await t.http('GET', '/v1/models/tasks', undefined, { authorization: 'Bearer nope' });
    expectEnvelope(malformed.body, 'authentication_error', 'malformed_api_key');
  });

  test('the dev key is stored hashed, never in clear', async () => {
    const keys = await t.engine.storage.listApiKeys();
    expect(keys.length).toBe(1);
    expect(keys[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(keys)).not.toContain(t.key);
  });

  test('openapi.json is served for the pushed schema', async () => {
    const res = await fetch(`${t.url}/v1/openapi.json`);
    const doc = await res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/models/tasks');
  });
});

describe('CRUD', () => {
  test('create, get, update, list, delete', async () => {
    const p = await t.http('POST', '/v1/models/projects', { data: { name: 'Apollo' } });
    expect(p.status).toBe(201);
    expect(p.body.id).toMatch(/^project_[0-9A-Z]{26}$/);

    const created = await t.http('POST', '/v1/models/tasks', { data: { title: 'Ship', projectId: p.body.id, meta: { tags: ['a'] } } });
    expect(created.status).toBe(201);
    const task = created.body;
    expect(task).toMatchObject({
      title: 'Ship',
      status: 'todo',
      assigneeId: null,
      projectId: p.body.id,
      estimate: null,
      done: false,
      meta: { tags: ['a'] },
    });
    expect(task.syncId).toBeGreaterThan(p.body.syncId);
    expect(task.createdAt).toBe(task.updatedAt);
    expect(Number(created.headers.get('ablo-sync-id'))).toBe(task.syncId);

    const got = await t.http('GET', `/v1/models/tasks/${task.id}`);
    expect(got.body).toEqual(task);

    const updated = await t.http('PATCH', `/v1/models/tasks/${task.id}`, { data: { status: 'doing', estimate: 3, done: true } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ status: 'doing', estimate: 3, done: true, title: 'Ship' });
    expect(updated.body.syncId).toBeGreaterThan(task.syncId);

    const list = await t.http('GET', `/v1/models/tasks?where[projectId]=${p.body.id}`);
    expect(list.body).toMatchObject({ object: 'list', hasMore: false });
    expect(list.body.data.map((r: any) => r.id)).toEqual([task.id]);

    const del = await t.http('DELETE', `/v1/models/tasks/${task.id}`);
    expect(del.body).toMatchObject({ object: 'deleted', id: task.id, deleted: true });
    const gone = await t.http('GET', `/v1/models/tasks/${task.id}`);
    expect(gone.status).toBe(404);
    expectEnvelope(gone.body, 'not_found', 'row_not_found');
  });

  test('client-supplied ids are kept; a duplicate id is refused', async () => {
    const a = await t.http('POST', '/v1/models/projects', { id: 'proj-fixed-1', data: { name: 'Fixed' } });
    expect(a.status).toBe(201);
    expect(a.body.id).toBe('proj-fixed-1');
    const b = await t.http('POST', '/v1/models/projects', { id: 'proj-fixed-1', data: { name: 'Again' } });
    expect(b.status).toBe(400);
    expectEnvelope(b.body, 'validation_error', 'id_exists');
  });

  test('list filters: IN, booleans, numbers, null, ordering, paging', async () => {
    const pid = (await t.http('POST', '/v1/models/projects', { data: { name: 'Filters' } })).body.id;
    const rows = [
      { title: 'c', status: 'todo', estimate: 3, done: false },
      { title: 'a', status: 'doing', estimate: 1, done: true },
      { title: 'b', status: 'done', done: true },
      { title: 'd', status: 'todo', estimate: 2, done: false },
    ];
    for (const r of rows) await t.http('POST', '/v1/models/tasks', { data: { ...r, projectId: pid } });
    const q = (s: string) => t.http('GET', `/v1/models/tasks?where[projectId]=${pid}&${s}`).then((r) => r.body.data.map((x: any) => x.title));
    expect(await q('where[status]=todo&where[status]=doing&orderBy[title]=asc')).toEqual(['a', 'c', 'd']);
    expect(await q('where[done]=true&orderBy[title]=desc')).toEqual(['b', 'a']);
    expect(await q('where[estimate]=2')).toEqual(['d']);
    expect(await q('where[estimate]=null')).toEqual(['b']);
    expect(await q('orderBy=estimate:desc,title:asc')).toEqual(['c', 'd', 'a', 'b']);
    const json = await t.http('GET', `/v1/models/tasks?where=${encodeURIComponent(JSON.stringify({ projectId: pid, status: ['done', 'doing'] }))}&orderBy[title]=asc`);
    expect(json.body.data.map((x: any) => x.title)).toEqual(['a', 'b']);
    const page1 = await t.http('GET', `/v1/models/tasks?where[projectId]=${pid}&orderBy[title]=asc&limit=2`);
    expect(page1.body.hasMore).toBe(true);
    const last = page1.body.data.at(-1).id;
    const page2 = await t.http('GET', `/v1/models/tasks?where[projectId]=${pid}&orderBy[title]=asc&limit=2&startingAfter=${last}`);
    expect([...page1.body.data, ...page2.body.data].map((x: any) => x.title)).toEqual(['a', 'b', 'c', 'd']);
    expect(page2.body.hasMore).toBe(false);
  });

  test('changes after a sync id, in order', async () => {
    const before = (await (await fetch(`${t.url}/v1/health`)).json()).lastSyncId;
    const p = await t.http('POST', '/v1/models/projects', { data: { name: 'Log' } });
    await t.http('PATCH', `/v1/models/projects/${p.body.id}`, { data: { name: 'Log 2' } });
    const res = await t.http('GET', `/v1/changes?after=${before}`);
    expect(res.body.data.map((c: any) => [c.syncId, c.action, c.fields])).toEqual([
      [before + 1, 'create', ['name']],
      [before + 2, 'update', ['name']],
    ]);
    expect(res.body.data[1]).toMatchObject({ model: 'projects', id: p.body.id, data: { name: 'Log 2' }, groups: ['default'] });
    expect(res.body.data[1].participant).toMatchObject({ kind: 'system' });
  });

  test('participant header: the key writes on behalf of the participant it names', async () => {
    const p = await t.http('POST', '/v1/models/projects', { data: { name: 'Who' } }, { 'ablo-participant': 'agent:summarizer' });
    const res = await t.http('GET', `/v1/changes?after=${p.body.syncId - 1}&limit=1`);
    // Written by the key's own participant, for the one it named.
    expect(res.body.data[0].participant).toEqual({ kind: 'system', id: expect.stringMatching(/^key_/) });
    expect(res.body.data[0].onBehalfOf).toEqual({ kind: 'agent', id: 'summarizer' });
    const bad = await t.http('POST', '/v1/models/projects', { data: { name: 'Who' } }, { 'ablo-participant': 'robot:x' });
    expect(bad.status).toBe(400);
  });
});

describe('commits', () => {
  test('a batch is atomic: one invalid op writes nothing', async () => {
    const before = (await (await fetch(`${t.url}/v1/health`)).json()).lastSyncId;
    const res = await t.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'projects', id: 'atomic-1', data: { name: 'ok' } },
        { op: 'create', model: 'projects', id: 'atomic-2', data: { name: '' } },
      ],
    });
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'validation_error');
    expect(res.body.error.field).toBe('name');
    expect(res.body.error.operationIndex).toBe(1);
    expect((await t.http('GET', '/v1/models/projects/atomic-1')).status).toBe(404);
    const after = (await (await fetch(`${t.url}/v1/health`)).json()).lastSyncId;
    expect(after).toBe(before);
  });

  test('a batch gets consecutive sync ids and one receipt', async () => {
    const res = await t.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'projects', id: 'batch-1', data: { name: 'one' } },
        { op: 'update', model: 'projects', id: 'batch-1', data: { name: 'one!' } },
        { op: 'create', model: 'tasks', data: { title: 'in batch', projectId: 'batch-1' } },
      ],
    });
    expect(res.status).toBe(200);
    const r = res.body;
    expect(r).toMatchObject({ object: 'commit', status: 'committed' });
    const ids = r.results.map((x: any) => x.syncId);
    expect(ids).toEqual([ids[0], ids[0] + 1, ids[0] + 2]);
    expect(r.lastSyncId).toBe(ids[2]);
    expect((await t.http('GET', '/v1/models/projects/batch-1')).body.name).toBe('one!');
  });

  test('idempotent replay returns the original receipt and writes nothing', async () => {
    const body = { operations: [{ op: 'create', model: 'projects', data: { name: 'once' } }], idempotencyKey: 'idem-test-1' };
    const first = await t.http('POST', '/v1/commits', body);
    const again = await t.http('POST', '/v1/commits', body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const list = await t.http('GET', `/v1/models/projects?where[name]=once`);
    expect(list.body.data).toHaveLength(1);
    const changes = await t.http('GET', `/v1/changes?after=${first.body.lastSyncId}`);
    expect(changes.body.data.filter((c: any) => c.clientTxId === 'idem-test-1')).toHaveLength(0);

    const conflict = await t.http('POST', '/v1/commits', { ...body, operations: [{ op: 'create', model: 'projects', data: { name: 'different' } }] });
    expect(conflict.status).toBe(409);
    expectEnvelope(conflict.body, 'idempotency_error', 'idempotency_key_reused');
  });

  test('Idempotency-Key header on create replays the same row', async () => {
    const a = await t.http('POST', '/v1/models/projects', { data: { name: 'hdr' } }, { 'idempotency-key': 'hdr-key-1' });
    const b = await t.http('POST', '/v1/models/projects', { data: { name: 'hdr' } }, { 'idempotency-key': 'hdr-key-1' });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    expect((await t.http('GET', '/v1/models/projects?where[name]=hdr')).body.data).toHaveLength(1);
  });
});

describe('bad input gets a typed error and the engine keeps serving', () => {
  test('malformed JSON', async () => {
    const res = await t.http('POST', '/v1/commits', '{ "operations": [', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'validation_error', 'invalid_json');
  });

  test('validation errors name the field', async () => {
    const res = await t.http('POST', '/v1/models/tasks', { data: { title: 42, projectId: 'p' } });
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'validation_error');
    expect(res.body.error.field).toBe('title');
    expect(res.body.error.model).toBe('tasks');
    const unknown = await t.http('POST', '/v1/models/tasks', { data: { title: 'x', projectId: 'p', priority: 1 } });
    expect(unknown.body.error.field).toBe('priority');
    expect(unknown.body.error.code).toBe('unknown_field');
    const missing = await t.http('POST', '/v1/models/tasks', { data: { title: 'x' } });
    expect(missing.body.error.field).toBe('projectId');
    const wrongEnum = await t.http('PATCH', '/v1/models/tasks/nope', { data: { status: 'later' } });
    expect(wrongEnum.body.error.field).toBe('status');
  });

  test('unknown model and unknown route', async () => {
    const res = await t.http('GET', '/v1/models/users');
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'validation_error', 'unknown_model');
    expect(res.body.error.message).toMatch(/Known models: projects, tasks/);
    const route = await t.http('GET', '/v2/whatever');
    expect(route.status).toBe(404);
    expectEnvelope(route.body, 'not_found', 'route_not_found');
  });

  test('SQL-looking names in where and orderBy are refused by name', async () => {
    const where = await t.http('GET', `/v1/models/tasks?${encodeURIComponent('where[title" OR 1=1 --]')}=x`);
    expect(where.status).toBe(400);
    expectEnvelope(where.body, 'validation_error', 'unknown_field');
    const order = await t.http('GET', `/v1/models/tasks?orderBy=${encodeURIComponent('title; DROP TABLE tasks')}`);
    expect(order.status).toBe(400);
    const dir = await t.http('GET', `/v1/models/tasks?orderBy[title]=${encodeURIComponent('asc; DROP TABLE tasks')}`);
    expect(dir.status).toBe(400);
    const model = await t.http('GET', `/v1/models/${encodeURIComponent('tasks; DROP TABLE tasks')}`);
    expect(model.status).toBe(400);
    // Values are data, never SQL.
    const value = await t.http('POST', '/v1/models/projects', { data: { name: "'; DROP TABLE tasks; --" } });
    expect(value.status).toBe(201);
    expect((await t.http('GET', `/v1/models/projects/${value.body.id}`)).body.name).toBe("'; DROP TABLE tasks; --");
    expect((await t.http('GET', '/v1/models/tasks')).status).toBe(200);
  });

  test('a 10 MB body gets 413 and the engine keeps serving', async () => {
    const big = JSON.stringify({ data: { name: 'x'.repeat(10 * 1024 * 1024) } });
    const res = await t.http('POST', '/v1/models/projects', big);
    expect(res.status).toBe(413);
    expectEnvelope(res.body, 'too_large');
    expect((await t.http('GET', '/v1/models/projects?limit=1')).status).toBe(200);
  });

  test('wrong shapes in commits name the path', async () => {
    const res = await t.http('POST', '/v1/commits', { operations: [{ op: 'upsert', model: 'tasks' }] });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toMatch(/^operations\.0/);
    const empty = await t.http('POST', '/v1/commits', { operations: [] });
    expect(empty.status).toBe(400);
    const extra = await t.http('POST', '/v1/commits', { operations: [{ op: 'delete', model: 'tasks', id: 'x' }], bogus: 1 });
    expect(extra.status).toBe(400);
    expect(extra.body.error.field).toBe('bogus');
  });

  test('bad list parameters', async () => {
    expect((await t.http('GET', '/v1/models/tasks?limit=abc')).status).toBe(400);
    expect((await t.http('GET', '/v1/models/tasks?limit=0')).status).toBe(400);
    expect((await t.http('GET', '/v1/models/tasks?where[estimate]=many')).body.error.field).toBe('estimate');
    expect((await t.http('GET', '/v1/models/tasks?where[meta]=x')).body.error.code).toBe('invalid_query');
    expect((await t.http('GET', '/v1/models/tasks?where={bad')).status).toBe(400);
    expect((await t.http('GET', '/v1/models/tasks?startingAfter=nope')).status).toBe(404);
    expect((await t.http('GET', '/v1/models/tasks?select=title')).status).toBe(400);
    // null can only match a field that can hold null.
    const nullTitle = await t.http('GET', `/v1/models/tasks?where=${encodeURIComponent('{"title":null}')}`);
    expect(nullTitle.body.error).toMatchObject({ code: 'invalid_query', field: 'title' });
    expect((await t.http('GET', `/v1/models/tasks?where=${encodeURIComponent('{"assigneeId":null}')}`)).status).toBe(200);
  });
});

describe('schema routes', () => {
  test('GET returns the serialized schema; a dry-run push returns a plan without applying', async () => {
    const got = await t.http('GET', '/v1/schema');
    expect(got.body.schema.hash).toBe(schema.serialized.hash);
    const next = defineSchema({
      projects: model({ name: z.string().min(1), color: z.string().optional() }),
      tasks: schema.models.tasks,
    });
    const dry = await t.http('POST', '/v1/schema', { schema: next.serialized, dryRun: true });
    expect(dry.body).toMatchObject({ applied: false, reason: 'dry_run' });
    expect(dry.body.plan.changes.map((c: any) => [c.kind, c.class])).toEqual([['add_field', 'safe']]);
    expect((await t.http('GET', '/v1/schema')).body.schema.hash).toBe(schema.serialized.hash);
  });

  test('a destructive push is refused without allowDestructive', async () => {
    const noProjects = defineSchema({ tasks: model({ title: z.string() }) });
    const res = await t.http('POST', '/v1/schema', { schema: noProjects.serialized });
    expect(res.body).toMatchObject({ applied: false, reason: 'needs_confirmation' });
    expect(res.body.plan.changes.some((c: any) => c.class === 'destructive')).toBe(true);
    expect((await t.http('GET', '/v1/models/projects?limit=1')).status).toBe(200);
  });

  test('a tampered schema document is refused', async () => {
    const doc = JSON.parse(JSON.stringify(schema.serialized));
    doc.models.tasks.fields.title.type = 'number';
    const res = await t.http('POST', '/v1/schema', { schema: doc });
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'schema_error');
  });
});

describe('extra routes (createEngine({ routes }))', () => {
  let e: TestEngine;
  const seen: { url?: string; revoked: string[]; closed: number } = { revoked: [], closed: 0 };
  beforeAll(async () => {
    e = await startTestEngine(schema, {
      routes: [
        // Keyed (the default): the engine authenticates first; `:name` parameters come decoded.
        {
          method: 'POST',
          path: '/v1/echo/:name',
          async handler(r) {
            sendJson(r.res, 200, { name: r.params.name, key: r.principal.credentialId, participant: r.participant(), body: await r.json(false) });
          },
        },
        // A mount: gets the host at start, closes with the engine.
        (host) => {
          host.onRevoked((e) => seen.revoked.push(e.credentialId));
          return {
            routes: [
              {
                method: 'GET',
                path: '/hello',
                auth: 'none',
                async handler(r) {
                  seen.url = host.url();
                  const key = r.req.headers.authorization ? await host.authenticate(r.req.headers.authorization.slice(7)) : null;
                  sendJson(r.res, 200, { hello: true, key: key?.credentialId ?? null });
                },
              },
            ],
            async close() {
              seen.closed++;
            },
          };
        },
      ],
    });
  });
  afterAll(async () => {
    await e.stop();
  });

  test('a keyed route: 401 without a key, then params, key and participant', async () => {
    const none = await fetch(`${e.url}/v1/echo/x`, { method: 'POST' });
    expect(none.status).toBe(401);
    expectEnvelope(await none.json(), 'authentication_error', 'missing_api_key');
    const res = await e.http('POST', '/v1/echo/a%20b/', { n: 1 }, { 'ablo-participant': 'agent:echo' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'a b', participant: { kind: 'agent', id: 'echo' }, body: { n: 1 } });
    expect(res.body.key).toMatch(/^key_/);
    // The method is part of the route.
    expect((await e.http('GET', '/v1/echo/x')).body.error.code).toBe('route_not_found');
  });

  test("an open mounted route: no key needed; the host gives the engine's URL and its key check", async () => {
    const open = await fetch(`${e.url}/hello`);
    expect(await open.json()).toEqual({ hello: true, key: null });
    expect(seen.url).toBe(e.url);
    const keyed = await (await fetch(`${e.url}/hello`, { headers: { authorization: `Bearer ${e.key}` } })).json();
    expect(keyed.key).toMatch(/^key_/);
    const bad = await fetch(`${e.url}/hello`, { headers: { authorization: 'Bearer sk_test_nope' } });
    expect(bad.status).toBe(401);
  });

  test('a mount hears key revocations and closes with the engine', async () => {
    const created = await e.http('POST', '/v1/keys', { name: 'gone' });
    await e.http('DELETE', `/v1/keys/${created.body.id}`);
    expect(seen.revoked).toEqual([created.body.id]);
    const other = await startTestEngine(schema, { routes: [() => ({ routes: [], close: async () => void seen.closed++ })] });
    await other.stop();
    expect(seen.closed).toBe(1);
  });
});

describe('without routes the engine serves no /mcp', () => {
  test('/mcp is an unknown route of an engine started without mcpRoutes()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ablo-nomcp-'));
    const engine = await createEngine({ file: join(dir, 'dev.db'), port: 0, schema, log: () => {} });
    try {
      const res = await fetch(`${engine.url}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${engine.devKey}` } });
      expect(res.status).toBe(404);
      expectEnvelope(await res.json(), 'not_found', 'route_not_found');
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

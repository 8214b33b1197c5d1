/**
 * `dataSource()` end to end on web Requests: signature first, then shape,
 * authorize, the app's handlers (in-memory tables), and the checks of what
 * they return.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { dataSource, signAbloSourceRequest, SourceError, sourceErrorBodySchema, type CommitDedupe, type SourceCommitResponse } from '../../src/source/index.js';
import { commitBody, createTaskApp, signedRequest, sourceSchema, type TaskApp } from '../helpers/source.js';

let app: TaskApp;
let logged: unknown[][];

beforeEach(() => {
  app = createTaskApp();
  logged = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    logged.push(args);
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function send(body: unknown, extra?: Record<string, string>): Promise<{ status: number; json: any }> {
  const response = await app.handler(signedRequest(body, app.secret, undefined, extra));
  return { status: response.status, json: await response.json() };
}

const createTask = (id: string, title: string) => ({ op: 'create' as const, model: 'tasks', id, data: { title } });

describe('commit', () => {
  test('applies the operations and answers the canonical rows, with their model and defaults as stored', async () => {
    const { status, json } = await send(commitBody('tx1', [createTask('t1', 'Write docs'), { op: 'create', model: 'projects', id: 'p1', data: { name: 'Docs' } }]));
    expect(status).toBe(200);
    expect(json.rows).toEqual([
      { id: 't1', model: 'tasks', title: 'Write docs', done: false, note: null },
      { id: 'p1', model: 'projects', name: 'Docs' },
    ]);
    expect(app.tasks.get('t1')).toMatchObject({ title: 'Write docs' });
  });

  test('a repeated clientTxId gets the stored answer; commit ran once', async () => {
    const first = await send(commitBody('tx-dup', [createTask('t1', 'Once')]));
    app.tasks.get('t1')!.title = 'Changed in the app meanwhile';
    const again = await send(commitBody('tx-dup', [createTask('t1', 'Once')]));
    expect(again).toEqual(first);
    expect(app.calls.commit).toBe(1);
  });

  test('two deliveries of one commit at the same moment run it once', async () => {
    const body = commitBody('tx-race', [createTask('t9', 'Race')]);
    const [a, b] = await Promise.all([send(body), send(body)]);
    expect(a).toEqual(b);
    expect(a.status).toBe(200);
    expect(app.calls.commit).toBe(1);
  });

  test("the app's dedupe hook is used instead of memory, with the request's context", async () => {
    const stored = new Map<string, SourceCommitResponse>();
    const seen: string[] = [];
    const dedupe: CommitDedupe<{ auth: { tenant: string } }> = {
      async get(id, context) {
        seen.push(`get ${id} ${context.auth.tenant}`);
        return stored.get(id) ?? null;
      },
      async put(id, response, context) {
        seen.push(`put ${id} ${context.auth.tenant}`);
        stored.set(id, response);
      },
    };
    app = createTaskApp({ dedupe });
    await send(commitBody('tx-hook', [createTask('t1', 'Hooked')]));
    await send(commitBody('tx-hook', [createTask('t1', 'Hooked')]));
    expect(seen).toEqual(['get tx-hook acme', 'put tx-hook acme', 'get tx-hook acme']);
    expect(stored.get('tx-hook')?.rows[0]).toMatchObject({ id: 't1', title: 'Hooked' });
    expect(app.calls.commit).toBe(1);
  });

  test('an answer the app stored itself (inside its commit transaction) is served through the same row check', async () => {
    app = createTaskApp({
      dedupe: {
        get: async (id) => (id === 'tx-stored' ? { rows: [{ id: 't1', title: 'Stored by the app', done: true, internalColumn: 5 }] } : null),
        put: async () => {},
      },
    });
    const { status, json } = await send(commitBody('tx-stored', [createTask('t1', 'Stored by the app')]));
    expect(status).toBe(200);
    expect(json.rows).toEqual([{ id: 't1', model: 'tasks', title: 'Stored by the app', done: true, note: null }]);
    expect(app.calls.commit).toBe(0);
  });

  test('a row that does not match the schema is source_row_invalid (500) naming model, id and field, and is logged', async () => {
    const { status, json } = await send(commitBody('tx-bad', [createTask('t2', 'BROKEN')]));
    expect(status).toBe(500);
    expect(json.error).toMatchObject({ code: 'source_row_invalid', model: 'tasks', id: 't2', field: 'title' });
    expect(json.error.message).toMatch(/tasks.*t2.*title/);
    expect(logged.some((args) => String(args[0]).includes('t2'))).toBe(true);
    // Not stored as an answer: a retry runs commit again.
    await send(commitBody('tx-bad', [createTask('t2', 'BROKEN')]));
    expect(app.calls.commit).toBe(2);
  });

  test('a row of a model the commit did not touch is refused', async () => {
    app = createTaskApp({ commit: async () => ({ rows: [{ id: 'p1', model: 'projects', name: 'Sneaky' }] }) });
    const { status, json } = await send(commitBody('tx-other', [createTask('t1', 'A')]));
    expect(status).toBe(500);
    expect(json.error).toMatchObject({ code: 'source_row_invalid', field: 'model' });
    expect(json.error.message).toMatch(/projects.*did not touch/);
  });

  test('a SourceError thrown by commit is the typed body with its status; stale_context is 409', async () => {
    await send(commitBody('tx-a', [createTask('t1', 'Original')]));
    const { status, json } = await send(
      commitBody('tx-b', [{ op: 'update', model: 'tasks', id: 't1', data: { title: 'Mine' }, current: { title: 'Something older' } }]),
    );
    expect(status).toBe(409);
    expect(sourceErrorBodySchema.parse(json)).toEqual({ error: { code: 'stale_context', message: 'Task t1 changed in the app since the engine read it.', fields: ['title'] } });
  });

  test('any other thrown error is source_failed (500) with a generic message, and is logged', async () => {
    app = createTaskApp({
      commit: async () => {
        throw new Error('connection to db lost: password=hunter2');
      },
    });
    const { status, json } = await send(commitBody('tx-x', [createTask('t1', 'A')]));
    expect(status).toBe(500);
    expect(json.error.code).toBe('source_failed');
    expect(json.error.message).not.toMatch(/hunter2/);
    expect(logged.some((args) => args.some((a) => a instanceof Error && a.message.includes('hunter2')))).toBe(true);
  });
});

describe('refusals before the app runs', () => {
  test('an unsigned request is 401 invalid_signature, and nothing runs', async () => {
    const response = await app.handler(new Request('http://app.test/', { method: 'POST', body: JSON.stringify(commitBody('tx', [createTask('t1', 'A')])) }));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_signature', reason: 'missing_header' } });
    expect(app.calls).toEqual({ commit: 0, authorize: 0 });
  });

  test('a request signed with another secret, or replayed, is 401 with its reason', async () => {
    const text = JSON.stringify(commitBody('tx', [createTask('t1', 'A')]));
    const other = createTaskApp();
    const forged = await app.handler(new Request('http://app.test/', { method: 'POST', headers: signAbloSourceRequest(text, other.secret), body: text }));
    expect(await forged.json()).toMatchObject({ error: { code: 'invalid_signature', reason: 'bad_signature' } });

    const headers = { ...signAbloSourceRequest(text, app.secret), 'x-app-tenant': 'acme' };
    expect((await app.handler(new Request('http://app.test/', { method: 'POST', headers, body: text }))).status).toBe(200);
    const replay = await app.handler(new Request('http://app.test/', { method: 'POST', headers, body: text }));
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: { code: 'invalid_signature', reason: 'replayed' } });
  });

  test('an unknown request type is 400 invalid_request', async () => {
    const { status, json } = await send({ type: 'drop_tables', source: 'app' });
    expect(status).toBe(400);
    expect(json.error.code).toBe('invalid_request');
    expect(json.error.message).toMatch(/type/);
  });

  test('a signed body that is not JSON, or misses a field, is 400 invalid_request', async () => {
    const text = '{"type":"load",';
    const response = await app.handler(new Request('http://app.test/', { method: 'POST', headers: signAbloSourceRequest(text, app.secret), body: text }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_request', message: 'The body is not JSON.' } });
    const { status, json } = await send({ type: 'load', source: 'app', model: 'tasks' });
    expect(status).toBe(400);
    expect(json.error.message).toMatch(/ids/);
  });

  test('a body over 8 MiB is 413 payload_too_large', async () => {
    const text = JSON.stringify({ type: 'events', source: 'app', cursor: 'x'.repeat(8 * 1024 * 1024), limit: 1 });
    const response = await app.handler(new Request('http://app.test/', { method: 'POST', headers: signAbloSourceRequest(text, app.secret), body: text }));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  test('authorize refusing with a SourceError answers its code and status; nothing else runs', async () => {
    const { status, json } = await send(commitBody('tx', [createTask('t1', 'A')]), {});
    expect(status).toBe(403);
    expect(json).toEqual({ error: { code: 'permission_denied', message: 'No tenant on this request.' } });
    expect(app.calls).toEqual({ commit: 0, authorize: 1 });
  });

  test('a request with no handler for it is 404 not_supported', async () => {
    const noEvents = createTaskApp({ events: undefined, commit: undefined });
    for (const body of [
      { type: 'events', source: 'app', cursor: null, limit: 10 },
      commitBody('tx', [createTask('t1', 'A')]),
      { type: 'load', source: 'app', model: 'projects', ids: ['p1'] },
      { type: 'list', source: 'app', model: 'projects', cursor: null, limit: 10 },
      { type: 'load', source: 'app', model: 'nope', ids: ['x'] },
    ]) {
      const response = await noEvents.handler(signedRequest(body, noEvents.secret));
      expect(response.status, JSON.stringify(body)).toBe(404);
      expect((await response.json()).error.code).toBe('not_supported');
    }
  });

  test('GET is 405', async () => {
    const response = await app.handler(new Request('http://app.test/'));
    expect(response.status).toBe(405);
  });
});

describe('load, list and events', () => {
  beforeEach(async () => {
    await send(commitBody('seed', ['t1', 't2', 't3', 't4', 't5'].map((id) => createTask(id, `Task ${id}`))));
  });

  test('load answers the rows found and leaves out the missing ones', async () => {
    const { status, json } = await send({ type: 'load', source: 'app', model: 'tasks', ids: ['t2', 'missing', 't4'] });
    expect(status).toBe(200);
    expect(json.rows.map((r: { id: string }) => r.id)).toEqual(['t2', 't4']);
    expect(json.rows[0]).toEqual({ id: 't2', title: 'Task t2', done: false, note: null });
  });

  test('loadMany is preferred over load, and a row that was not asked for is refused', async () => {
    const asked: string[][] = [];
    app = createTaskApp({
      tasks: {
        load: () => {
          throw new Error('load must not run when loadMany is given');
        },
        loadMany: ({ ids }) => {
          asked.push(ids);
          return ids.map((id) => ({ id: id === 'evil' ? 'other' : id, title: `T ${id}`, done: true }));
        },
      },
    });
    expect((await send({ type: 'load', source: 'app', model: 'tasks', ids: ['a', 'b'] })).json.rows).toHaveLength(2);
    expect(asked).toEqual([['a', 'b']]);
    const wrong = await send({ type: 'load', source: 'app', model: 'tasks', ids: ['evil'] });
    expect(wrong.status).toBe(500);
    expect(wrong.json.error).toMatchObject({ code: 'source_row_invalid', id: 'other' });
  });

  test('list pages through every row with its cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const { status, json } = await send({ type: 'list', source: 'app', model: 'tasks', cursor, limit: 2 });
      expect(status).toBe(200);
      seen.push(...json.rows.map((r: { id: string }) => r.id));
      cursor = json.nextCursor;
      if (cursor === null) break;
    }
    expect(seen).toEqual(['t1', 't2', 't3', 't4', 't5']);
  });

  test('list returning more rows than the limit is the app’s bug', async () => {
    app = createTaskApp({ tasks: { list: () => ({ rows: [{ id: 'a', title: 'A', done: false }, { id: 'b', title: 'B', done: false }] }) } });
    const { status, json } = await send({ type: 'list', source: 'app', model: 'tasks', cursor: null, limit: 1 });
    expect(status).toBe(500);
    expect(json.error.code).toBe('source_row_invalid');
  });

  test('events answers the outbox after the cursor, each row checked', async () => {
    app.outbox.push(
      { id: 'e1', model: 'tasks', entityId: 't1', type: 'update', data: { title: 'From SQL', done: true, dbOnlyColumn: 7 } },
      { id: 'e2', model: 'tasks', entityId: 't2', type: 'delete' },
    );
    const first = await send({ type: 'events', source: 'app', cursor: null, limit: 1 });
    expect(first.json).toEqual({ events: [{ id: 'e1', model: 'tasks', entityId: 't1', type: 'update', data: { id: 't1', title: 'From SQL', done: true, note: null } }], nextCursor: '1' });
    const second = await send({ type: 'events', source: 'app', cursor: first.json.nextCursor, limit: 10 });
    expect(second.json).toEqual({ events: [{ id: 'e2', model: 'tasks', entityId: 't2', type: 'delete' }], nextCursor: '2' });
    const none = await send({ type: 'events', source: 'app', cursor: '2', limit: 10 });
    expect(none.json).toEqual({ events: [], nextCursor: '2' });
  });

  test('an event whose row is wrong is source_row_invalid', async () => {
    app.outbox.push({ id: 'e1', model: 'tasks', entityId: 't1', type: 'create', data: { title: 42, done: false } });
    const { status, json } = await send({ type: 'events', source: 'app', cursor: null, limit: 10 });
    expect(status).toBe(500);
    expect(json.error).toMatchObject({ code: 'source_row_invalid', model: 'tasks', id: 't1', field: 'title' });
  });
});

describe('construction', () => {
  const base = { schema: sourceSchema, signingSecret: 'whsec_' + Buffer.alloc(32, 1).toString('base64') };

  test('an unknown key is refused at once, naming the options and the models', () => {
    expect(() => dataSource({ ...base, task: { load: () => null } } as never)).toThrow(/unknown option "task".*projects, tasks/);
    expect(() => dataSource({ ...base, tasks: { fetch: () => null } } as never)).toThrow(/unknown handler "tasks.fetch"/);
    expect(() => dataSource({ ...base, commit: 'yes' } as never)).toThrow(/"commit" must be a function/);
  });

  test('a bad secret or tolerance is refused at once', () => {
    expect(() => dataSource({ ...base, signingSecret: '' })).toThrow(/No signing secret/);
    expect(() => dataSource({ ...base, signingSecret: 'whsec_%%%' })).toThrow(/not base64/);
    expect(() => dataSource({ ...base, toleranceSeconds: -1 })).toThrow(/toleranceSeconds/);
  });

  test('a model named like an option is refused with how to fix it', () => {
    const clash = defineSchema({ events: model({ name: z.string() }) });
    expect(() => dataSource({ schema: clash, signingSecret: base.signingSecret })).toThrow(/model named "events"/);
  });

  test('SourceError takes only 4xx statuses', () => {
    expect(() => new SourceError('boom', 'x', { status: 503 })).toThrow(/4xx/);
    expect(new SourceError('stale_context', 'old').status).toBe(409);
    expect(new SourceError('nope', 'no').status).toBe(400);
  });
});

/**
 * Issue 10, items 6–8: bad input on every surface (HTTP, WebSocket, MCP).
 *
 * - JSON nested deeper than the limit (64 levels in a field value) gets 400
 *   `invalid_json` naming the field and the limit; 10,000 levels too, with no
 *   500 and no stack in the engine log. `Ablo-Restore: deep-json` on a commit
 *   raises the limit to 2,048, and a row at that depth goes through every path
 *   (storage, responses, change log, fanout, bootstrap, SDK).
 * - Lone UTF-16 surrogates in values and keys get 400 `invalid_field` naming the path.
 * - `__proto__` / `constructor` in where/orderBy are unknown fields; a hello that
 *   fails validation is answered at once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import Ablo from '../../src/index.js';
import { MAX_JSON_DEPTH, RESTORE_JSON_DEPTH, canonicalJson, jsonDepth } from '../../src/protocol/json.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { httpSession, structured, textOf, type McpSession } from '../mcp/helpers.js';
import { until } from '../helpers/sdk.js';

const schema = defineSchema({
  notes: model({ title: z.string().min(1), meta: z.json().optional(), n: z.number().optional() }),
});

/** `{"a":{"a":…1…}}` nested `depth` levels, as JSON text (built without recursion). */
function deepText(depth: number, leaf = '1'): string {
  return '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}
/** The same as a value. */
function deepValue(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

let t: TestEngine;
const logs: string[] = [];

beforeAll(async () => {
  t = await startTestEngine(schema, { log: (line) => logs.push(line), helloTimeoutMs: 3000 });
});
afterAll(async () => {
  await t.stop();
});

/** POST raw JSON text. */
async function postRaw(path: string, text: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await t.http('POST', path, text, headers);
  return { status: r.status, body: r.body };
}

async function lastSyncId(): Promise<number> {
  return (await t.http('GET', '/v1/health')).body.lastSyncId;
}

function noInternalErrors(): void {
  expect(logs.filter((l) => /internal error|\n\s+at /.test(l))).toEqual([]);
}

describe('item 6: nesting depth', () => {
  test('10,000 levels over HTTP: 400 invalid_json naming the field and the limit; no 500, nothing written, no stack in the log', async () => {
    const before = await lastSyncId();
    const create = await postRaw('/v1/models/notes', `{"data":{"title":"x","meta":${deepText(10_000)}}}`);
    expect(create.status).toBe(400);
    expect(create.body.error).toMatchObject({ type: 'validation_error', code: 'invalid_json', field: 'data.meta', maxDepth: MAX_JSON_DEPTH });
    expect(create.body.error.message).toContain('64 levels');

    const commit = await postRaw('/v1/commits', `{"operations":[{"op":"create","model":"notes","data":{"title":"x","meta":${deepText(10_000)}}}]}`);
    expect(commit.status).toBe(400);
    expect(commit.body.error).toMatchObject({ code: 'invalid_json', field: 'operations.0.data.meta', maxDepth: 64 });

    // Deep anywhere in the body, not only in a field value.
    const elsewhere = await postRaw('/v1/commits', `{"operations":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.code).toBe('invalid_json');

    const id = (await t.http('POST', '/v1/models/notes', { id: 'n-upd', data: { title: 'u' } })).body.id;
    const after = await lastSyncId();
    const update = await t.http('PATCH', `/v1/models/notes/${id}`, `{"data":{"meta":${deepText(10_000)}}}`);
    expect(update.status).toBe(400);
    expect(update.body.error).toMatchObject({ code: 'invalid_json', field: 'data.meta' });
    expect(await lastSyncId()).toBe(after);
    expect(after).toBe(before + 1);
    noInternalErrors();
  });

  test('a field value gets exactly 64 levels on every HTTP route; 65 is refused', async () => {
    for (const [path, body] of [
      ['/v1/models/notes', (d: number) => ({ data: { title: 'x', meta: deepValue(d) } })],
      ['/v1/commits', (d: number) => ({ operations: [{ op: 'create', model: 'notes', data: { title: 'x', meta: deepValue(d) } }] })],
    ] as const) {
      const ok = await t.http('POST', path, body(MAX_JSON_DEPTH));
      expect(ok.status, path).toBeLessThan(300);
      const refused = await t.http('POST', path, body(MAX_JSON_DEPTH + 1));
      expect(refused.status, path).toBe(400);
      expect(refused.body.error.code).toBe('invalid_json');
    }
    const row = (await t.http('POST', '/v1/models/notes', { data: { title: 'x', meta: deepValue(64) } })).body;
    expect(jsonDepth((await t.http('GET', `/v1/models/notes/${row.id}`)).body.meta)).toBe(64);
  });

  test('10,000 levels over the WebSocket: an error frame with the ref; the socket keeps working', async () => {
    const s = await t.socket();
    await s.hello({ apiKey: t.key });
    s.send(`{"type":"commit","ref":"deep","commit":{"operations":[{"op":"create","model":"notes","data":{"title":"x","meta":${deepText(10_000)}}}]}}`);
    const err = await s.next((f) => f.type === 'error' && f.ref === 'deep');
    expect(err.error).toMatchObject({ type: 'validation_error', code: 'invalid_json', field: 'commit.operations.0.data.meta', maxDepth: 64 });
    // 64 levels are fine over the socket too; 65 are not.
    s.send({ type: 'commit', ref: 'd64', commit: { operations: [{ op: 'create', model: 'notes', data: { title: 'x', meta: deepValue(64) } }] } });
    expect((await s.next((f) => f.ref === 'd64')).type).toBe('receipt');
    s.send({ type: 'commit', ref: 'd65', commit: { operations: [{ op: 'create', model: 'notes', data: { title: 'x', meta: deepValue(65) } }] } });
    expect((await s.next((f) => f.ref === 'd65')).error.code).toBe('invalid_json');
    s.close();
    noInternalErrors();
  });

  test('Ablo-Restore: deep-json raises the limit to 2,048 on POST /v1/commits only; 2,049 is refused', async () => {
    const restore = { 'ablo-restore': 'deep-json' };
    const body = (d: number, id?: string) => `{"operations":[{"op":"create","model":"notes",${id ? `"id":"${id}",` : ''}"data":{"title":"deep","meta":${deepText(d)}}}]}`;
    expect((await postRaw('/v1/commits', body(65))).status).toBe(400);
    const over = await postRaw('/v1/commits', body(RESTORE_JSON_DEPTH + 1), restore);
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'invalid_json', maxDepth: RESTORE_JSON_DEPTH });
    const bad = await postRaw('/v1/commits', body(65), { 'ablo-restore': 'yes' });
    expect(bad.body.error).toMatchObject({ type: 'validation_error', code: 'invalid_header' });
    // Not a way around the limit on other routes.
    const create = await t.http('POST', '/v1/models/notes', `{"data":{"title":"x","meta":${deepText(65)}}}`, restore);
    expect(create.body.error.code).toBe('invalid_json');
  });

  test('a row at the restore limit goes through storage, responses, the change log, fanout, bootstrap and the SDK', async () => {
    const live = await t.socket();
    await live.hello({ apiKey: t.key });
    const sdk = Ablo({ schema, apiKey: t.key, baseURL: t.url });
    await sdk.ready();
    const before = await lastSyncId();

    const value = deepValue(RESTORE_JSON_DEPTH);
    const text = canonicalJson(value);
    const res = await postRaw(
      '/v1/commits',
      `{"operations":[{"op":"create","model":"notes","id":"ceiling","data":{"title":"deep","meta":${text}}}]}`,
      { 'ablo-restore': 'deep-json' },
    );
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);

    const same = (v: unknown) => canonicalJson(v) === text;
    // HTTP responses.
    expect(same((await t.http('GET', '/v1/models/notes/ceiling')).body.meta)).toBe(true);
    const listed = (await t.http('GET', '/v1/models/notes?where[title]=deep')).body.data;
    expect(listed.map((r: any) => same(r.meta))).toEqual([true]);
    // Change log.
    const changes = (await t.http('GET', `/v1/changes?after=${before}`)).body.data;
    expect(changes.map((c: any) => [c.id, same(c.data.meta)])).toEqual([['ceiling', true]]);
    // Fanout to a live socket.
    const frame = await live.next('changes');
    expect(same(frame.changes[0].data.meta)).toBe(true);
    // Bootstrap of a new socket.
    const fresh = await t.socket();
    const { frames } = await fresh.hello({ apiKey: t.key });
    const boot = frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows);
    expect(same(boot.find((r: any) => r.id === 'ceiling').meta)).toBe(true);
    // The SDK's local pool.
    const row = await until(sdk, () => sdk.notes.get('ceiling'));
    expect(same(row.meta)).toBe(true);
    await sdk.dispose();
    live.close();
    fresh.close();
    noInternalErrors();
  });
});

describe('item 7: lone surrogates', () => {
  test('in a value or a key over HTTP: 400 invalid_field naming the path; nothing written', async () => {
    const before = await lastSyncId();
    const title = await postRaw('/v1/models/notes', '{"data":{"title":"A\\ud83dB"}}');
    expect(title.status).toBe(400);
    expect(title.body.error).toMatchObject({ type: 'validation_error', code: 'invalid_field', field: 'data.title' });
    const low = await postRaw('/v1/models/notes', '{"data":{"title":"\\udc00x"}}');
    expect(low.body.error).toMatchObject({ code: 'invalid_field', field: 'data.title' });
    const nested = await postRaw('/v1/commits', '{"operations":[{"op":"create","model":"notes","data":{"title":"t","meta":{"list":["ok","\\ud800"]}}}]}');
    expect(nested.body.error).toMatchObject({ code: 'invalid_field', field: 'operations.0.data.meta.list.1' });
    const key = await postRaw('/v1/models/notes', '{"data":{"title":"t","meta":{"k\\ud83d":1}}}');
    expect(key.body.error).toMatchObject({ code: 'invalid_field', field: 'data.meta.k\\ud83d' });
    const where = await t.http('GET', `/v1/models/notes?where=${encodeURIComponent('{"title":"\\ud83d"}')}`);
    expect(where.body.error).toMatchObject({ code: 'invalid_field', field: 'title' });
    expect(await lastSyncId()).toBe(before);
    const changes = (await t.http('GET', `/v1/changes?after=${before}`)).body.data;
    expect(changes).toEqual([]);
  });

  test('a well-formed pair is stored and read back unchanged', async () => {
    const created = await postRaw('/v1/models/notes', '{"data":{"title":"A\\ud83d\\ude00B","meta":{"\\ud83d\\ude00":"\\ud83d\\ude00"}}}');
    expect(created.status).toBe(201);
    const read = (await t.http('GET', `/v1/models/notes/${created.body.id}`)).body;
    expect(read.title).toBe('A\u{1F600}B');
    expect(read.meta).toEqual({ '\u{1F600}': '\u{1F600}' });
  });

  test('over the WebSocket: an error frame with the ref naming the path', async () => {
    const s = await t.socket();
    await s.hello({ apiKey: t.key });
    s.send('{"type":"commit","ref":"ls","commit":{"operations":[{"op":"create","model":"notes","data":{"title":"A\\ud83dB"}}]}}');
    const err = await s.next((f) => f.type === 'error' && f.ref === 'ls');
    expect(err.error).toMatchObject({ code: 'invalid_field', field: 'commit.operations.0.data.title' });
    s.close();
  });
});

describe('item 8: names from input are looked up as own properties', () => {
  test('where/orderBy naming __proto__ or constructor are unknown fields, without leaking internals', async () => {
    await t.http('POST', '/v1/models/notes', { data: { title: 'p' } });
    for (const q of [
      'where[__proto__]=x',
      'orderBy[__proto__]=asc',
      `where=${encodeURIComponent('{"__proto__":[]}')}`,
      `where=${encodeURIComponent('{"__proto__":"x"}')}`,
      'where[constructor]=x',
      'where[toString]=x',
      'where[hasOwnProperty]=x',
      'orderBy[constructor]=asc',
      'orderBy=constructor:asc',
      'orderBy=__proto__:desc',
    ]) {
      const r = await t.http('GET', `/v1/models/notes?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe('unknown_field');
      expect(r.body.error.message, q).not.toMatch(/native code|function/);
    }
  });

  test('a "__proto__" key anywhere in a body or frame is an unknown field (it was dropped without a word)', async () => {
    const before = await lastSyncId();
    const top = await postRaw('/v1/models/notes', '{"data":{"title":"x","__proto__":{"title":"y"}}}');
    expect(top.status).toBe(400);
    expect(top.body.error).toMatchObject({ type: 'validation_error', code: 'unknown_field', field: 'data.__proto__' });
    const nested = await postRaw('/v1/commits', '{"operations":[{"op":"create","model":"notes","data":{"title":"x","meta":{"a":[{"__proto__":1}]}}}]}');
    expect(nested.body.error).toMatchObject({ code: 'unknown_field', field: 'operations.0.data.meta.a.0.__proto__' });
    const s = await t.socket();
    await s.hello({ apiKey: t.key });
    s.send('{"type":"commit","ref":"p","commit":{"operations":[{"op":"create","model":"notes","data":{"title":"x","__proto__":{}}}]}}');
    expect((await s.next((f) => f.ref === 'p')).error).toMatchObject({ code: 'unknown_field', field: 'commit.operations.0.data.__proto__' });
    s.close();
    expect(await lastSyncId()).toBe(before);
  });

  test('a request line or headers over the limit get the typed envelope (431 too_large)', async () => {
    const r = await t.http('GET', `/v1/models/notes?where=${'x'.repeat(40_000)}`);
    expect(r.status).toBe(431);
    expect(r.body.error).toMatchObject({ type: 'too_large', code: 'headers_too_large' });
    expect((await t.http('GET', '/v1/health')).status).toBe(200);
  });

  test('a read dependency on a field named constructor is an unknown field', async () => {
    const row = (await t.http('POST', '/v1/models/notes', { data: { title: 'r' } })).body;
    const r = await t.http('POST', '/v1/commits', {
      operations: [{ op: 'update', model: 'notes', id: row.id, data: { n: 1 } }],
      reads: [{ model: 'notes', id: row.id, readAt: row.syncId, fields: ['constructor'] }],
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'unknown_field', field: 'constructor' });
  });

  test('a pushed schema naming Object.prototype members gets a schema error, not a 500', async () => {
    const base = { title: { type: 'string' } };
    for (const models of [
      { notes: { fields: base, relations: { x: { kind: 'hasMany', model: 'constructor', foreignKey: 'title' } }, options: {} } },
      { notes: { fields: base, relations: { x: { kind: 'belongsTo', model: 'notes', foreignKey: 'constructor' } }, options: {} } },
      { notes: { fields: base, relations: {}, options: { syncGroupFormat: ['g:{constructor}'] } } },
      { notes: { fields: { title: { type: 'string', checks: [{ kind: 'format', format: 'constructor', pattern: '^x$', flags: '' }] } }, relations: {}, options: {} } },
    ]) {
      const r = await t.http('POST', '/v1/schema', { schema: { formatVersion: 1, models }, dryRun: true });
      expect(r.status, JSON.stringify(models)).toBeLessThan(500);
      if (r.status >= 400) expect(r.body.error.type).toBe('schema_error');
    }
    noInternalErrors();
  });

  test('a hello with a non-string apiKey gets authentication_error and close 4001 at once', async () => {
    const s = await t.socket();
    s.send({ type: 'hello', apiKey: 12345 });
    const err = await s.next('error');
    expect(err.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    expect((await s.waitClose()).code).toBe(4001);
  });

  test('any other invalid hello gets its validation error and close 1002 at once', async () => {
    for (const hello of [{ type: 'hello', apiKey: t.key, groups: 'all' }, { type: 'hello', apiKey: t.key, lastSyncId: -1 }, '{"type":"hello","groups":["\\ud83d"]}']) {
      const s = await t.socket();
      s.send(hello);
      const err = await s.next('error');
      expect(err.error.type).toBe('validation_error');
      expect((await s.waitClose()).code).toBe(1002);
    }
  });
});

describe('MCP tool arguments that become writes', () => {
  let mcp: McpSession;
  beforeAll(async () => {
    mcp = await httpSession(t.url, t.key);
  });
  afterAll(async () => {
    await mcp.close();
  });

  test('deeper than the limit: isError with code invalid_json naming the field', async () => {
    const r = await mcp.call('notes_create', { data: { title: 'x', meta: deepValue(65) } });
    expect(r.isError).toBe(true);
    expect(structured(r).error).toMatchObject({ code: 'invalid_json', field: 'data.meta' });
    const c = await mcp.call('ablo_commit', { operations: [{ op: 'create', model: 'notes', data: { title: 'x', meta: deepValue(2500) } }] });
    expect(c.isError).toBe(true);
    expect(structured(c).error).toMatchObject({ code: 'invalid_json', field: 'operations.0.data.meta' });
    expect(textOf(c)).toContain('64');
  });

  test('10,000 levels as a raw JSON-RPC call to /mcp: isError with invalid_json, the engine keeps serving', async () => {
    const headers = { authorization: `Bearer ${t.key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const rpc = async (body: string, session?: string): Promise<{ res: Response; messages: any[] }> => {
      const res = await fetch(`${t.url}/mcp`, { method: 'POST', headers: { ...headers, ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}) }, body });
      const text = await res.text();
      const messages = res.headers.get('content-type')?.includes('text/event-stream')
        ? text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)))
        : text
          ? [JSON.parse(text)]
          : [];
      return { res, messages };
    };
    const init = await rpc(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    );
    const session = init.res.headers.get('mcp-session-id')!;
    expect(session).toBeTruthy();
    await rpc(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), session);
    for (const [tool, args, field] of [
      ['notes_create', `{"data":{"title":"x","meta":${deepText(10_000)}}}`, 'data.meta'],
      ['ablo_commit', `{"operations":[{"op":"create","model":"notes","data":{"title":"x","meta":${deepText(10_000)}}}]}`, 'operations.0.data.meta'],
    ] as const) {
      const call = await rpc(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"${tool}","arguments":${args}}}`, session);
      const result = call.messages.find((m) => m.id === 2)?.result;
      expect(result?.isError, tool).toBe(true);
      expect(result.structuredContent.error, tool).toMatchObject({ code: 'invalid_json', field });
    }
    expect((await t.http('GET', '/v1/health')).status).toBe(200);
    noInternalErrors();
  });

  test('a lone surrogate: isError with invalid_field', async () => {
    const r = await mcp.call('notes_create', { data: { title: 'A\ud83dB' } });
    expect(r.isError).toBe(true);
    expect(structured(r).error).toMatchObject({ code: 'invalid_field', field: 'data.title' });
  });

  test('a lone surrogate in an id (it goes into a URL path) is refused as an argument, not an internal error (found by the fuzz suite)', async () => {
    for (const tool of ['notes_get', 'notes_delete', 'notes_claim']) {
      const r = await mcp.call(tool, { id: 'x\udc00' });
      expect(r.isError, tool).toBe(true);
      expect(textOf(r), tool).toMatch(/lone UTF-16 surrogate/);
      expect(JSON.stringify(r.structuredContent ?? {}), tool).not.toContain('server_error');
    }
  });
});

test('the engine is still up and its log has no internal error', async () => {
  expect((await fetch(`${t.url}/v1/health`)).status).toBe(200);
  noInternalErrors();
  // A plain socket still connects.
  const ws = new WebSocket(t.url.replace('http', 'ws') + '/v1/sync');
  await new Promise((r) => ws.once('open', r));
  ws.close();
});

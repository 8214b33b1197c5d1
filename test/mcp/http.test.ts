/**
 * The engine's `/mcp` endpoint (Streamable HTTP), behind bearer auth, driven
 * by the SDK's HTTP client.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { schema } from '../fixtures/example.schema.js';
import { api, eventually, httpSession, sleep, startTestEngine, structured, textOf, type McpSession, type TestEngine } from './helpers.js';

let engine: TestEngine;
const open: McpSession[] = [];

async function connect(headers: Record<string, string> = {}, key = engine.apiKey): Promise<McpSession & { transport: { sessionId?: string | undefined } }> {
  const s = await httpSession(engine.url, key, headers);
  open.push(s);
  return s;
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};

beforeAll(async () => {
  engine = await startTestEngine({ schema });
  await api(engine.url, engine.apiKey, 'POST', '/v1/models/projects', { id: 'p1', data: { name: 'Apollo' } });
});

afterAll(async () => {
  for (const s of open) await s.close().catch(() => undefined);
  await engine.stop();
});

describe('/mcp auth', () => {
  test('401 with the JSON error envelope without a valid key', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const none = await fetch(`${engine.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(initialize) });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.json()).toMatchObject({ error: { type: 'authentication_error', code: 'missing_api_key' } });

    const wrong = await fetch(`${engine.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer sk_test_${'0'.repeat(32)}` },
      body: JSON.stringify(initialize),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } });

    // The SDK client gets the 401 too.
    await expect(httpSession(engine.url, `sk_test_${'0'.repeat(32)}`)).rejects.toThrow();
  });

  test('a request without a session id must be an initialize request; an unknown session id is 404', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${engine.apiKey}` };
    const noSession = await fetch(`${engine.url}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    expect(noSession.status).toBe(400);
    expect((await noSession.json()).error.code).toBe('mcp_session_required');
    const unknown = await fetch(`${engine.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': 'nope' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(unknown.status).toBe(404);
  });

  test('a session belongs to the key that opened it', async () => {
    const s = await connect();
    const other = await api(engine.url, engine.apiKey, 'POST', '/v1/keys', { name: 'other' });
    expect(other.status).toBe(201);
    const res = await fetch(`${engine.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${other.body.key}`,
        'mcp-session-id': s.transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('mcp_session_key_mismatch');
  });
});

describe('/mcp sessions', () => {
  test('lists the same tools as stdio and round-trips create → list → get → update → delete', async () => {
    const s = await connect();
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual([
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
    ]);
    const row = structured(await s.call('tasks_create', { data: { title: 'Over HTTP', projectId: 'p1' } })).row;
    expect(structured(await s.call('tasks_list', { where: { title: 'Over HTTP' } })).data.map((r: any) => r.id)).toEqual([row.id]);
    expect(structured(await s.call('tasks_get', { id: row.id })).row).toEqual(row);
    const updated = await s.call('tasks_update', { id: row.id, data: { status: 'done' }, readAt: row.syncId });
    expect(structured(updated).row.status).toBe('done');
    // Writes are the key's, on behalf of the session's participant (default agent:mcp).
    const changes = await api(engine.url, engine.apiKey, 'GET', `/v1/changes?after=${row.syncId}`);
    expect(changes.body.data.at(-1)).toMatchObject({ participant: { kind: 'system', id: expect.stringMatching(/^key_/) }, onBehalfOf: { kind: 'agent', id: 'mcp' } });
    expect((await s.call('tasks_delete', { id: row.id })).isError).toBeFalsy();
    expect((await s.call('tasks_get', { id: row.id })).isError).toBe(true);
  });

  test("a claim in session A blocks B's update until A releases; ending A's session releases its claims", async () => {
    const a = await connect({ 'ablo-participant': 'agent:alpha' });
    const b = await connect({ 'ablo-participant': 'agent:beta' });
    const row = structured(await a.call('tasks_create', { data: { title: 'Shared', projectId: 'p1' } })).row;
    expect((await a.call('tasks_claim', { id: row.id, action: 'editing' })).isError).toBeFalsy();

    const blocked = await b.call('tasks_update', { id: row.id, data: { title: 'Mine' } });
    expect(blocked.isError).toBe(true);
    expect(textOf(blocked)).toContain('agent:alpha');
    expect(textOf(blocked)).toContain('editing');

    await a.call('tasks_release', { id: row.id });
    expect((await b.call('tasks_update', { id: row.id, data: { title: 'Mine' } })).isError).toBeFalsy();

    // A claims again, then its session ends (DELETE /mcp): the claim goes with it.
    expect((await a.call('tasks_claim', { id: row.id, leaseSeconds: 600 })).isError).toBeFalsy();
    expect((await b.call('tasks_claim', { id: row.id, wait: false })).isError).toBe(true);
    await a.close();
    await eventually(async () => (await api(engine.url, engine.apiKey, 'GET', `/v1/models/tasks/${row.id}/claim`)).body.claim === null);
    const got = await b.call('tasks_claim', { id: row.id, wait: false });
    expect(got.isError).toBeFalsy();
    expect(structured(got).claim.holder).toEqual({ kind: 'agent', id: 'beta' });
  });

  test('claims are renewed while the session lasts; a waiting claim leaves the line when its session ends', async () => {
    const a = await connect({ 'ablo-participant': 'agent:alpha' });
    const b = await connect({ 'ablo-participant': 'agent:beta' });
    const row = structured(await a.call('tasks_create', { data: { title: 'Long job', projectId: 'p1' } })).row;
    const claim = structured(await a.call('tasks_claim', { id: row.id, leaseSeconds: 1 })).claim;
    // Three leases later the same claim is still held: the session renews it every leaseSeconds / 3.
    await sleep(2500);
    const state = await api(engine.url, engine.apiKey, 'GET', `/v1/models/tasks/${row.id}/claim`);
    expect(state.body.claim).toMatchObject({ id: claim.id, holder: { kind: 'agent', id: 'alpha' } });
    expect((await b.call('tasks_update', { id: row.id, data: { title: 'x' } })).isError).toBe(true);

    // B waits in line; B's session ends while it waits: it leaves the line.
    const waiting = b.call('tasks_claim', { id: row.id }).catch((err: Error) => err);
    await eventually(async () => (await api(engine.url, engine.apiKey, 'GET', `/v1/models/tasks/${row.id}/claim`)).body.queue.length === 1);
    await b.close();
    await eventually(async () => (await api(engine.url, engine.apiKey, 'GET', `/v1/models/tasks/${row.id}/claim`)).body.queue.length === 0);
    await waiting;
    expect(structured(await a.call('tasks_release', { id: row.id }))).toMatchObject({ released: true });
    expect((await api(engine.url, engine.apiKey, 'GET', `/v1/models/tasks/${row.id}/claim`)).body.claim).toBeNull();
  });

  test('engine close ends every session and transport promptly', async () => {
    const own = await startTestEngine({ schema });
    const s = await httpSession(own.url, own.apiKey);
    await s.call('ablo_schema');
    await sleep(50);
    const t0 = Date.now();
    await own.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    await expect(s.call('ablo_schema')).rejects.toThrow();
    await s.client.close().catch(() => undefined);
  });
});

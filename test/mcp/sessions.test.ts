/**
 * `/mcp` session caps (per key and in total) and closing a key's sessions,
 * driven by the SDK's Streamable HTTP client against a real engine whose caps
 * are made small through `mcpRoutes({ maxSessionsPerKey, maxSessions })`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ApiKeyAuthenticator, hashApiKey } from '../../src/engine/apiKeys.js';
import { createMcpRoute, type McpRoute } from '../../mcp/route.js';
import { schema } from '../fixtures/example.schema.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { eventually, httpSession, structured, type McpSession } from './helpers.js';

type Session = McpSession & { transport: { sessionId?: string | undefined } };

const opened: Session[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
});

async function connect(url: string, key: string): Promise<Session> {
  const s = await httpSession(url, key);
  opened.push(s);
  return s;
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};

/** A raw POST /mcp: an initialize without a session id, or a ping on the given session. */
async function post(url: string, key: string, sessionId?: string): Promise<Response> {
  return fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${key}`,
      ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' } : {}),
    },
    body: JSON.stringify(sessionId ? { jsonrpc: '2.0', id: 2, method: 'ping' } : initialize),
  });
}

/** Status of a ping on the session (200 alive, 404 unknown). */
async function pingStatus(url: string, key: string, s: Session): Promise<number> {
  const res = await post(url, key, s.transport.sessionId);
  await res.body?.cancel();
  return res.status;
}

async function newKey(t: TestEngine, name: string): Promise<{ id: string; key: string }> {
  const res = await t.http('POST', '/v1/keys', { name });
  expect(res.status).toBe(201);
  return { id: res.body.id, key: res.body.key };
}

async function claimState(t: TestEngine, id: string): Promise<{ claim: any; queue: any[] }> {
  return (await t.http('GET', `/v1/models/tasks/${id}/claim`)).body;
}

describe('/mcp session caps (2 per key, 3 in total)', () => {
  let t: TestEngine;
  beforeAll(async () => {
    t = await startTestEngine(schema, { mcp: { maxSessionsPerKey: 2, maxSessions: 3 } });
    await t.http('POST', '/v1/models/projects', { id: 'p1', data: { name: 'Apollo' } });
    for (const id of ['t1', 't2']) await t.http('POST', '/v1/models/tasks', { id, data: { title: id, projectId: 'p1' } });
  });
  afterAll(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    await t.stop();
  });

  test("over the per-key cap the key's least-recently-used idle session is evicted: it gets 404, the others work", async () => {
    const a1 = await connect(t.url, t.key);
    const a2 = await connect(t.url, t.key);
    // a1 was used after a2 was opened: a2 is the least recently used.
    expect((await a1.call('ablo_schema')).isError).toBeFalsy();
    const a3 = await connect(t.url, t.key);

    // The evicted session is unknown now: 404 over raw HTTP and from the SDK client (which then re-initializes).
    expect(await pingStatus(t.url, t.key, a2)).toBe(404);
    const err = await a2.call('ablo_schema').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 404 });
    const raw = await post(t.url, t.key, a2.transport.sessionId);
    expect(await raw.json()).toMatchObject({ error: { type: 'not_found', code: 'mcp_session_not_found' } });

    expect((await a1.call('ablo_schema')).isError).toBeFalsy();
    expect((await a3.call('ablo_schema')).isError).toBeFalsy();
    // Re-initializing works (and evicts the next least-recently-used idle session, a1).
    const again = await connect(t.url, t.key);
    expect((await again.call('ablo_schema')).isError).toBeFalsy();
    expect(await pingStatus(t.url, t.key, a1)).toBe(404);
    expect(await pingStatus(t.url, t.key, a3)).toBe(200);
  });

  test('a session with a request in progress (a claim waiting its turn) is never evicted: 429 mcp_session_limit with Retry-After', async () => {
    const other = await newKey(t, 'holder');
    const holder = await connect(t.url, other.key);
    for (const id of ['t1', 't2']) expect((await holder.call('tasks_claim', { id, leaseSeconds: 600 })).isError).toBeFalsy();

    const a1 = await connect(t.url, t.key);
    const a2 = await connect(t.url, t.key);
    const w1 = a1.call('tasks_claim', { id: 't1' }).catch((e: unknown) => e as never);
    const w2 = a2.call('tasks_claim', { id: 't2' }).catch((e: unknown) => e as never);
    await eventually(async () => (await claimState(t, 't1')).queue.length === 1 && (await claimState(t, 't2')).queue.length === 1);

    // Both of the key's sessions are busy: a third is refused, nothing is evicted.
    const refused = await post(t.url, t.key);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('mcp-session-id')).toBeNull();
    const body = await refused.json();
    expect(body).toMatchObject({ error: { type: 'rate_limit', code: 'mcp_session_limit', limit: 2, scope: 'key' } });
    expect(body.error.message).toMatch(/2 MCP sessions/);
    // The SDK client sees the 429 too.
    await expect(httpSession(t.url, t.key)).rejects.toMatchObject({ code: 429 });

    // The waiting sessions are intact and get their turns.
    expect((await claimState(t, 't1')).queue).toHaveLength(1);
    for (const id of ['t1', 't2']) await holder.call('tasks_release', { id });
    expect(structured(await w1).claim.rowId).toBe('t1');
    expect(structured(await w2).claim.rowId).toBe('t2');
    expect(await pingStatus(t.url, t.key, a1)).toBe(200);
    expect(await pingStatus(t.url, t.key, a2)).toBe(200);

    // Idle again: a new session now evicts the least recently used one (a1, whose claim goes with it).
    await a2.call('ablo_schema');
    const a3 = await connect(t.url, t.key);
    expect(await pingStatus(t.url, t.key, a3)).toBe(200);
    expect(await pingStatus(t.url, t.key, a1)).toBe(404);
    await eventually(async () => (await claimState(t, 't1')).claim === null);
    expect((await claimState(t, 't2')).claim).toMatchObject({ holder: { kind: 'agent', id: 'mcp' } });
  });

  test('an idle session holding a claim is evicted only after the idle ones holding none', async () => {
    const k = await newKey(t, 'claims-first');
    const holder = await connect(t.url, k.key);
    expect((await holder.call('tasks_claim', { id: 't1', leaseSeconds: 600 })).isError).toBeFalsy();
    const plain = await connect(t.url, k.key);
    await plain.call('ablo_schema'); // the holder is now the least recently used
    const third = await connect(t.url, k.key);
    expect(await pingStatus(t.url, k.key, plain)).toBe(404);
    expect(await pingStatus(t.url, k.key, holder)).toBe(200);
    expect((await claimState(t, 't1')).claim).toMatchObject({ holder: { kind: 'agent', id: 'mcp' } });
    // With every idle session holding a claim, the least recently used one goes (and its claim with it).
    expect((await third.call('tasks_claim', { id: 't2', leaseSeconds: 600 })).isError).toBeFalsy();
    await connect(t.url, k.key);
    expect(await pingStatus(t.url, k.key, holder)).toBe(404);
    await eventually(async () => (await claimState(t, 't1')).claim === null);
    expect(await pingStatus(t.url, k.key, third)).toBe(200);
  });

  test('an idle session keeping a place in line (a claim that answered waiting) is evicted only after the idle ones keeping none', async () => {
    const patient = await startTestEngine(schema, { mcp: { maxSessionsPerKey: 2, maxSessions: 3, server: { claimPatienceSeconds: 0.3 } } });
    try {
      await patient.http('POST', '/v1/models/projects', { id: 'p1', data: { name: 'Apollo' } });
      await patient.http('POST', '/v1/models/tasks', { id: 't1', data: { title: 't1', projectId: 'p1' } });
      const held = await patient.http('POST', '/v1/models/tasks/t1/claim', { leaseSeconds: 600 });
      expect(held.status).toBe(200);
      const k = await newKey(patient, 'places-first');
      const waiter = await connect(patient.url, k.key);
      const answer = structured(await waiter.call('tasks_claim', { id: 't1' }));
      expect(answer).toMatchObject({ status: 'waiting', position: 1 });
      const plain = await connect(patient.url, k.key);
      await plain.call('ablo_schema'); // the waiter is now the least recently used
      await connect(patient.url, k.key);
      expect(await pingStatus(patient.url, k.key, plain)).toBe(404);
      expect(await pingStatus(patient.url, k.key, waiter)).toBe(200);
      expect((await claimState(patient, 't1')).queue).toHaveLength(1);
    } finally {
      for (const s of opened.splice(0)) await s.close().catch(() => undefined);
      await patient.stop();
    }
  });

  test('the total cap counts every key: over it the key evicts its own idle session, a key with none gets 429', async () => {
    const b = await newKey(t, 'b');
    const c = await newKey(t, 'c');
    const d = await newKey(t, 'd');
    const a1 = await connect(t.url, t.key);
    const b1 = await connect(t.url, b.key);
    const c1 = await connect(t.url, c.key);
    // 3 open (the cap): c's second session is within its own cap of 2 but over the total; c's idle c1 makes room.
    const c2 = await connect(t.url, c.key);
    expect(await pingStatus(t.url, c.key, c1)).toBe(404);
    expect(await pingStatus(t.url, c.key, c2)).toBe(200);
    expect(await pingStatus(t.url, t.key, a1)).toBe(200);
    expect(await pingStatus(t.url, b.key, b1)).toBe(200);

    // d has no session to give up: refused, other keys' sessions untouched.
    const refused = await post(t.url, d.key);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: { type: 'rate_limit', code: 'mcp_session_limit', limit: 3, scope: 'total' } });
    for (const [s, key] of [
      [a1, t.key],
      [b1, b.key],
      [c2, c.key],
    ] as const)
      expect(await pingStatus(t.url, key, s)).toBe(200);

    // Once a session ends (DELETE /mcp), d gets in.
    await b1.close();
    const d1 = await connect(t.url, d.key);
    expect((await d1.call('ablo_schema')).isError).toBeFalsy();
  });
});

describe('revokeKey', () => {
  let t: TestEngine;
  let route: McpRoute;
  let server: Server;
  let url: string;
  beforeAll(async () => {
    t = await startTestEngine(schema);
    await t.http('POST', '/v1/models/projects', { id: 'p1', data: { name: 'Apollo' } });
    await t.http('POST', '/v1/models/tasks', { id: 't1', data: { title: 't1', projectId: 'p1' } });
    // The route the engine mounts, on its own server here so the test holds the object it returns.
    route = createMcpRoute({ engineUrl: () => t.url, authenticate: (key) => new ApiKeyAuthenticator(t.engine.storage).authenticate(key), log: () => {} });
    server = createServer((req, res) => {
      void route.route(req, res, new URL(req.url ?? '/', 'http://localhost')).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    await route.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await t.stop();
  });

  test("closes every session opened with that key (releasing its claims) and only those", async () => {
    const keep = await newKey(t, 'keep');
    const gone = await newKey(t, 'gone');
    const g1 = await connect(url, gone.key);
    const g2 = await connect(url, gone.key);
    const k1 = await connect(url, keep.key);
    expect((await g1.call('tasks_claim', { id: 't1', leaseSeconds: 600 })).isError).toBeFalsy();

    expect(await route.revokeKey(gone.id)).toBe(2);
    expect(await pingStatus(url, gone.key, g1)).toBe(404);
    expect(await pingStatus(url, gone.key, g2)).toBe(404);
    expect(await pingStatus(url, keep.key, k1)).toBe(200);
    expect((await k1.call('ablo_schema')).isError).toBeFalsy();
    // The closed session's claim was released.
    await eventually(async () => (await claimState(t, 't1')).claim === null);

    // By the key's hash too (what sessions store); a key with no session closes nothing.
    const k2 = await connect(url, keep.key);
    expect(await route.revokeKey(hashApiKey(keep.key))).toBe(2);
    expect(await pingStatus(url, keep.key, k2)).toBe(404);
    expect(await route.revokeKey(gone.id)).toBe(0);
  });
});

describe('revoking a key on the engine (DELETE /v1/keys/:id)', () => {
  let t: TestEngine;
  beforeAll(async () => {
    // A total cap of 2 shows whether the revoked key's session still takes a place.
    t = await startTestEngine(schema, { mcp: { maxSessions: 2 } });
    await t.http('POST', '/v1/models/projects', { id: 'p1', data: { name: 'Apollo' } });
    await t.http('POST', '/v1/models/tasks', { id: 't1', data: { title: 't1', projectId: 'p1' } });
  });
  afterAll(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    await t.stop();
  });

  test("ends that key's /mcp sessions and releases their claims; other keys' sessions go on", async () => {
    const keep = await newKey(t, 'keep');
    const gone = await newKey(t, 'gone');
    const g1 = await connect(t.url, gone.key);
    const k1 = await connect(t.url, keep.key);
    expect((await g1.call('tasks_claim', { id: 't1', leaseSeconds: 600 })).isError).toBeFalsy();
    expect((await claimState(t, 't1')).claim).not.toBeNull();

    expect((await t.http('DELETE', `/v1/keys/${gone.id}`)).status).toBe(200);
    // A revoked key is refused before the session lookup (401); the session itself is gone too.
    await eventually(async () => (await pingStatus(t.url, gone.key, g1)) === 401);
    await eventually(async () => (await claimState(t, 't1')).claim === null);
    expect(await pingStatus(t.url, keep.key, k1)).toBe(200);
    expect((await k1.call('tasks_get', { id: 't1' })).isError).toBeFalsy();
    // The revoked session no longer counts: a second session of `keep` fits without evicting k1.
    const k2 = await connect(t.url, keep.key);
    expect(await pingStatus(t.url, keep.key, k1)).toBe(200);
    expect(await pingStatus(t.url, keep.key, k2)).toBe(200);
  });
});

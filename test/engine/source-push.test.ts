/**
 * The app → engine direction of Data Source mode, on a real engine: signed
 * pushes to `POST /v1/source/:name/events` (applied once per event id;
 * unsigned, wrongly signed and replayed pushes refused), and the engine's
 * end of the reverse channel (`/v1/source/connect`, subprotocol
 * `ablo.source.v1`) driven by a raw WebSocket connector that relays each
 * request to a real HTTP source.
 */
import { afterEach, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import type { SourcesConfig } from '../../src/engine/index.js';
import { SOURCE_SUBPROTOCOL } from '../../src/protocol/source.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { generateSigningSecret, signAbloSourceRequest } from '../../src/source/signature.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startMemorySource, type MemorySource } from '../helpers/memorySource.js';

const schema = defineSchema({ tasks: model({ title: z.string() }), notes: model({ text: z.string() }) });

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engineWith(sources: SourcesConfig): Promise<TestEngine> {
  const t = await startTestEngine(schema, { sources });
  cleanups.push(() => t.stop());
  return t;
}

async function push(t: TestEngine, name: string, body: unknown, secret: string, headers: Record<string, string> | null = null): Promise<{ status: number; body: any; sent: Record<string, string> }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const sent = headers ?? signAbloSourceRequest(text, secret);
  const res = await fetch(`${t.url}/v1/source/${name}/events`, { method: 'POST', headers: { ...sent, 'content-type': 'application/json' }, body: text });
  return { status: res.status, body: await res.json(), sent };
}

describe('POST /v1/source/:name/events', () => {
  test('pushed events are applied once per id and fan out; bad signatures, replays, unknown sources and bad bodies are refused', async () => {
    const src = await startMemorySource({ handlers: { events: false } });
    cleanups.push(() => src.close());
    const t = await engineWith({ app: { url: src.url, models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0 } });
    await t.engine.sources!.ready();
    const w = await t.socket();
    await w.hello({ apiKey: t.key, groups: ['default'] });

    const event = { id: 'ev_1', model: 'tasks', entityId: 'task_sql', type: 'create', data: { title: 'made in SQL' } };
    const first = await push(t, 'app', { events: [event] }, src.secret);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ applied: 1, skipped: 0 });
    const frame = await w.next((f) => f.type === 'changes');
    expect(frame.changes[0]).toMatchObject({ id: 'task_sql', action: 'create', participant: { kind: 'system', id: 'source:app' } });

    // The same event again (signed anew): skipped.
    expect((await push(t, 'app', { events: [event] }, src.secret)).body).toEqual({ applied: 0, skipped: 1 });
    // The exact same request again: a replay.
    const replayed = await push(t, 'app', { events: [event] }, src.secret, first.sent);
    expect(replayed.status).toBe(401);
    expect(replayed.body.error).toMatchObject({ code: 'invalid_signature', reason: 'replayed' });
    // Another secret, no signature, an old timestamp.
    const wrong = await push(t, 'app', { events: [] }, generateSigningSecret());
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.reason).toBe('bad_signature');
    const unsigned = await push(t, 'app', { events: [] }, src.secret, { 'x-nothing': '1' });
    expect(unsigned.body.error).toMatchObject({ code: 'invalid_signature', reason: 'missing_header' });
    const old = await push(t, 'app', '{}', src.secret, signAbloSourceRequest('{}', src.secret, { timestamp: Math.floor(Date.now() / 1000) - 600 }));
    expect(old.body.error.reason).toBe('timestamp_too_old');
    // Unknown source; a body of the wrong shape.
    expect((await push(t, 'nope', { events: [] }, src.secret)).status).toBe(404);
    const bad = await push(t, 'app', { events: [{ id: 'x' }] }, src.secret);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    // An event whose row does not fit the schema is skipped, the rest applied.
    const mixed = await push(t, 'app', { events: [{ ...event, id: 'ev_2', entityId: 'task_bad', data: { title: 42 } }, { ...event, id: 'ev_3', entityId: 'task_ok' }] }, src.secret);
    expect(mixed.body).toEqual({ applied: 1, skipped: 1 });
    expect((await t.http('GET', '/v1/models/tasks/task_bad')).status).toBe(404);
  });

  test('an empty push pulls the source’s events now', async () => {
    const src = await startMemorySource();
    cleanups.push(() => src.close());
    const t = await engineWith({ app: { url: src.url, models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0 } });
    await t.engine.sources!.ready();
    src.external('tasks', 'task_out', { title: 'from the outbox' });
    expect((await push(t, 'app', '', src.secret)).status).toBe(200);
    for (let i = 0; i < 100 && (await t.http('GET', '/v1/models/tasks/task_out')).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await t.http('GET', '/v1/models/tasks/task_out')).body.title).toBe('from the outbox');
  });
});

/** A connector made of a raw socket: each request frame is relayed to `src` over HTTP, its answer sent back. */
function relay(t: TestEngine, src: MemorySource, key: string, query = '?source=app'): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/source/connect${query}`, SOURCE_SUBPROTOCOL, { headers: { authorization: `Bearer ${key}` } });
    cleanups.push(() => ws.close());
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'ready') resolve(ws);
      if (frame.type !== 'request') return;
      void fetch(src.url, { method: 'POST', headers: frame.headers, body: frame.body }).then(async (res) => {
        ws.send(JSON.stringify({ type: 'response', id: frame.id, status: res.status, body: await res.text() }));
      });
    });
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

describe('reverse channel: /v1/source/connect', () => {
  test('commits and reads travel down a connector’s socket; without one, source_unavailable', async () => {
    const src = await startMemorySource();
    cleanups.push(() => src.close());
    const t = await engineWith({ app: { models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0, timeoutMs: 500, attempts: 1 } });
    const down = await t.http('POST', '/v1/models/tasks', { data: { title: 'nobody home' } });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('source_unavailable');

    src.table('tasks').set('task_pre', { id: 'task_pre', title: 'listed' });
    await relay(t, src, t.key);
    await t.engine.sources!.ready();
    expect((await t.http('GET', '/v1/models/tasks/task_pre')).body.title).toBe('listed');
    const created = await t.http('POST', '/v1/models/tasks', { data: { title: 'through the tunnel' } });
    expect(created.status).toBe(201);
    expect(src.table('tasks').get(created.body.id)!.title).toBe('through the tunnel');
    expect((await t.http('GET', '/v1/sources')).body.sources.app).toMatchObject({ transport: 'reverse_channel', connected: true, ready: true });
  });

  test('a connector needs a secret key and a source that takes connectors; revoking its key closes it', async () => {
    const src = await startMemorySource();
    cleanups.push(() => src.close());
    const t = await engineWith({ app: { models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0 }, web: { url: src.url, models: ['notes'], signingSecret: src.secret } });
    await expect(relay(t, src, 'sk_test_' + 'x'.repeat(32))).rejects.toMatchObject({ status: 401 });
    await expect(relay(t, src, t.key, '?source=web')).rejects.toMatchObject({ status: 404 });
    const restricted = await t.http('POST', '/v1/keys', { name: 'r', restricted: true, syncGroups: ['*'], operations: ['read'] });
    expect(restricted.status).toBe(201);
    await expect(relay(t, src, restricted.body.key)).rejects.toMatchObject({ status: 403 });

    const made = await t.http('POST', '/v1/keys', { name: 'connector' });
    const ws = await relay(t, src, made.body.key);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    expect((await t.http('DELETE', `/v1/keys/${made.body.id}`)).status).toBe(200);
    expect(await closed).toBe(4003);
  });
});
